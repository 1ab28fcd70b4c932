"""`python -m bench.partnership`: the benchmarks at partnership scale, written to bench/RESULTS.md.

The run is a list of measurements (`MEASUREMENTS`), each `(title, function(BenchRun) -> figures)`.
The population is generated once and shared; the yardstick runs first among the bus measurements
so that later ones print as ratios of it. To add one (relay rate, projection ingest, rebuild,
latency, memory), write `def measure_x(run: BenchRun) -> list[Figure]` in its own module under
`bench/` and append it here, e.g.

    Figure("projection ingest", events / seconds, "events/s", versus="consume")
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.population import SCALES, generate_wire
from bench.report import BenchRun, Figure, Measurement, Section, print_section, render
from bench.yardstick import run_yardstick
from contracts import decode

RESULTS = Path(__file__).with_name("RESULTS.md")
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
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partnership", description=__doc__)
    parser.add_argument("--scale", default="partnership", choices=sorted(SCALES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where to write the results (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    command = "python -m bench.partnership " + " ".join(argv if argv is not None else sys.argv[1:])
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="sendx-bench-") as tmp:
        run = BenchRun(scale=args.scale, seed=args.seed, workdir=Path(tmp))
        for title, measurement in MEASUREMENTS:
            started = time.perf_counter()
            figures = measurement(run)
            section = Section(title, figures, time.perf_counter() - started)
            print_section(section, run.yardstick)
            sections.append(section)
    args.out.write_text(render(run, sections, command.strip()))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
