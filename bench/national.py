"""`python -m bench.national`: the national targets, run apart from `make bench` because of time.

    python -m bench.national                       # first 10,000,000 national events (~2.5 h)
    python -m bench.national --events 1000000      # a reduced slice (~20 min), extrapolated
    python -m bench.national --events 0            # the whole national scale (~15 M events)
    python -m bench.national --keep-stream DIR     # publish into DIR/nats and keep it there
    python -m bench.national --stream DIR          # rebuild from a stream kept that way

Publishing 10 M events takes longer than the rebuild it feeds, and the stream does not change
with the projections' code, so it can be published once (`--keep-stream`) and rebuilt from as
often as the projections change (`--stream`): the published figures are then those recorded when
it was published (`DIR/published.json`); `--events` may ask for its first N events only.

Targets: (d) every projection rebuilt from ~10 million events in under 10 minutes; (f) each
projection process under 2 GiB resident. Steps, each a section of the results
(`bench/RESULTS-national.md` unless `--out`):

1. the raw-bus yardstick on the first 200,000 events (its own server), for the ratios;
2. publish: the population streamed from the generator (constant memory: one partnership of
   ~20,000 plans at a time) into a fresh nats-server with `publish_async`, window 4,000;
3. rebuild: every projection in the catalogue at once, one process reading the stream and
   a store worker process per projection (`bench.rebuild_rate`), from sequence 1 to the last,
   with wall time, events/s, VmHWM and CPU per event; with `--apart`, then again with one
   reading process per projection.

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
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nats

from bench.partnership import FINDINGS, measure_yardstick
from bench.projection_bus import ProjectionBus
from bench.rebuild_rate import (
    NATIONAL_TARGET_EVENTS,
    rebuild_all,
    rebuild_figures,
    rebuild_together,
)
from bench.report import BenchRun, Figure, Section, measured, print_section, render
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM
from sendx.demo.population import SCALES, generate_wire

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


STREAM_RECORD = "published.json"


def record_publication(directory: Path, figures: list[Figure]) -> list[Figure]:
    """Keep what publishing measured beside the kept stream, for later `--stream` runs."""
    values = {f.name: f.value for f in figures}
    (directory / STREAM_RECORD).write_text(json.dumps({
        "published": values["events published"],
        "seconds": values["events published"] / values["generate + publish"],
        "bytes": values["server store on disk"] * GIB,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }))
    return figures


def reused_stream(bus: ProjectionBus, directory: Path, scale: str, seed: int, events: int
                  ) -> list[Figure]:
    """The figures of a stream published earlier into `directory`, checked against the server."""
    record = json.loads((directory / STREAM_RECORD).read_text())

    async def last_seq() -> int:
        nc = await nats.connect(bus.url)
        try:
            return int((await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq)
        finally:
            await nc.close()

    held = asyncio.run(last_seq())
    if held != record["published"] or (events and events > held):
        raise RuntimeError(f"{directory} holds {held:,} events, its record says "
                           f"{record['published']:,}, and {events:,} were asked for")
    bus.published = events or held
    return [
        Figure("events published", bus.published, "events",
               note=f"scale {scale}, seed {seed}, the first {bus.published:,} of {held:,} "
                    f"published {record['finished']} into {directory} (`--keep-stream`), reused"),
        Figure("generate + publish", record["published"] / record["seconds"], "events/s",
               versus="publish", note=f"{record['seconds'] / 60:.1f} min when published "
                                      "(nice 19, beside other work: not this run's yardstick)"),
        Figure("server store on disk", record["bytes"] / GIB, "GiB",
               note=f"all {held:,} events: {record['bytes'] / max(held, 1):,.0f} B/event"),
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
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep-stream", type=Path, default=None, metavar="DIR",
                      help="publish into DIR/nats and keep it (with DIR/published.json)")
    kept.add_argument("--stream", type=Path, default=None, metavar="DIR",
                      help="rebuild from a stream kept by --keep-stream instead of publishing")
    parser.add_argument("--apart", action="store_true",
                        help="also rebuild with one process per projection, each reading the "
                             "stream, as `make bench` does (doubles the time)")
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
            kept_dir = args.stream or args.keep_stream
            # restoring a kept 7 GB stream takes the server a minute or two before it listens
            server = NatsServer(store_dir=(kept_dir or run.workdir) / "nats").start(timeout=900)
            run.cleanup.callback(server.stop)
            bus = ProjectionBus(server, run.workdir)
            if args.stream is not None:
                section("Publish the population (kept from an earlier run)", lambda: reused_stream(
                    bus, args.stream, args.scale, args.seed, args.events))
            else:
                section("Publish the population", lambda: publish_population(
                    bus, args.scale, args.seed, args.events or None))
                if args.keep_stream is not None:
                    record_publication(args.keep_stream, sections[-1].figures)
            section("(d, f) Rebuild of every projection, and peak memory", lambda: rebuild_figures(
                rebuild_together(bus.url, bus.published, run.workdir / "rebuilt-together",
                                 server_pid=server.pid),
                *([rebuild_all(bus.url, bus.published, run.workdir / "rebuilt",
                               server_pid=server.pid)] if args.apart else [])))
    args.out.write_text(render(run, sections, command.strip(), FINDINGS.read_text()))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
