"""Request and response models of the JSON API; the OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from dashboard.params import QueryDatetime, StatusParam
from db.models import MESSAGE_MAX_LENGTH, NAME_MAX_LENGTH, STATUSES, Status
from db.queries import Bucket


def _case_insensitive_pattern(words: tuple[str, ...]) -> str:
    """An ECMA-262 pattern (OpenAPI's regex dialect has no ``(?i)``) matching ``words`` in any case."""
    alternatives = ("".join(f"[{c.upper()}{c.lower()}]" for c in word) for word in words)
    return r"^\s*(" + "|".join(alternatives) + r")\s*$"


STATUS_PATTERN = _case_insensitive_pattern(STATUSES)
# Case-insensitive like the query parameter; documented with a pattern OpenAPI tools understand.
StatusInput = Annotated[
    StatusParam,
    WithJsonSchema({"type": "string", "pattern": STATUS_PATTERN, "description": "Case-insensitive."}),
]
# Only ISO 8601 text with an offset, as in query strings: never Unix seconds, as a number or as text ("0").
TimestampInput = QueryDatetime
PageLink = Annotated[
    str | None,
    Field(
        description="Root-relative URL of the neighbouring page (same query plus a cursor), "
        "or null at either end.",
        json_schema_extra={"format": "uri-reference"},
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Output(BaseModel):
    # Tolerant at run time (a new data-layer column is dropped, not a 500), strict in the document:
    # responses are dumped from these models, so they never carry a field the document does not list.
    model_config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})


class JobCreate(_Model):
    """Body of ``POST /api/jobs/``."""

    # The length is the text's as sent (what the schema can say); the data layer then trims it, and a name
    # that is blank once trimmed is refused there (a rule of the operation).
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, description="Trimmed of surrounding spaces.")
    status: StatusInput = "PENDING"
    timestamp: TimestampInput | None = Field(None, description="When it was created; default now.")


class StatusCreate(_Model):
    """Body of ``POST /api/jobs/<id>/status/``."""

    status: StatusInput
    timestamp: TimestampInput | None = Field(None, description="When it happened; default now.")
    message: str | None = Field(None, max_length=MESSAGE_MAX_LENGTH)


class TimeseriesParams(_Model):
    """The query string of ``GET /api/stats/timeseries/``."""

    bucket: Bucket = Field("day", description="Bucket width, in UTC.")
    since: QueryDatetime | None = Field(None, description="Inclusive; default 30 days or 48 hours back.")
    until: QueryDatetime | None = Field(None, description="Exclusive; default the end of the current bucket.")
    status: list[StatusParam] = Field(
        default_factory=list, description="Current status; repeat or separate with commas."
    )


class Job(_Output):
    """A job as listed."""

    id: int
    name: str
    family: str = Field(description="Its job family: the name without its run-specific tail, or 'other'.")
    status: Status
    created_at: AwareDatetime
    updated_at: AwareDatetime = Field(description="Timestamp of its newest status event.")
    duration: float | None = Field(
        ge=0,
        description="Seconds from created_at to its terminal event (COMPLETED, FAILED or CANCELLED being "
        "its current status); null while it is unfinished (a retried job is unfinished again).",
    )


class JobDetail(Job):
    """A job with the size of its history."""

    status_since: AwareDatetime = Field(
        description="When its current status began (progress events in that status do not restart it)."
    )
    history_count: int = Field(ge=1)


class SearchProgress(_Output):
    """Where a partial name search stopped: the last index entry it read, in the list's ordering."""

    scanned: int = Field(ge=1, description="Jobs (index entries) this page read.")
    key: str = Field(
        description="The ordering's sort column: created_at, updated_at, name or duration; a walk also "
        "runs for a range filter on another column than the ordering's."
    )
    value: str | AwareDatetime | float | None = Field(
        description="That column's value at the last job read (duration: null for an unfinished job)."
    )
    id: int = Field(ge=1, description="The last job read (the ordering's tiebreak).")


class JobList(_Output):
    """One page of ``GET /api/jobs/``."""

    results: list[Job]
    next: PageLink
    previous: PageLink
    count: int = Field(
        ge=0, description="Matching jobs: exact without q; with q exact only when count_exact."
    )
    count_exact: bool = Field(description="False when count is an estimate or a lower bound.")
    partial: bool = Field(
        default=False,
        description="True when a name search (q), or a range filter on another column than the "
        "ordering's, read its fixed budget of index entries (100 per row of "
        "the page) before the page filled: results holds every match among the entries read, and the "
        "next (or previous) link continues the search right after them.",
    )
    searched: SearchProgress | None = Field(
        default=None, description="How far a partial name search got; null when the page is not partial."
    )


class Event(_Output):
    """One status event of a job's history."""

    id: int
    status: Status
    timestamp: AwareDatetime
    message: str | None


class CreatedEvent(Event):
    """An event just appended, with the job it belongs to."""

    job_id: int


class History(_Output):
    """One page of a job's history, newest first."""

    results: list[Event]
    next: PageLink
    previous: PageLink


class Stats(_Output):
    """Jobs per current status."""

    by_status: dict[Status, int]
    total: int
    exact: bool = Field(description="Always true: totals are kept exactly by the write path.")
    as_of: AwareDatetime


class TimeseriesPoint(_Output):
    """Jobs created in one bucket that are now in one status."""

    bucket: AwareDatetime = Field(description="Start of the bucket (UTC).")
    status: Status
    count: int = Field(ge=1)


class Timeseries(_Output):
    """Jobs created per bucket and current status; empty buckets are left out."""

    bucket: Bucket
    since: AwareDatetime
    until: AwareDatetime
    results: list[TimeseriesPoint]


class Health(_Output):
    """A health probe's answer."""

    status: Literal["ok", "degraded"]
    checks: dict[str, str] | None = None


class FieldProblem(_Output):
    """What is wrong with one input."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem; extension members are allowed."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Present on validation failures: one entry per bad input."
    )


class OpenAPIDocument(BaseModel):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: str = Field(pattern=r"^3\.1\.")
    info: dict[str, object]
    paths: dict[str, object]
