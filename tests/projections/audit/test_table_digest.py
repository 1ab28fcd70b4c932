"""Table digests: equal rows give equal digests whatever their order; differences name rows."""

from __future__ import annotations

from projections.audit.digest import Contents, Table, differences, table_digest

COLUMNS = ("person_key", "plan_id", "primary_need")


def contents(*rows: tuple) -> Contents:
    return Contents(7, {"ehc_plans": Table("ehc_plans", COLUMNS, rows)})


def test_the_digest_does_not_depend_on_row_order() -> None:
    # given the same rows in two orders
    rows = [("p_a", "P1", "ASD"), ("p_b", "P2", "SLCN"), ("p_c", "P3", None)]

    # then their digests are equal, and differ from a changed row's
    assert table_digest(rows) == table_digest(list(reversed(rows)))
    assert table_digest(rows) != table_digest([*rows[:2], ("p_c", "P3", "ASD")])


def test_a_repeated_row_changes_the_digest() -> None:
    # a multiset, not a set: a row stored twice is a difference
    assert table_digest([("p_a", "P1", "ASD")]) != table_digest([("p_a", "P1", "ASD")] * 2)


def test_differences_name_the_rows_only_one_side_has() -> None:
    # given a live table with one row edited and one extra row
    live = contents(("p_a", "P1", "ASD"), ("p_b", "P2", "EDITED"), ("p_x", "P9", "ASD"))
    rebuilt = contents(("p_b", "P2", "SLCN"), ("p_a", "P1", "ASD"))

    # when they are compared
    (difference,) = differences(live, rebuilt)

    # then the table and exactly the differing rows are named, as columns and values
    assert difference.table == "ehc_plans"
    assert difference.only_live == [
        {"person_key": "p_b", "plan_id": "P2", "primary_need": "EDITED"},
        {"person_key": "p_x", "plan_id": "P9", "primary_need": "ASD"},
    ]
    assert difference.only_rebuilt == [
        {"person_key": "p_b", "plan_id": "P2", "primary_need": "SLCN"}
    ]
    assert (difference.live_rows, difference.rebuilt_rows) == (3, 2)


def test_equal_tables_have_no_differences() -> None:
    rows = (("p_a", "P1", "ASD"), ("p_b", "P2", "SLCN"))
    assert differences(contents(*rows), contents(*reversed(rows))) == []
