"""`python -m bench.national`: the national targets, run apart from `make bench` because of time.

    python -m bench.national                       # first 10,000,000 national events (~2.5 h)
    python -m bench.national --events 1000000      # a reduced slice (~20 min), extrapolated
    python -m bench.national --events 0            # the whole national scale (~15 M events)

Targets: (d) every projection rebuilt from ~10 million events in under 10 minutes; (f) each
projection process under 2 GiB resident. Steps, each a section of the results
(`bench/RESULTS-national.md` unless `--out`):

1. the raw-bus yardstick on the first 200,000 events (its own server), for the ratios;
2. publish: the population streamed from the generator (constant memory: one partnership of
   ~20,000 plans at a time) into a fresh nats-server with `publish_async`, window 4,000;
3. rebuild: every projection in the catalogue at once, each in its own process
   (`bench.rebuild_rate`), from sequence 1 to the last, with wall time, events/s and VmHWM.

Expected duration on the 2-core development machine: publishing ~13,000 events/s including
generation (~13 min for 10 M); the rebuild at the rate `make bench` measures (~1,000-1,500
events/s per projection with both running) ~2-3 hours for 10 M. Disk: ~700 B per event in the
stream plus ~1.3 KB per event per projection store (~7 GB + ~26 GB for 10 M); `--workdir` picks
the volume. A slice's wall-time figures are scaled to 10 M and labelled as extrapolated.

Why 10 M and not the whole scale: `SCALES["national"]` is 42 partnerships x 16,400 plan stories
(~640,000 plans issued), and seven years of their history is ~15 M events (~22 per child with a
plan, plus the children without one); the 10 M target is met or missed on the first 10 M of them
(28 whole partnerships), rather than by thinning the history per child.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.partnership import FINDINGS, measure_yardstick
from bench.population import SCALES, generate_wire
from bench.projection_bus import ProjectionBus
from bench.rebuild_rate import NATIONAL_TARGET_EVENTS, rebuild_all, rebuild_figures
from bench.report import BenchRun, Figure, Section, measured, print_section, render
from services.bus.nats_server import NatsServer

RESULTS = Path(__file__).with_name("RESULTS-national.md")
YARDSTICK_EVENTS = 200_000
GIB = 2**30


def publish_population(bus: ProjectionBus, scale: str, seed: int, events: int | None
                       ) -> list[Figure]:
    stream = generate_wire(scale, seed)
    if events:
        stream = itertools.islice(stream, events)
    started = time.perf_counter()
    published = bus.publish(stream)
    seconds = time.perf_counter() - started
    stream_bytes = sum(p.stat().st_size for p in bus.server.store_dir.rglob("*") if p.is_file())
    return [
        Figure("events published", published, "events",
               note=f"scale {scale}, seed {seed}" + (f", first {events:,}" if events else "")),
        Figure("generate + publish", published / seconds, "events/s", versus="publish",
               note=f"{seconds / 60:.1f} min, one process, window 4,000"),
        Figure("server store on disk", stream_bytes / GIB, "GiB",
               note=f"{stream_bytes / max(published, 1):,.0f} B/event"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.national", description=__doc__)
    parser.add_argument("--scale", default="national", choices=sorted(SCALES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=NATIONAL_TARGET_EVENTS,
                        help="publish and rebuild the first N events (0: all of the scale)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the server and stores live (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = "python -m bench.national " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="sendx-national-", dir=args.workdir) as tmp:
        run = BenchRun(scale=args.scale, seed=args.seed, workdir=Path(tmp))
        sections: list[Section] = []

        def section(title: str, measure: Callable[[], list[Figure]]) -> None:
            result = measured(title, measure)
            print_section(result, run.yardstick)
            sections.append(result)

        with run.cleanup:
            run.messages = list(itertools.islice(generate_wire(args.scale, args.seed),
                                                 min(args.events or YARDSTICK_EVENTS,
                                                     YARDSTICK_EVENTS)))
            section(f"Raw bus yardstick on the first {len(run.messages):,} events",
                    lambda: measure_yardstick(run))
            run.messages = []
            server = NatsServer(store_dir=run.workdir / "nats").start()
            run.cleanup.callback(server.stop)
            bus = ProjectionBus(server, run.workdir)
            section("Publish the population", lambda: publish_population(
                bus, args.scale, args.seed, args.events or None))
            section("(d, f) Rebuild of every projection, and peak memory", lambda: rebuild_figures(
                rebuild_all(bus.url, bus.published, run.workdir / "rebuilt")))
    args.out.write_text(render(run, sections, command.strip(), FINDINGS.read_text()))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
