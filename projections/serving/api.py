"""The query API over the shared dataset (FastAPI; OpenAPI docs at /docs).

Handlers are thin: parse the period, call one query, return its figures. Query errors become
HTTP errors whose `detail` says what to change: a malformed month or range is 422, an LA that
is not in the partnership is 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from projections.access.policy import ACCESS_KEY, PERSON_LEVEL, PUBLIC, AccessControl, AccessRoute
from projections.dataset import quality
from projections.dataset.areas import Partnership, UnknownArea
from projections.dataset.cumulative import period_figures
from projections.dataset.data_date import latest_data_date
from projections.dataset.indicators import (
    BACKLOGS,
    INDICATORS,
    MONTHLY,
    Backlog,
    IndicatorDefinition,
    Monthly,
    active_plans,
)
from projections.dataset.indicators.active_plans import DiscrepancyList
from projections.dataset.indicators.annual_health_checks import HealthChecksOnADay
from projections.dataset.indicators.dynamic_support_register import SupportRegister
from projections.dataset.indicators.transition_tracker import TrackerSummary
from projections.dataset.periods import BadPeriod, Month, months_between
from projections.dataset.publishing import DatasetReadModel
from projections.dataset.reference import (
    ENGLAND_FILE,
    England,
    ReferenceFigure,
    load_reference,
)
from projections.dataset.targets import DEFAULT_FILE, Targets, checks, figure_fields, load_targets
from projections.reading.partitions import Progress, ReadModelProgress
from projections.serving.api_contract import (
    BAD_RANGE,
    UNKNOWN_LA,
    AsOfParam,
    DayParam,
    FromParam,
    LaParam,
    MonthParam,
    ToParam,
    day_of,
    install_contract,
)
from projections.serving.deliveries import JetStream, install_delivery_routes
from projections.serving.live import LiveFeed
from projections.tracker import queries as tracker_queries
from projections.tracker.milestones import MILESTONE_IDS
from projections.tracker.models import TrackerRows
from projections.tracker.queries import (
    PAGE_SIZE_MAX,
    RAGS,
    BadFilter,
    Page,
    TrackerFilter,
    TrackerReadModel,
)
from projections.web import install_dashboard
from projections.web.docs import install_docs
from runtime.settings import settings

DEFAULT_MONTHS = 12
Rag = StrEnum("Rag", {rag: rag for rag in RAGS})
MilestoneId = StrEnum("MilestoneId", {m: m for m in MILESTONE_IDS})

StreamLastSequence = Callable[[], Awaitable[int | None]]
"""Returns SEND_EVENTS' last sequence, or None when the bus cannot be reached."""


class PositionedReadModel(DatasetReadModel, Protocol):
    def position(self) -> int: ...


class Health(BaseModel):
    status: str = "ok"


class DataDate(BaseModel):
    latest_data_date: date | None = Field(
        description="The latest day anything in the dataset happened on (not after today); "
        "null while the dataset is empty.")
    today: date
    default_as_of: date = Field(
        description="What every figure is taken as of when no date or month is given: the "
        "latest data date, or today while there is none.")


class PartitionPosition(BaseModel):
    partition: str = Field(description="`p<index>-of-<count>`: one projector worker's people.")
    applied_sequence: int = Field(
        description="Every SEND_EVENTS message of this partition up to this sequence has been "
        "applied: its worker's committed position (up to just before its next message)."
    )
    pending_from: int | None = Field(
        description="The sequence from which it may still owe messages (`applied_sequence` + "
        "1); null when its worker's consumer has nothing pending or the bus cannot be reached."
    )
    lag: int | None = Field(
        description="Its messages not yet applied (counted by its worker's consumer); null "
        "when unknown (no bus, or its worker has never run)."
    )


class Position(BaseModel):
    projection: str = "dataset"
    applied_sequence: int = Field(
        description="Every SEND_EVENTS sequence up to this one has been applied (with "
        "partitioned projectors: by every partition's worker)."
    )
    stream_last_sequence: int | None = Field(
        description="Last sequence in SEND_EVENTS; null when the bus cannot be reached."
    )
    lag: int | None = Field(
        description="Messages published but not yet applied (partitioned: the partitions' lags "
        "added up, null if any is unknown)."
    )
    partitions: list[PartitionPosition] = Field(
        default_factory=list,
        description="Each partition's worker, when the read model is kept by partitioned "
        "projectors (`sendx projector --partition i --partitions n`); empty otherwise.",
    )


