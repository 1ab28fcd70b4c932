"""Reading a partner's extract file into numbered rows: CSV, Excel (.xlsx) or JSON lines.

Row numbers are what the partner sees: for CSV and Excel, row 1 is the first data row under the
header; for JSON lines, the line number. A row that cannot be read comes back as an error string
naming it, and the rest of the file is still read. A file that cannot be an extract at all
(empty, no header, no `record_id`/`command` columns, not UTF-8) raises `ExtractError` naming the
file before any row is sent.

CSV dialect: the delimiter is detected from the header line, which must name the `record_id`
and `command` columns: comma, semicolon or tab (what spreadsheet exports produce in different
locales) are accepted; anything else is refused naming the header it found. A quote that is
opened and never closed is reported with the line it was opened on, instead of the rest of the
file being read as one cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import orjson

Row = tuple[int, dict[str, Any] | str]
REQUIRED_COLUMNS = ("record_id", "command")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
SUFFIXES = (".csv", ".xlsx", ".jsonl", ".ndjson")


class ExtractError(ValueError):
    """The file as a whole cannot be read as an extract; the message names the file and why."""


def read_extract(path: Path) -> Iterator[Row]:
    """(row number, row dict or error string) for each row of a `.csv`, `.xlsx` or `.jsonl`."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ExtractError(f"{path}: extracts are .csv, .xlsx or .jsonl files")
    if suffix == ".xlsx":
        return _xlsx_rows(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{path}: extracts must be UTF-8 text ({exc})") from None
    if not text.strip():
        raise ExtractError(f"{path}: the file is empty; an extract needs a header and rows")
    if suffix == ".csv":
        return _csv_rows(path, text)
    return _jsonl_rows(text)


def _jsonl_rows(text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, f"row {number}: not valid JSON: {exc}"
            continue
        if isinstance(row, dict):
            yield number, row
        else:
            yield number, f"row {number}: must be a JSON object of column -> value"


def delimiter_of(path: Path, header: str) -> str:
    """The delimiter that splits `header` into cells including every required column."""
    for delimiter in DELIMITERS:
        cells = {c.strip().strip('"') for c in header.split(delimiter)}
        if all(column in cells for column in REQUIRED_COLUMNS):
            return delimiter
    shown = header if len(header) <= 120 else header[:117] + "..."
    raise ExtractError(
        f"{path}: line 1 must be a header naming the columns {', '.join(REQUIRED_COLUMNS)}, "
        f"separated by commas, semicolons or tabs; found {shown!r}"
    )


def _csv_rows(path: Path, text: str) -> Iterator[Row]:
    """Rows of a CSV file, its header checked first; a row the csv module cannot read is
    reported and reading goes on."""
    lines = text.splitlines()
    delimiter = delimiter_of(path, lines[0])
    if not any(line.strip() for line in lines[1:]):
        raise ExtractError(f"{path}: only a header, no rows to import")
    return _csv_records(path, text, lines, delimiter)


def _csv_records(path: Path, text: str, lines: list[str], delimiter: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        width = len(reader.fieldnames or ())  # reads the header line
    except csv.Error as exc:
        raise ExtractError(f"{path}: line 1, the header, cannot be read as CSV ({exc}): a "
                           "quote opened in it is not closed on that line; close it") from None
    number = 0
    while True:
        first_line = reader.reader.line_num + 1
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                yield number, _unclosed(number, first_line, lines)
                return
            if (last := reader.reader.line_num) > first_line:
                yield number, (f"row {number}: the quote opened on line {first_line} is not "
                               f"closed where its cell ends, so lines up to {last} "
                               f"were read as one cell and refused ({exc}); close the quote")
                continue
            yield number, f"row {number} (line {first_line}): cannot be read as CSV: {exc}"
            continue
        if None in row:
            yield number, (f"row {number} (line {first_line}): more cells than the header "
                           f"has columns ({width}, separated by {DELIMITERS[delimiter]}s)")
        elif (swallowed := _swallowed_line(row, width, delimiter)) is not None:
            yield number, (f"row {number}: the quote opened on line {first_line} closes only on "
                           f"line {first_line + swallowed}, so following lines were read as "
                           "part of one cell; close the quote")
        else:
            yield number, row


def _unclosed(number: int, first_line: int, lines: list[str]) -> str:
    """The error for a quote still open at the end of the file, naming the line it opened on."""
    for offset, line in enumerate(lines[first_line - 1:]):
        if line.count('"') % 2:
            return (f"row {number}: the quote opened on line {first_line + offset} is never "
                    "closed, so the rest of the file could not be read; close the quote")
    return f"row {number} (line {first_line}): a quote is never closed; close the quote"


def _swallowed_line(row: dict[str, Any], width: int, delimiter: str) -> int | None:
    """How many lines into a multi-line cell a whole row seems to start: the mark of a quote
    left open that the next quote in the file closed. None for an ordinary multi-line cell."""
    for value in row.values():
        if isinstance(value, str) and "\n" in value:
            for offset, line in enumerate(value.splitlines()[1:], start=1):
                if width > 2 and line.count(delimiter) >= width - 1:
                    return offset
    return None


def _xlsx_rows(path: Path) -> Iterator[Row]:
    """Rows of the workbook's first sheet (header in row 1), each cell as the text a CSV
    export would hold: dates as YYYY-MM-DD, whole numbers without `.0`. Read whole, so the
    header is checked and the file closed before any row is sent."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ExtractError(f"{path}: not an Excel .xlsx workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        title, cells = sheet.title, list(sheet.iter_rows(values_only=True))
    finally:
        workbook.close()
    names = [_cell_text(c).strip() for c in (cells[0] if cells else ())]
    if not any(names):
        raise ExtractError(f"{path}: sheet {title!r} is empty; an extract needs a header and rows")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ExtractError(f"{path}: row 1 of sheet {title!r} must name the columns "
                           f"{', '.join(REQUIRED_COLUMNS)}; missing {', '.join(missing)}")
    rows: list[Row] = []
    for number, values in enumerate(cells[1:], start=1):
        texts = [_cell_text(v).strip() for v in values]
        if not any(texts):
            continue
        if any(t for i, t in enumerate(texts) if i >= len(names) or not names[i]):
            rows.append((number, f"row {number}: more cells than the header has columns"))
        else:
            rows.append((number, {n: t for n, t in zip(names, texts, strict=False) if n}))
    if not rows:
        raise ExtractError(f"{path}: sheet {title!r} has only a header, no rows to import")
    return iter(rows)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
