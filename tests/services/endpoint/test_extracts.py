"""Reading extracts as partner staff produce them: other delimiters, stray quotes, Excel,
dates typed the British way, empty files. Real files written by the test."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from services.endpoint.extracts import ExtractError, read_extract
from services.endpoint.ingest import RowRejected
from services.la.ingest import LA_CATALOGUE

HEADER = ["record_id", "command", "nhs_number", "given_name", "family_name", "born_on"]
GOOD = ["r1", "person.register", "9434765919", "Amelia", "Okonkwo", "2011-04-17"]
SECOND = ["r2", "person.register", "9434765870", "Ben", "Adeyemi", "2012-09-03"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_comma_semicolon_and_tab_files_are_read_alike(tmp_path: Path, delimiter: str) -> None:
    path = write(tmp_path / "extract.csv",
                 "\n".join(delimiter.join(r) for r in (HEADER, GOOD, SECOND)) + "\n")
    rows = list(read_extract(path))
    assert [n for n, _ in rows] == [1, 2]
    assert rows[0][1] == dict(zip(HEADER, GOOD, strict=True))


def test_a_header_without_the_required_columns_is_refused_naming_what_was_found(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "extract.csv", "|".join(HEADER) + "\n" + "|".join(GOOD) + "\n")
    with pytest.raises(ExtractError) as refused:
        list(read_extract(path))
    message = str(refused.value)
    assert str(path) in message
    assert "must be a header naming the columns record_id, command" in message
    assert "separated by commas, semicolons or tabs" in message
    assert "'record_id|command|nhs_number" in message


def test_a_quote_never_closed_is_reported_with_its_line(tmp_path: Path) -> None:
    # given a family name with an opening quote and no closing one, on line 3
    broken = ["r2", "person.register", "9434765870", "Ben", '"Adeyemi', "2012-09-03"]
    path = write(tmp_path / "extract.csv",
                 "\n".join(",".join(r) for r in (HEADER, GOOD, broken, GOOD)) + "\n")
    rows = list(read_extract(path))
    # then the rows before it are read and the broken one is named with its line
    assert rows[0] == (1, dict(zip(HEADER, GOOD, strict=True)))
    assert rows[1] == (2, "row 2: the quote opened on line 3 is never closed, so the rest of "
                          "the file could not be read; close the quote")
    assert len(rows) == 2


def test_a_quote_left_open_mid_file_is_reported_with_its_line(tmp_path: Path) -> None:
    # given an unclosed quote on line 2 that a quote on line 4 happens to end, badly
    lines = [
        ",".join(HEADER),
        'r1,person.register,9434765919,Amelia,"Okonkwo,2011-04-17',
        ",".join(SECOND),
        'r3,person.register,9434765919,"Amelia",Okonkwo,2011-04-17',
        ",".join(SECOND),
    ]
    rows = list(read_extract(write(tmp_path / "extract.csv", "\n".join(lines) + "\n")))
    # then the row is refused naming where the quote opened, not "unknown command ...",
    # and the lines after the damage are read again
    assert rows[0][0] == 1
    assert str(rows[0][1]).startswith(
        "row 1: the quote opened on line 2 is not closed where its cell ends, so lines up "
        "to 4 were read as one cell and refused"
    )
    assert rows[-1][1] == dict(zip(HEADER, SECOND, strict=True))


def test_a_quote_closed_rows_later_does_not_swallow_them_silently(tmp_path: Path) -> None:
    # given an unclosed quote on line 2 that a stray quote before a comma on line 4 closes
    lines = [
        ",".join(HEADER),
        'r1,person.register,9434765919,Amelia,"Okonkwo,2011-04-17',
        ",".join(SECOND),
        'r3,person.register,9434765919,Amelia,Okonkwo",2011-04-17',
    ]
    rows = list(read_extract(write(tmp_path / "extract.csv", "\n".join(lines) + "\n")))
    # then the row is refused naming where the quote opened and where it closed
    assert rows == [(1, "row 1: the quote opened on line 2 closes only on line 3, so "
                        "following lines were read as part of one cell; close the quote")]


def test_an_ordinary_multi_line_cell_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "extract.csv",
                 ",".join(HEADER) + '\nr1,person.register,9434765919,"Amelia\nJane",Okonkwo,'
                 "2011-04-17\n")
    assert list(read_extract(path))[0][1]["given_name"] == "Amelia\nJane"


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("\n\n", "the file is empty"),
    (",".join(HEADER) + "\n", "only a header, no rows to import"),
])
def test_an_empty_extract_is_an_error(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "extract.csv", text)
    with pytest.raises(ExtractError, match=expected):
        list(read_extract(path))


def test_an_empty_jsonl_extract_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="the file is empty"):
        list(read_extract(write(tmp_path / "extract.jsonl", "\n")))


def test_an_excel_workbook_is_read_as_its_csv_export_would_be(tmp_path: Path) -> None:
    # given a workbook as staff save it: a date cell, a number cell, an empty row, a time
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["r1", "person.register", 9434765919, "Amelia", "Okonkwo", date(2011, 4, 17)])
    sheet.append([None] * len(HEADER))
    sheet.append(["r2", "person.register", "9434765870", "Ben", "Adeyemi",
                  datetime(2012, 9, 3, 10, 30)])
    sheet.append(["r3", "person.register", "9434765919", "A", "B", "2011-04-17", "stray"])
    path = tmp_path / "extract.xlsx"
    workbook.save(path)
    rows = list(read_extract(path))
    # then numbers lose no digits, midnight dates are ISO dates, blank rows are skipped
    assert rows[0] == (1, dict(zip(HEADER, GOOD, strict=True)))
    assert rows[1][0] == 3 and rows[1][1]["born_on"] == "2012-09-03T10:30:00"
    assert rows[2] == (4, "row 4: more cells than the header has columns")


def test_a_workbook_without_rows_or_columns_is_refused(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.append(["record_id", "nhs_number"])
    path = tmp_path / "extract.xlsx"
    workbook.save(path)
    with pytest.raises(ExtractError, match="must name the columns record_id, command; "
                                           "missing command"):
        list(read_extract(path))
    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.save(path)
    with pytest.raises(ExtractError, match="only a header, no rows to import"):
        list(read_extract(path))


def test_a_file_named_xlsx_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "extract.xlsx", ",".join(HEADER) + "\n")
    with pytest.raises(ExtractError, match="not an Excel .xlsx workbook"):
        list(read_extract(path))


@pytest.mark.parametrize("typed", ["05/01/2026", "5 Jan 2026", "20260105"])
def test_a_date_in_another_format_is_refused_with_the_format_and_the_value(typed: str) -> None:
    with pytest.raises(RowRejected) as refused:
        LA_CATALOGUE.parse("ehc.decide_assessment",
                           {"case_id": "856-C-1", "decided_on": typed, "decision": "assess"})
    assert str(refused.value).startswith(
        f"field decided_on: expected a date as YYYY-MM-DD (e.g. 2026-01-05 for 5 January "
        f"2026), got {typed!r}"
    )