def position_of(progress: Progress, stream_last: int | None) -> Position:
    """Pure: what /api/position says about a read model's progress."""
    if progress.partitions:
        lag = progress.lag
    else:
        lag = None if stream_last is None else max(stream_last - progress.position, 0)
    return Position(
        applied_sequence=progress.position,
        stream_last_sequence=stream_last,
        lag=lag,
        partitions=[
            PartitionPosition(partition=p.partition.name, applied_sequence=p.applied,
                              pending_from=p.pending_from, lag=p.lag)
            for p in progress.partitions
        ],
    )


_MONTHLY_ERRORS = (
    " Per LA and for the partnership; counts of 1 to 4 are shown as \"<5\" and counts hidden so "
    "that those cannot be derived as \"c\" (see the definition). 404 for an LA outside the "
    "partnership, 422 for a malformed month, 400 for a range that cannot be served."
)


def default_port() -> int:
    """`$PORT` (runtime.settings)."""
    return settings().api_port


def default_host() -> str:
    """`$SENDX_API_HOST`: loopback unless a container or host sets `0.0.0.0` (deploy/)."""
    return settings().api_host


def data_date(read_model: DatasetReadModel, today: date) -> DataDate:
    """The latest data date, and the default "as of" it gives."""
    with read_model.snapshot() as snapshot:
        latest = latest_data_date(snapshot, today)
    return DataDate(latest_data_date=latest, today=today, default_as_of=latest or today)


def period(first: str | None, last: str | None, default_day: date) -> list[Month]:
    """The months from `first` to `last` (YYYY-MM, checked by the parameters' pattern); without
    `to`, up to the month of `default_day` (the latest data date)."""
    end = Month.parse(last, name="'to'") if last else Month.of(default_day)
    start = Month.parse(first, name="'from'") if first else end.plus(1 - DEFAULT_MONTHS)
    return months_between(start, end)


