"""What a benchmark run is made of: measurements that return figures, and the RESULTS.md they make.

A measurement is a function `(BenchRun) -> list[Figure]`. The run carries the population
(generated once, shared) and, once the yardstick has run, its baseline; a figure that names a
baseline rate (`versus="publish"` or `"consume"`) is printed with its ratio to it, because on a
noisy shared machine only ratios measured in the same run are comparable.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.yardstick import Yardstick
from runtime.bus.nats_server import nats_server_binary
from sendx.demo.population import WireEvent

if TYPE_CHECKING:
    from bench.projection_bus import ProjectionBus


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    versus: str | None = None
    """A yardstick rate ("publish" or "consume") to print this figure as a ratio of."""
    note: str = ""
    target: str | None = None
    """The target this figure is judged by and the verdict, e.g. "p99 < 100 ms: NOT met"."""


def verdict(target: str, met: bool) -> str:
    return f"{target}: {'met' if met else 'NOT met'}"


@dataclass
class BenchRun:
    scale: str
    seed: int
    workdir: Path
    messages: list[WireEvent] = field(default_factory=list)
    yardstick: Yardstick | None = None
    projection_events: int | None = None
    """How many of the population's events the projection benches apply (None: per scale)."""
    projection_bus: ProjectionBus | None = None
    """The server the projection benches share (`bench.projection_bus`), once started."""
    cleanup: ExitStack = field(default_factory=ExitStack)
    """Closed when the run ends: stops the servers measurements left running for later ones."""


Measurement = Callable[[BenchRun], list[Figure]]


@dataclass(frozen=True)
class Section:
    title: str
    figures: list[Figure]
    seconds: float
    load: float | None = None
    """The 1-minute load average when it ended: other work on a shared machine skews figures."""

    @property
    def timing(self) -> str:
        load = f"; load average {self.load:.1f} on {os.cpu_count()} cores" if self.load else ""
        return f"{self.seconds:.1f} s{load}"


def measured(title: str, measurement: Callable[[], list[Figure]]) -> Section:
    """Run one measurement, timed, noting the machine's load when it ends."""
    started = time.perf_counter()
    figures = measurement()
    return Section(title, figures, time.perf_counter() - started, os.getloadavg()[0])


def machine() -> dict[str, str]:
    """Cores, memory, CPU model and the versions that shape the figures."""
    cpu = "unknown"
    memory = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
        kib = next(int(line.split()[1]) for line in open("/proc/meminfo")
                   if line.startswith("MemTotal"))
        memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    server = subprocess.run([str(nats_server_binary()), "--version"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return {
        "cores": str(os.cpu_count()),
        "memory": memory,
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "nats-server": server.removeprefix("nats-server: "),
        "nats-py": importlib.metadata.version("nats-py"),
        "eventsourcing": importlib.metadata.version("eventsourcing"),
        "orjson": importlib.metadata.version("orjson"),
        "pydantic": importlib.metadata.version("pydantic"),
    }


def format_value(figure: Figure, yardstick: Yardstick | None) -> tuple[str, str]:
    value = f"{figure.value:,.0f}" if abs(figure.value) >= 100 else f"{figure.value:,.3g}"
    ratio = ""
    if figure.versus and yardstick is not None:
        ratio = f"{figure.value / yardstick.rate(figure.versus):.2f}x raw {figure.versus}"
    return f"{value} {figure.unit}", ratio


def targets_table(sections: list[Section], yardstick: Yardstick | None) -> list[str]:
    rows = [(s, f) for s in sections for f in s.figures if f.target]
    if not rows:
        return []
    lines = ["", "## Targets", "", "| measurement | figure | value | target: verdict |",
             "|---|---|---:|---|"]
    for section, figure in rows:
        value, ratio = format_value(figure, yardstick)
        shown = f"{value} ({ratio})" if ratio else value
        lines.append(f"| {section.title} | {figure.name} | {shown} | {figure.target} |")
    return lines


def render(run: BenchRun, sections: list[Section], command: str,
           findings: str | None = None) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"(scale `{run.scale}`, seed {run.seed}). Figures from one run on a shared machine: "
        "compare ratios against the raw-bus yardstick of the same run, not absolute rates.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine().items()),
        *targets_table(sections, run.yardstick),
    ]
    for section in sections:
        lines += ["", f"## {section.title}", "", f"({section.timing})", "",
                  "| figure | value | vs yardstick | note |", "|---|---:|---:|---|"]
        for figure in section.figures:
            value, ratio = format_value(figure, run.yardstick)
            note = "; ".join(part for part in (figure.note, figure.target) if part)
            lines.append(f"| {figure.name} | {value} | {ratio} | {note} |")
    if findings:
        lines += ["", findings.strip()]
    return "\n".join(lines) + "\n"


def print_section(section: Section, yardstick: Yardstick | None) -> None:
    print(f"\n{section.title} ({section.timing})", flush=True)
    for figure in section.figures:
        value, ratio = format_value(figure, yardstick)
        note = "; ".join(part for part in (figure.note, figure.target) if part)
        print(f"  {figure.name:<34} {value:>22}  {ratio:<18} {note}")
