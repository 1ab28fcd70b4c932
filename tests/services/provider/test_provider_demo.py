"""The providers' demo extracts: deterministic, about the LAs' children, accepted whole."""

from __future__ import annotations

from sendx.demo.children import children
from sendx.demo.extracts import extract, la_rows
from services.endpoint.ingest import Ingest


def test_every_school_and_ap_demo_row_is_accepted(provider: Ingest) -> None:
    rows = extract("120001", children(80)) + extract("AP001", children(80))
    report = provider.import_rows({"rows": rows})
    assert report["rejected"] == 0, [r for r in report["rows"] if not r["accepted"]][:3]


def test_the_ap_starts_the_placements_the_las_commissioned_from_it() -> None:
    kids = children()
    commissioned = {
        r["placement_id"]
        for kid in kids
        for r in la_rows(kid)
        if r["command"] == "ap.commission_placement" and r["provider"] == "AP001"
    }
    started = {
        r["placement_id"]: r["commissioned_by"]
        for r in extract("AP001", kids)
        if r["command"] == "ap.start_placement"
    }
    assert commissioned and commissioned <= set(started)
    assert all(started[p] for p in commissioned)