def create_app(
    read_model: PositionedReadModel,
    *,
    partnership: Partnership | None = None,
    tracker: TrackerReadModel | None = None,
    stream_last_sequence: StreamLastSequence | None = None,
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    access: AccessControl | None = None,
    live: LiveFeed | None = None,
    targets: Targets | None = None,
    deliveries_bus: JetStream | None = None,
) -> FastAPI:
    """The API over the dataset (and the tracker, if given); `stream_last_sequence` lets
    /api/position report the lag. `targets` default to the partnership's file
    (`deploy/partnership/targets.toml`), checked here: a bad file stops the start.
    `deliveries_bus`: the delivery routes' own login (`deliveries.CourierLogin`); None, the
    live feed's connection."""
    area = partnership or Partnership.of()
    goals = default_targets() if targets is None else targets
    england = load_reference(ENGLAND_FILE, known_figures())
    app = FastAPI(
        title="send-exchange shared dataset",
        description=(
            "Indicators of the local area partnership's shared SEND dataset, built from the "
            "events every partner publishes. Each indicator is returned with its definition."
        ),
        version="1",
        dependencies=[Depends(access)] if access else None,
        docs_url=None, redoc_url=None,
    )
    install_contract(app, access_key=ACCESS_KEY)
    install_docs(app)
    # Access (projections.access.policy): a token for every endpoint not marked PUBLIC, and every
    # answer that carries person keys filtered to what the reader may see, and logged.
    app.router.route_class = AccessRoute
    app.state.access = access

    @app.exception_handler(BadPeriod)
    async def bad_period(_: Request, exc: BadPeriod) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(BadFilter)
    async def bad_filter(_: Request, exc: BadFilter) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(UnknownArea)
    async def unknown_area(_: Request, exc: UnknownArea) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.get("/healthz", summary="Liveness", description="Answers 200 while the API is up.",
             openapi_extra=PUBLIC)
    def healthz() -> Health:
        return Health()

    feed = live or LiveFeed(
        ("dataset", "tracker", "alerts") if tracker is not None else ("dataset", "alerts"))
    dataset_progress = ReadModelProgress(read_model, "dataset", feed.jetstream)
    feed.follow("dataset", dataset_progress)
    if tracker is not None and hasattr(tracker, "snapshot"):
        feed.follow("tracker", ReadModelProgress(tracker, "tracker", feed.jetstream))

    @app.get(
        "/api/position",
        summary="How far the read model has got",
        description=(
            "The stream sequence up to which the dataset has applied everything, the stream's "
            "last, and the lag; with partitioned projectors, each partition's worker too."
        ),
    )
    async def position() -> Position:
        progress = await dataset_progress()
        last = await stream_last_sequence() if stream_last_sequence else None
        return position_of(progress, last)

    def as_of() -> date:
        return data_date(read_model, today()).default_as_of

    @app.get(
        "/api/data-date",
        summary="The latest data date, the default 'as of'",
        description="The last day anything in the dataset happened on: every figure asked for "
        "without a date or month is taken as of it (its month), so a dataset that ends before "
        "today does not show empty months as if nothing had happened.",
    )
    def latest() -> DataDate:
        return data_date(read_model, today())

    @app.get(
        "/api/indicators",
        summary="The indicators and their definitions",
        description="Every indicator this API serves, with its written definition and source.",
    )
    def indicators() -> list[IndicatorDefinition]:
        return list(INDICATORS)

    for spec in MONTHLY:
        app.add_api_route(
            f"/api/indicators/{spec.indicator.id}", _monthly(spec, read_model, area, as_of, goals,
                                                             england),
            methods=["GET"], response_model=spec.model, summary=spec.summary,
            description=f"{spec.indicator.title}, by month.{_MONTHLY_ERRORS}",
            responses={**UNKNOWN_LA, **BAD_RANGE},
        )

    @app.get(
        "/api/reference/england",
        summary="England's published figures, the reference beside the partnership's",
        description="Each national figure with the indicator and figure it compares with, its "
        "period, source, and whether its definition matches the indicator's (`matches`; "
        "where not, `note` says how it differs).",
    )
    def england_reference() -> list[ReferenceFigure]:
        return list(england.figures)

    @app.get(
        "/api/backlogs",
        summary="The backlogs and their definitions",
        description="Overdue work and what is still open, each served on any day at "
        "`/api/backlogs/<id>?as_of=YYYY-MM-DD` (and, but for the referrals, by month at "
        "`/api/indicators/<id>`).",
    )
    def backlogs() -> list[IndicatorDefinition]:
        return [b.indicator for b in BACKLOGS]

    for backlog in BACKLOGS:
        app.add_api_route(
            f"/api/backlogs/{backlog.indicator.id}", _backlog(backlog, read_model, area, as_of),
            methods=["GET"], response_model=backlog.result,
            summary=f"{backlog.indicator.title}, on a day",
            description=f"{backlog.indicator.title}, on the `as_of` day (default: the latest "
            "data date). Per LA and for the partnership; counts of 1 to 4 are shown as \"<5\" "
            "and counts hidden so that those cannot be derived as \"c\". 404 for an LA outside "
            "the partnership, 422 for a bad date.",
            responses=UNKNOWN_LA,
        )

    @app.get(
        "/api/indicators/active-plans/discrepancy/people",
        openapi_extra=PERSON_LEVEL, responses=UNKNOWN_LA,
        summary="Indicator 1: the people counted by one side only (person keys)",
        description=(
            "For one month end: the person keys the LA counts as having an active plan and "
            "health does not, and the reverse, per LA. Person-level data for authorised users "
            "(not suppressed). 404 for an LA outside the partnership, 422 for a malformed month."
        ),
    )
    def discrepancy_people(la: LaParam = None, month: MonthParam = None) -> DiscrepancyList:
        chosen = Month.parse(month, name="'month'") if month else Month.of(as_of())
        return active_plans.discrepancy_people(read_model, chosen, area, la)

    @app.get(
        "/api/data-quality/birth-months",
        openapi_extra=PERSON_LEVEL,
        summary="People whose organisations registered different birth months (person keys)",
        description=(
            "A data-quality discrepancy, shown rather than resolved: for each person, every "
            "organisation's registered birth month, where they disagree, and the rule the read "
            "models take the birth month by meanwhile. Person-level data for authorised users."
        ),
    )
    def birth_month_discrepancies() -> quality.BirthMonthDiscrepancies:
        return quality.birth_month_discrepancies(read_model)

    if tracker is not None:
        _tracker_routes(app, tracker, area, as_of)
    install_delivery_routes(app, deliveries_bus or feed.jetstream)
    positions = {"dataset": read_model.position}
    if tracker is not None and hasattr(tracker, "position"):
        positions["tracker"] = tracker.position
    install_dashboard(app, read_positions=positions, partnership=area, today=today, live=feed,
                      access=access)
    return app


def known_figures() -> dict[str, set[str]]:
    """Indicator id -> the fields of its figures: what a target or reference may name."""
    return {spec.indicator.id: figure_fields(spec.model) for spec in MONTHLY}


def default_targets() -> Targets:
    """The partnership's targets file, checked against the indicators served."""
    return load_targets(DEFAULT_FILE, known_figures())


def _monthly(
    spec: Monthly, read_model: DatasetReadModel, area: Partnership, as_of: Callable[[], date],
    targets: Targets, england: England,
) -> Callable[..., Any]:
    def handler(la: LaParam = None, first: FromParam = None, last: ToParam = None) -> Any:
        months = period(first, last, as_of())
        answer = spec.query(read_model, months, area, la)
        periods = period_figures(spec, read_model, months, area, la)
        return answer.model_copy(update={
            "targets": checks(targets, spec.indicator.id, [*answer.figures, *periods]),
            "periods": periods,
            "england": england.figures_for(spec.indicator.id),
            "no_england_comparator": england.no_comparator(spec.indicator.id),
        })

    handler.__name__ = spec.indicator.id.replace("-", "_")
    return handler


