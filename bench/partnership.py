"""`python -m bench.partnership` (`make bench`): the benchmarks at partnership scale, written to
bench/RESULTS.md in about 8-10 minutes on the 2-core development machine.

The run is a list of measurements (`MEASUREMENTS`), each `(title, function(BenchRun) -> figures)`,
in its own module under `bench/`. The population is generated once and shared; the yardstick
runs first among the bus measurements so that later ones print as ratios of it (`versus=
"publish"` or `"consume"`), and a figure with a `target` also goes into the Targets table:

    (b) relay_rate         an LA store drained by the relay, vs raw publish
    (g) bulk_import        the ingest path vs eventsourcing's batched save
    (h) fsync              sync_interval always vs the default
    (c) projection_ingest  each projection's live runner catching up, vs raw consume (>= 0.7x)
    (e) latency            publish-to-visible at 1,000 events/s (p99 < 100 ms)
    (d, f) rebuild_rate    every projection rebuilt at once; peak RSS (< 2 GiB)

The projection benches apply the first 100,000 events at this scale (`--projection-events`,
`bench/projection_bus.py`); the full-scale rebuild is `python -m bench.national`. To add a
measurement, write `def measure_x(run: BenchRun) -> list[Figure]` in its own module and append
it here, e.g.

    Figure("projection ingest", events / seconds, "events/s", versus="consume")
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.bulk_import import measure_bulk_import
from bench.fsync import measure_fsync
from bench.latency import measure_latency
from bench.projection_ingest import measure_projection_ingest
from bench.rebuild_rate import measure_rebuild
from bench.relay_rate import measure_relay
from bench.report import (
    BenchRun,
    Figure,
    Measurement,
    Section,
    measured,
    print_section,
    render,
)
from bench.yardstick import run_yardstick
from contracts import decode
from sendx.demo.population import SCALES, generate_wire

RESULTS = Path(__file__).with_name("RESULTS.md")
FINDINGS = Path(__file__).with_name("findings.md")
"""Hand-written: the profiled hot spots behind the figures, appended to every results file."""
DECODE_SAMPLE = 20_000


def measure_population(run: BenchRun) -> list[Figure]:
    """Generate the population (fast path) and time `contracts.decode` on a sample of it."""
    started = time.perf_counter()
    run.messages = list(generate_wire(run.scale, run.seed))
    seconds = time.perf_counter() - started
    sample = run.messages[:DECODE_SAMPLE]
    started = time.perf_counter()
    for message in sample:
        decode(message.data, subject=message.subject)
    decode_seconds = time.perf_counter() - started
    people = len({m.subject.rsplit(".", 1)[1] for m in run.messages})
    return [
        Figure("events", len(run.messages), "events", note=f"{people:,} people"),
        Figure("plan stories", SCALES[run.scale].plans, "children",
               note="requests that lead to a plan (some still open at the data cut)"),
        Figure("generation (fast path)", len(run.messages) / seconds, "events/s",
               versus="publish", note=f"{seconds:.1f} s"),
        Figure("contracts.decode", len(sample) / decode_seconds, "events/s", versus="consume",
               note=f"first {len(sample):,} events, validated and subject-checked"),
    ]


def measure_yardstick(run: BenchRun) -> list[Figure]:
    run.yardstick = y = run_yardstick(run.messages, workdir=run.workdir)
    return [
        Figure("raw publish_async", y.publish_rate, "events/s",
               note=f"window {y.window}, Nats-Msg-Id, {y.publish_seconds:.1f} s"),
        Figure("raw pull consume + ack", y.consume_rate, "events/s",
               note=f"durable pull, fetch {y.batch}, ack each, {y.consume_seconds:.1f} s"),
        Figure("stream bytes per event", y.bytes_per_event, "B",
               note=f"{y.stream_bytes / 2**20:,.0f} MiB / {y.stream_messages:,} messages; "
                    f"JSON body {y.body_bytes_per_event:,.0f} B"),
    ]


MEASUREMENTS: list[tuple[str, Measurement]] = [
    ("Population", measure_population),
    ("Raw bus yardstick (nats-py, no project code)", measure_yardstick),
    ("(b) Relay: an LA store drained to JetStream", measure_relay),
    ("(g) Bulk import: ingest path vs eventsourcing's batched save", measure_bulk_import),
    ("(h) fsync: sync_interval always vs the default", measure_fsync),
    ("(c) Projection ingest: live runner catching up", measure_projection_ingest),
    ("(e) Publish-to-visible latency at 1,000 events/s", measure_latency),
    ("(d, f) Rebuild of every projection, and peak memory", measure_rebuild),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partnership", description=__doc__)
    parser.add_argument("--scale", default="partnership", choices=sorted(SCALES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where to write the results (default bench/RESULTS.md)")
    parser.add_argument("--projection-events", type=int, default=None,
                        help="events the projection benches apply (default: per scale, see "
                             "bench/projection_bus.py)")
    args = parser.parse_args(argv)
    command = "python -m bench.partnership " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="sendx-bench-") as tmp:
        run = BenchRun(scale=args.scale, seed=args.seed, workdir=Path(tmp),
                       projection_events=args.projection_events)
        with run.cleanup:
            sections = run_measurements(run)
    args.out.write_text(render(run, sections, command.strip(), FINDINGS.read_text()))
    print(f"\nwrote {args.out}")
    return 0


def run_measurements(run: BenchRun) -> list[Section]:
    sections: list[Section] = []
    for title, measurement in MEASUREMENTS:
        section = measured(title, lambda m=measurement: m(run))
        print_section(section, run.yardstick)
        sections.append(section)
    return sections


if __name__ == "__main__":
    raise SystemExit(main())
