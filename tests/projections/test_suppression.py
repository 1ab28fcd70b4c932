"""Suppression of small numbers: below 5 is "<5", and no hidden count can be subtracted out."""

from __future__ import annotations

from projections.suppression import HIDDEN, SMALL, Sum, percentage, suppress


def test_four_is_hidden_and_five_is_shown() -> None:
    # given counts either side of the threshold (the boundary: 5 is the first number shown)
    published = suppress({"a": 4, "b": 5, "c": 1, "d": 0})
    # then 4 and 1 are "<5", 5 is shown as it is, and 0 (nobody to protect) is shown
    assert published == {"a": SMALL, "b": 5, "c": SMALL, "d": 0}


def test_a_zero_beside_a_total_hides_nothing() -> None:
    published = suppress({"a": 0, "b": 12, "all": 12}, [Sum("all", ("a", "b"))])
    assert published == {"a": 0, "b": 12, "all": 12}


def test_a_lone_hidden_part_of_a_total_hides_the_next_smallest_part_too() -> None:
    # given three LAs (3, 12, 20) and their partnership total 35, all published together:
    # hiding only the 3 would let anyone compute it as 35 - 12 - 20
    counts = {"856": 3, "855": 12, "857": 20, "all": 35}
    published = suppress(counts, [Sum("all", ("856", "855", "857"))])
    # then the 3 is "<5" and the next smallest, 12, is hidden as "c"; the rest are shown
    assert published == {"856": SMALL, "855": HIDDEN, "857": 20, "all": 35}


def test_two_small_parts_already_protect_each_other() -> None:
    published = suppress({"a": 2, "b": 3, "c": 40, "all": 45}, [Sum("all", ("a", "b", "c"))])
    assert published == {"a": SMALL, "b": SMALL, "c": 40, "all": 45}


def test_secondary_suppression_carries_across_linked_sums() -> None:
    # given issued = exceptions + counted for two LAs, and the partnership sums of both:
    #   LA x: 10 = 2 + 8      LA y: 30 = 6 + 24      partnership: 40 = 8 + 32
    counts = {
        ("x", "issued"): 10,
        ("x", "exceptions"): 2,
        ("x", "counted"): 8,
        ("y", "issued"): 30,
        ("y", "exceptions"): 6,
        ("y", "counted"): 24,
        ("p", "issued"): 40,
        ("p", "exceptions"): 8,
        ("p", "counted"): 32,
    }
    sums = [Sum((area, "issued"), ((area, "exceptions"), (area, "counted"))) for area in "xyp"] + [
        Sum(("p", measure), (("x", measure), ("y", measure)))
        for measure in ("issued", "exceptions", "counted")
    ]
    published = suppress(counts, sums)
    # then x's 2 exceptions are "<5"; x's counted (8) is hidden (10 - 8 = 2); y's exceptions (6)
    # are hidden (8 - 6 = 2 across LAs), and so y's counted (24), since 30 - 24 = 6
    assert published[("x", "exceptions")] == SMALL
    assert published[("x", "counted")] == HIDDEN
    assert published[("y", "exceptions")] == HIDDEN
    assert published[("y", "counted")] == HIDDEN
    # and every sum now has zero or at least two hidden members
    for relation in sums:
        members = (relation.total, *relation.parts)
        assert sum(published[m] in (SMALL, HIDDEN) for m in members) != 1


def test_a_percentage_of_a_hidden_count_is_not_shown() -> None:
    assert percentage(SMALL, 10) is None
    assert percentage(6, HIDDEN) is None
    assert percentage(6, 0) is None
    assert percentage(6, 8) == 75.0