def _backlog(
    backlog: Backlog, read_model: DatasetReadModel, area: Partnership,
    default_day: Callable[[], date],
) -> Callable[..., Any]:
    def handler(as_of: DayParam = None, la: LaParam = None) -> Any:
        day = day_of(as_of, "as_of") or default_day()
        return backlog.publish_on(read_model, day, area, la)

    handler.__name__ = "backlog_" + backlog.indicator.id.replace("-", "_")
    return handler


def _tracker_routes(
    app: FastAPI, tracker: TrackerReadModel, area: Partnership, as_of: Callable[[], date]
) -> None:
    milestones: Sequence[str] = MILESTONE_IDS
    default_day = as_of

    @app.get(
        "/api/tracker",
        openapi_extra=PERSON_LEVEL, responses=UNKNOWN_LA,
        summary="Transition from 14: young people and their milestones (person level)",
        description=(
            "Everyone aged 14-25 with an EHC plan, a learning disability or an autism "
            "diagnosis on the as-of date, with each milestone's due date, done date, owner and "
            "RAG. Filters: `la` (the person's LA), `owner` (people with a red milestone owned by "
            "this organisation), `rag` (the person's status, or with `milestone` that "
            "milestone's), `milestone` (people to whom it applies: "
            f"{', '.join(milestones)}). Most urgent first: the most overdue, then the "
            "soonest due; `page` and `page_size` give one page (without `page_size`, everyone). "
            "Person-level data for authorised users. 404 for an LA outside the partnership, "
            "422 for a bad date, RAG, milestone or page."
        ),
    )
    def tracker_people(
        as_of: AsOfParam = None,
        la: LaParam = None,
        owner: Annotated[str | None, Query(
            max_length=16, description="An organisation code, e.g. QK1.")] = None,
        rag: Annotated[Rag | None, Query(description="red, amber or green.")] = None,
        milestone: Annotated[MilestoneId | None, Query(description="A milestone id.")] = None,
        page: Annotated[int, Query(ge=1, le=100_000, description="Page, from 1.")] = 1,
        page_size: Annotated[int | None, Query(
            ge=1, le=PAGE_SIZE_MAX, description="Rows per page (default: every row).")] = None,
    ) -> TrackerRows:
        where = TrackerFilter(la=la, owner=owner, rag=rag and rag.value,
                              milestone=milestone and milestone.value)
        day = day_of(as_of, "as_of") or default_day()
        return tracker_queries.tracker_rows(tracker, day, area, where, Page(page, page_size))

    @app.get(
        "/api/tracker/health-checks", responses=UNKNOWN_LA,
        summary="Annual health checks: people aged 14+ on the learning disability register "
                "checked in the last 12 months",
        description="On the as-of date (default: the latest data date), per LA and for the "
        "partnership, suppressed (\"<5\", \"c\"). 404 for an LA outside the partnership, "
        "422 for a bad date.",
    )
    def health_checks(as_of: AsOfParam = None, la: LaParam = None) -> HealthChecksOnADay:
        day = day_of(as_of, "as_of") or default_day()
        return tracker_queries.health_checks(tracker, day, area, la)

    @app.get(
        "/api/tracker/support-register", responses=UNKNOWN_LA,
        summary="Dynamic support register: people by RAG rating and age band",
        description="On the as-of date (default: the latest data date), per LA and for the "
        "partnership, suppressed (\"<5\", \"c\"). 404 for an LA outside the partnership, "
        "422 for a bad date.",
    )
    def support_register(as_of: AsOfParam = None, la: LaParam = None) -> SupportRegister:
        day = day_of(as_of, "as_of") or default_day()
        return tracker_queries.support_register_on(tracker, day, area, la)

    @app.get(
        "/api/tracker/summary", responses=UNKNOWN_LA,
        summary="Indicator 7: transition tracker counts by RAG and overdue owner",
        description=(
            "Young people in the tracker on the as-of date by RAG status, and red milestones by "
            "owning organisation and by milestone, per LA and for the partnership, suppressed "
            "(\"<5\", \"c\"). 404 for an LA outside the partnership, 422 for a bad date."
        ),
    )
    def tracker_summary(as_of: AsOfParam = None, la: LaParam = None) -> TrackerSummary:
        day = day_of(as_of, "as_of") or default_day()
        return tracker_queries.tracker_summary(tracker, day, area, la)
