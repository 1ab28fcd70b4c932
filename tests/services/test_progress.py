"""Progress of long work: a bar on a terminal, plain lines in a log, nothing from library code
run outside a command."""

from __future__ import annotations

import asyncio
import io

import pytest

from runtime.progress import Display, mode_for, shown, task


def test_plain_lines_say_how_far_how_fast_and_how_long_still() -> None:
    out = io.StringIO()
    display = Display("import", "plain", out, every=0)
    tick = display.task("extract.csv to organisation 856", 400, unit="rows")
    tick(100)
    tick(400)
    lines = out.getvalue().splitlines()
    assert lines[0] == ("import: extract.csv to organisation 856 0/400 rows (0%), - rows/s, "
                        "time left unknown")
    assert lines[1].startswith("import: extract.csv to organisation 856 100/400 rows (25%), ")
    assert lines[1].endswith(" left") and " rows/s, " in lines[1]
    assert lines[2].startswith("import: extract.csv to organisation 856 400/400 rows (100%), ")
    assert lines[2].endswith(", 0 s left")
    assert len(lines) == 3


def test_a_terminal_gets_a_bar_with_count_rate_and_time_left() -> None:
    out = io.StringIO()
    display = Display("audit chain", "bar", out)
    tick = display.task("reading the stream", 1000)
    tick(1000)
    display.close()
    text = out.getvalue()
    assert "audit chain: reading the stream" in text
    assert "1000/1000" in text and "100%" in text and "events/s" in text


def test_work_outside_a_command_reports_to_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    tick = task("rebuilding", 10)
    tick(10)
    assert capsys.readouterr() == ("", "")


def test_the_display_reaches_work_run_by_asyncio_and_in_threads() -> None:
    out = io.StringIO()

    async def work() -> None:
        task("in the loop", 2, unit="batches")(2)
        await asyncio.to_thread(lambda: task("in a thread", 3, unit="files")(3))

    with shown("rebuild", out) as display:
        assert display.mode == "plain"  # a StringIO is no terminal
        asyncio.run(work())
    text = out.getvalue()
    assert "rebuild: in the loop 2/2 batches (100%)" in text
    assert "rebuild: in a thread 3/3 files (100%)" in text


def test_the_mode_can_be_chosen_and_a_wrong_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENDX_PROGRESS", "off")
    assert mode_for(io.StringIO()) == "off"
    monkeypatch.setenv("SENDX_PROGRESS", "loud")
    with pytest.raises(ValueError, match="SENDX_PROGRESS='loud': must be bar, plain or off"):
        mode_for(io.StringIO())
