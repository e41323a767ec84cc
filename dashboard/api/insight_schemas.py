"""Request and response models of the insight endpoints (status mix as of an hour, transitions, time in
state, stuck jobs, families); the OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dashboard.api.schemas import PageLink
from dashboard.params import CURSOR_HELP, QueryDatetime, StatusParam
from db.cursor import MAX_TOKEN_LENGTH
from db.models import NAME_MAX_LENGTH, Status

FamilyParam = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
Seconds = Annotated[float | None, Field(description="Seconds; null when there is no stay to measure.")]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})


class StatsParams(_Params):
    """The query string of ``GET /api/stats/``."""

    as_of: QueryDatetime | None = Field(
        None,
        description="The status mix at this time instead of now, exact at hour resolution: the start of "
        "the UTC hour holding it (each job counts in the status of its newest event before then).",
    )


class TransitionParams(_Params):
    """The query string of ``GET /api/insights/transitions/``."""

    since: QueryDatetime | None = Field(
        None, description="Inclusive, rounded down to the hour; default until - 30 days."
    )
    until: QueryDatetime | None = Field(
        None, description="Exclusive, rounded up to the hour; default the end of the current hour."
    )
    family: FamilyParam | None = Field(None, description="Only this job family.")


class TransitionCount(_Output):
    """How many times jobs of a family went from one status straight to the next in the range."""

    family: str
    from_status: Status
    to_status: Status
    count: int = Field(ge=1)
    allowed: bool = Field(description="Whether the lifecycle (docs/architecture.md) allows it.")


class Transitions(_Output):
    """Transitions by the time of the later event, per family, over whole UTC hours."""

    since: AwareDatetime
    until: AwareDatetime
    results: list[TransitionCount]


class DisallowedParams(TransitionParams):
    """The query string of ``GET /api/insights/transitions/disallowed/``."""

    page_size: int | None = Field(None, ge=1, description="Rows per page, 1..JOBDASH_MAX_PAGE_SIZE.")
    cursor: str | None = Field(None, max_length=MAX_TOKEN_LENGTH, description=CURSOR_HELP)


class DisallowedTransition(_Output):
    """An event whose predecessor in its job's history may not lead to it."""

    event_id: int
    job_id: int
    family: str
    from_status: Status
    to_status: Status
    at: AwareDatetime = Field(description="The time of the event.")


class DisallowedList(_Output):
    """One page of disallowed transitions, newest first."""

    since: AwareDatetime
    until: AwareDatetime
    results: list[DisallowedTransition]
    next: PageLink
    previous: PageLink


class TimeInStateParams(_Params):
    """The query string of ``GET /api/insights/time-in-state/``."""

    since: QueryDatetime | None = Field(
        None, description="Inclusive, rounded down to the UTC day; default until - 30 days."
    )
    until: QueryDatetime | None = Field(
        None, description="Exclusive, rounded up to the UTC day; default the end of the current day."
    )
    family: FamilyParam | None = Field(None, description="Only this job family.")
    status: list[StatusParam] = Field(
        default_factory=list, description="Only these statuses; repeat or separate with commas."
    )


class StateTime(_Output):
    """Percentiles of the stays of one family in one status that ended in the range."""

    family: str
    status: Status
    stays: int = Field(ge=1, description="Stays that ended in the range.")
    p50: Seconds
    p95: Seconds
    p99: Seconds


class TimeInState(_Output):
    """Time spent in each status per family, from log-scaled histograms (within 19 % of the exact
    percentile, about 1 % on typical data; see docs/architecture.md)."""

    since: AwareDatetime
    until: AwareDatetime
    results: list[StateTime]


class StuckParams(_Params):
    """The query string of ``GET /api/insights/stuck/``."""

    family: FamilyParam | None = Field(None, description="Only this job family.")
    status: list[StatusParam] = Field(
        default_factory=list, description="PENDING and/or RUNNING (default both)."
    )
    page_size: int | None = Field(None, ge=1, description="Rows per page, 1..JOBDASH_MAX_PAGE_SIZE.")
    cursor: str | None = Field(None, max_length=MAX_TOKEN_LENGTH, description=CURSOR_HELP)


class StuckJob(_Output):
    """A job in PENDING or RUNNING for longer than its family's threshold."""

    id: int
    name: str
    family: str
    status: Status
    status_since: AwareDatetime = Field(description="When it entered its current status.")
    threshold_s: float = Field(description="Its family's threshold for that status, in seconds.")
    overrun_s: float = Field(description="How far past the threshold it is, in seconds.")
    stuck_since: AwareDatetime = Field(description="status_since + threshold.")
    created_at: AwareDatetime
    updated_at: AwareDatetime


class StuckThreshold(_Output):
    """A family's threshold for one status: the p99 of its recent stays, with a floor."""

    family: str
    status: Status
    threshold_s: float
    p99_s: float | None = Field(description="The p99 of its recent stays; null without any.")
    stays: int = Field(ge=0, description="Stays in the window the p99 comes from.")


class StuckList(_Output):
    """One page of stuck jobs, most overdue first."""

    as_of: AwareDatetime
    results: list[StuckJob]
    next: PageLink
    previous: PageLink
    thresholds: list[StuckThreshold]


class FamilyInfo(_Output):
    """A job family and its jobs per current status."""

    name: str
    by_status: dict[Status, int]
    total: int
    overflow: bool = Field(description="True for 'other': the jobs of families beyond the cap.")


class Families(_Output):
    """Every family with jobs; families beyond JOBDASH_MAX_FAMILIES are counted under 'other'."""

    cap: int = Field(description="JOBDASH_MAX_FAMILIES.")
    admitted: int = Field(description="Families admitted so far (at most cap).")
    results: list[FamilyInfo]


class Stay(_Output):
    """One stay of a job in a status (a run of events in it; progress does not restart it)."""

    status: Status
    since: AwareDatetime
    until: AwareDatetime | None = Field(description="Null for the current status.")
    seconds: float = Field(description="Its length (so far, for the current one).")


class FamilyPercentiles(_Output):
    """A family's p50 and p95 time in one status over the recent window."""

    stays: int
    p50: Seconds
    p95: Seconds


class Window(_Output):
    """A half-open time range."""

    since: AwareDatetime
    until: AwareDatetime


class JobTimeInState(_Output):
    """A job's stays beside its family's p50 and p95 per status (over the current UTC week and the four
    before it)."""

    job_id: int
    family: str
    status: Status
    window: Window
    stays: list[Stay]
    family_percentiles: dict[Status, FamilyPercentiles]
