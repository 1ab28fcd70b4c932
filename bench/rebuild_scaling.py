"""`python -m bench.rebuild_scaling`: does a rebuild's cost per event stay flat as history grows?

    python -m bench.rebuild_scaling                          # partnership vs 2 M national events
    python -m bench.rebuild_scaling --national-events 500000 --partnership-events 200000

The national target is a rate: a rebuild of the national stream at >= 0.9x the rate of the
partnership's (cost per event independent of the population), <= 60 µs of CPU per event per read
model across every process, < 2 GiB per process. So both streams are published into servers of
their own and rebuilt the way `sendx rebuild --projection dataset --projection tracker` does it
(one reading process, a store worker per read model, fresh stores: each person folded once,
`projections.reading.rebuild`), one after the other in the same run, and the figures are read as
ratios between the two.

Per stream: the rate (first read to last commit), the CPU of every process (the reader, each
store worker, nats-server) per event and per read model, the wall time of each phase (reading
and spilling by person; folding and loading; building the indexes) and each process's peak
resident memory (VmHWM). The people figure is the number of distinct person keys rebuilt.
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
import sys
import tempfile
from pathlib import Path

from bench.partnership import FINDINGS
from bench.projection_bus import ProjectionBus
from bench.rebuild_rate import NATIONAL_TARGET_EVENTS, RSS_TARGET, Rebuild, rebuild_together
from bench.report import BenchRun, Figure, Section, measured, print_section, render, verdict
from runtime.bus.nats_server import NatsServer
from sendx.demo.population import generate_wire

MIB = 2**20
CPU_TARGET_US = 60.0
RATE_RATIO_TARGET = 0.9
WALL_TARGET_MINUTES = 10


def rebuilt(scale: str, seed: int, events: int | None, workdir: Path) -> tuple[Rebuild, int]:
    """Publish the first `events` of `scale` into a server of its own and rebuild from it."""
    server = NatsServer(store_dir=workdir / "nats").start(timeout=900)
    try:
        bus = ProjectionBus(server, workdir)
        stream = generate_wire(scale, seed)
        bus.publish(itertools.islice(stream, events) if events else stream)
        result = rebuild_together(bus.url, bus.published, workdir / "rebuilt",
                                  server_pid=server.pid)
    finally:
        server.stop()
    with sqlite3.connect(workdir / "rebuilt" / "projection-dataset.sqlite") as db:
        (people,) = db.execute("SELECT COUNT(DISTINCT person_key) FROM person_events").fetchone()
    return result, int(people)


def stream_figures(label: str, rebuild: Rebuild, people: int) -> list[Figure]:
    (result,) = rebuild.results
    models = result.projection.split(",")
    events = rebuild.events
    shared = result.cpu_parts.get("reader", 0.0) + rebuild.server_cpu_seconds
    figures = [
        Figure(f"{label}: events, people", events, "events", note=f"{people:,} people"),
        Figure(f"{label}: rebuild rate", result.rate, "events/s",
               note=f"{' + '.join(models)}, {events:,} events in {result.seconds:.1f} s"),
        Figure(f"{label}: CPU per event, every process", rebuild.cpu_per_event * 1e6, "µs",
               note="reader, store workers, nats-server"),
    ]
    for model in models:
        own = result.cpu_parts.get(model, 0.0)
        per_model = (own + shared / len(models)) / events * 1e6
        figures.append(Figure(
            f"{label}: CPU per event, {model} read model", per_model, "µs",
            note=f"its worker {own / events * 1e6:.1f} µs + its share of the reader and "
                 f"nats-server {shared / len(models) / events * 1e6:.1f} µs",
            target=verdict(f"<= {CPU_TARGET_US:g} µs", per_model <= CPU_TARGET_US)))
    figures += [
        Figure(f"{label}: {part} CPU per event", seconds / events * 1e6, "µs",
               note="reading, keys, spilling by person" if part == "reader"
               else "decoding, folding each person once, bulk inserts, indexes")
        for part, seconds in result.cpu_parts.items()
    ]
    figures += phase_figures(label, result.cpu_parts, result.rebuild_cpu_phases, events)
    figures.append(Figure(f"{label}: nats-server CPU per event",
                          rebuild.server_cpu_seconds / events * 1e6, "µs",
                          note="answering the batched direct gets"))
    figures += [
        Figure(f"{label}: phase {phase}", seconds, "s wall",
               note=f"{seconds / events * 1e6:.1f} µs per event of wall time")
        for phase, seconds in result.phases.items()
    ]
    figures += [
        Figure(f"{label}: {part} peak RSS", peak / MIB, "MiB",
               target=verdict("< 2 GiB", peak < RSS_TARGET))
        for part, peak in result.peak_rss_parts.items()
    ]
    return figures


PHASE_NOTES = {
    "read": "the partition file read back and grouped by person",
    "decode": "contracts.decode, the ownership and reference rules, filter, first copy",
    "fold": "each person's history sorted and folded, fact rows made",
    "encode": "each stored body encoded (person_events)",
    "write": "the bulk inserts",
}


def phase_figures(label: str, cpu_parts: dict[str, float],
                  cpu_phases: dict[str, dict[str, float]], events: int) -> list[Figure]:
    """Each store worker's CPU per event by phase (`folding.CPU_PHASES`): the floor a miss is
    measured against. `other` is the worker's CPU outside them (index build, commits, calls)."""
    figures = []
    for model, phases in cpu_phases.items():
        figures += [
            Figure(f"{label}: {model} CPU per event, {phase}", seconds / events * 1e6, "µs",
                   note=PHASE_NOTES.get(phase, ""))
            for phase, seconds in phases.items()
        ]
        if model in cpu_parts:
            other = cpu_parts[model] - sum(phases.values())
            figures.append(Figure(f"{label}: {model} CPU per event, other", other / events * 1e6,
                                  "µs", note="index build, commits, the worker's calls"))
    return figures


