"""The one story generator at a larger scale than the demo's: nothing is dated on or after the
day the stories end, and every organisation's extract imports without a refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bench.la_store import LA_856, la_extract_rows
from contracts import decode
from contracts.topology import OrgKind
from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from sendx.demo.children import children, story_today
from sendx.demo.extracts import rows_of
from sendx.demo.population import generate_wire
from sendx.demo.stories import DEMO_CAST, kind_of, story_of
from services.endpoint.ingest import CommandCatalogue, Ingest
from services.icb.ingest import ICB_CATALOGUE
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.provider.ingest import PROVIDER_CATALOGUE

CATALOGUES: dict[OrgKind, CommandCatalogue] = {
    OrgKind.LA: LA_CATALOGUE, OrgKind.ICB: ICB_CATALOGUE, OrgKind.PROVIDER: PROVIDER_CATALOGUE,
}
MANY = 2_000
"""Children: enough that stories run into the last weeks before the end (the relay bench's
`small` scale, which once produced `commissioned_on 2027-01-31 is in the future`)."""


def test_no_happening_is_on_or_after_the_day_the_stories_end() -> None:
    # given stories that end on a day of our choosing, and on the default day
    for today in (date(2025, 3, 1), story_today()):
        # when 2,000 children's stories are told
        stories = [story_of(child, DEMO_CAST, today) for child in children(MANY)]
        days = [h.on for story in stories for h in story.happenings]
        # then everything in them happened before that day, the latest in its last week
        assert [on for on in days if on >= today] == []
        assert (today - max(days)).days <= 7


def test_every_organisations_rows_for_many_children_parse_without_a_refusal() -> None:
    today = story_today()
    refused = []
    for child in children(MANY):
        story = story_of(child, DEMO_CAST, today)
        for org in DEMO_CAST.codes:
            catalogue = CATALOGUES[kind_of(DEMO_CAST, org)]
            for row in rows_of(story, org):
                try:
                    catalogue.parse_row(dict(row), f"{row['record_id']}: ")
                except ValueError as refusal:
                    refused.append(str(refusal))
    assert refused == []


def test_an_las_extract_for_many_children_imports_without_a_refusal(tmp_path: Path) -> None:
    # given LA 856's share of 2,000 children, as the relay bench fills its store with
    rows = la_extract_rows(LA_856, MANY)
    leicester = organisation("856")
    settings = Settings(data_dir=tmp_path, store="sqlite", partnership_key="k" * 32,
                        cipher_key=None)
    app = LaApplication(leicester, store_env(leicester, settings))
    try:
        # when they are imported through the service's import path
        report = Ingest(app, LA_CATALOGUE).import_rows({"rows": rows})
    finally:
        app.factory.close()
    # then every row is accepted
    assert report["rejected"] == 0, [r for r in report["rows"] if not r["accepted"]][:3]
    assert report["accepted"] == len(rows) > 10_000


def test_the_population_ends_before_a_given_day() -> None:
    today = date(2024, 6, 30)
    cut = datetime(today.year, today.month, today.day, tzinfo=UTC)
    events = [decode(wire.data) for wire in generate_wire("small", 1, today=today)]
    assert len(events) > 10_000
    assert all(e.occurred_at <= e.recorded_at < cut for e in events)


def test_no_plan_ends_before_something_recorded_about_it_at_bench_scale() -> None:
    """The LA refuses a cessation dated before the plan's last review, decision or amendment;
    at 10,000 children (the bench's relay store) the stories drew such ends until the end
    followed the latest of them, not the last review whose outcome was decided."""
    from sendx.demo.children import children
    from sendx.demo.extracts import la_rows

    dated: dict[str, list[date]] = {}
    ceased: dict[str, date] = {}
    for child in children(10_000):
        for row in la_rows(child):
            plan = row.get("plan_id")
            if not plan or row["command"] == "ehc.issue_plan":
                continue
            on = row.get("ceased_on")
            if on is not None:
                ceased[plan] = on
            else:
                dated.setdefault(plan, []).extend(
                    v for k, v in row.items() if k.endswith("_on") and isinstance(v, date))
    early = {p: (on, max(dated[p])) for p, on in ceased.items()
             if p in dated and on < max(dated[p])}
    assert len(ceased) > 100
    assert early == {}
