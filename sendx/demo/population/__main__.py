"""`python -m sendx.demo.population [SCALE] [SEED]`: the event mix of a population, by type."""

from __future__ import annotations

import sys

from sendx.demo.population import event_mix

if __name__ == "__main__":
    mix = event_mix(sys.argv[1] if len(sys.argv) > 1 else "partnership",
                    int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    for event_type, count in sorted(mix.items()):
        print(f"    {event_type:<52} {count:>9,}")
    print(f"    {'total':<52} {sum(mix.values()):>9,}")