def comparison(partnership: Rebuild, national: Rebuild) -> list[Figure]:
    ratio = national.rate / partnership.rate
    minutes = NATIONAL_TARGET_EVENTS / national.rate / 60
    return [
        Figure("national rate / partnership rate", ratio, "x",
               note=f"{national.rate:,.0f} / {partnership.rate:,.0f} events/s",
               target=verdict(f">= {RATE_RATIO_TARGET}x", ratio >= RATE_RATIO_TARGET)),
        Figure("national CPU per event / partnership CPU per event",
               national.cpu_per_event / partnership.cpu_per_event, "x",
               note="every process; 1.0 = cost per event independent of the population"),
        Figure("10 million national events at this rate (extrapolated)", minutes, "min",
               note=f"{national.rate:,.0f} events/s on this machine, assumed constant",
               target=verdict(f"< {WALL_TARGET_MINUTES} min", minutes < WALL_TARGET_MINUTES)),
        Figure("10 million events: CPU time needed",
               national.cpu_per_event * NATIONAL_TARGET_EVENTS / 60, "core-min",
               note=f"{national.cpu_per_event * NATIONAL_TARGET_EVENTS / 600:.1f} cores busy "
                    f"for {WALL_TARGET_MINUTES} min"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild_scaling",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partnership-events", type=int, default=0,
                        help="the partnership's first N events (0: all of it, ~470,000)")
    parser.add_argument("--national-events", type=int, default=2_000_000,
                        help="the national stream's first N events")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None,
                        help="also write a results file here (with bench/findings.md)")
    args = parser.parse_args(argv)
    command = "python -m bench.rebuild_scaling " + " ".join(
        argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="sendx-rebuild-scaling-", dir=args.workdir) as tmp:
        run = BenchRun(scale="partnership + national", seed=args.seed, workdir=Path(tmp))
        found: dict[str, tuple[Rebuild, int]] = {}
        sections: list[Section] = []
        for label, scale, events in (("partnership", "partnership", args.partnership_events),
                                     ("national", "national", args.national_events)):
            def measure(label: str = label, scale: str = scale, events: int = events
                        ) -> list[Figure]:
                found[label] = rebuilt(scale, args.seed, events, Path(tmp) / label)
                return stream_figures(label, *found[label])

            section = measured(f"Rebuild of the {label} stream, each person folded once", measure)
            print_section(section, None)
            sections.append(section)
        section = measured("National against partnership, same run", lambda: comparison(
            found["partnership"][0], found["national"][0]))
        print_section(section, None)
        sections.append(section)
    if args.out is not None:
        args.out.write_text(render(run, sections, command.strip(), FINDINGS.read_text()))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
