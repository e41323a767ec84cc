"""Parsing of list query strings, shared by the JSON API and the dashboard's URL-driven pages.

Both speak the same parameter names (``status``, ``q``, ``created_after``, ``created_before``,
``family``, ``updated_after``, ``updated_before``, ``min_duration``, ``max_duration``, ``stuck``,
``ordering``, ``page_size``, ``cursor``), so one pydantic model validates both, and a link copied from the
dashboard means the same thing to the API.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
)
from pydantic import ValidationError as PydanticValidationError

from dashboard.input_errors import field_errors
from db.cursor import MAX_TOKEN_LENGTH
from db.errors import FieldError, ValidationError
from db.models import NAME_MAX_LENGTH, STATUSES
from db.queries import DEFAULT_ORDERING, JobFilter, Ordering
from db.validation import Q_MAX_LENGTH

StatusParam = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern="(?i)^(" + "|".join(STATUSES) + ")$")
]
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_text(value: object) -> object:
    """Only ISO 8601 text (or a datetime) is a time here: lax pydantic would read ``0.5`` or ``0``, as text
    or as a JSON number, as Unix seconds."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date and time with an offset, like 2026-01-31T14:05:00Z")
    return value


QueryDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
CURSOR_HELP = "Opaque token taken from next or previous."


class JobListParams(BaseModel):
    """The query string of ``GET /api/jobs/`` and of the dashboard's ``/jobs`` page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: list[StatusParam] = Field(
        default_factory=list,
        description="Current status; repeat the parameter or separate with commas; case-insensitive.",
    )
    q: str | None = Field(None, max_length=Q_MAX_LENGTH, description="Case-insensitive name substring.")
    created_after: QueryDatetime | None = Field(None, description="ISO 8601 with offset; inclusive.")
    created_before: QueryDatetime | None = Field(None, description="ISO 8601 with offset; exclusive.")
    family: str | None = Field(
        None, max_length=NAME_MAX_LENGTH, description="Job family (the name without its run-specific tail)."
    )
    updated_after: QueryDatetime | None = Field(
        None, description="Newest event (for a finished job: when it finished) at or after; ISO 8601."
    )
    updated_before: QueryDatetime | None = Field(None, description="Newest event before; ISO 8601.")
    min_duration: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Finished jobs that took at least this many seconds."
    )
    max_duration: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Finished jobs that took at most this many seconds."
    )
    stuck: bool | None = Field(
        None,
        description="true: only the jobs in PENDING or RUNNING for longer than their family's threshold (as "
        "/api/insights/stuck/ reads them, most overdue first); combines with family and status only, and "
        "takes no ordering.",
    )
    ordering: Ordering = Field(DEFAULT_ORDERING, description="Sort key; ties are broken by id.")
    page_size: int | None = Field(None, ge=1, description="Rows per page, 1..JOBDASH_MAX_PAGE_SIZE.")
    cursor: str | None = Field(None, max_length=MAX_TOKEN_LENGTH, description=CURSOR_HELP)


class HistoryParams(BaseModel):
    """The query string of ``GET /api/jobs/<id>/history/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page_size: int | None = Field(None, ge=1, description="Rows per page, 1..JOBDASH_MAX_PAGE_SIZE.")
    cursor: str | None = Field(None, max_length=MAX_TOKEN_LENGTH, description=CURSOR_HELP)


# The list parameters that page rather than filter; every other JobListParams field is a filter and fills
# the JobFilter field of its name ("status" fills "statuses"). A new filter is one field in each.
PAGING_PARAMS = frozenset({"ordering", "page_size", "cursor"})
FILTER_PARAMS = tuple(name for name in JobListParams.model_fields if name not in PAGING_PARAMS)
# The parameters that choose a page of a view rather than the view (its filters and ordering).
PAGE_PARAMS = frozenset({"page_size", "cursor"})

# The query string of ``GET /api/jobs/export.csv``: every JobListParams field but the page ones, so a
# filter the list learns is a parameter of the export too.
_VIEW_FIELDS: dict[str, Any] = {
    name: (field.annotation, field)
    for name, field in JobListParams.model_fields.items()
    if name not in PAGE_PARAMS
}
JobViewParams = create_model(
    "JobViewParams",
    __config__=ConfigDict(extra="forbid", frozen=True),
    __doc__="The query string of ``GET /api/jobs/export.csv``: the list's filters and ordering.",
    **_VIEW_FIELDS,
)


def filter_field(param: str) -> str:
    """The :class:`JobFilter` field a filter parameter fills."""
    return "statuses" if param == "status" else param


@dataclass(frozen=True)
class JobView:
    """A validated view of the job list, every page of it: its filters and its ordering."""

    filters: JobFilter
    ordering: str


@dataclass(frozen=True)
class JobListQuery:
    """A validated list request, ready for ``db.queries.list_jobs`` and ``count_jobs``."""

    filters: JobFilter
    ordering: str
    page_size: int
    cursor: str | None


def _single_values(args: Mapping[str, Sequence[str]], multi: Iterable[str]) -> dict[str, object]:
    """Flatten a multi-dict: ``multi`` names keep every value (comma-split); others must appear once."""
    values: dict[str, object] = {}
    errors = []
    multi = set(multi)
    for name, given in args.items():
        if name in multi:
            values[name] = [part for value in given for part in value.split(",") if part.strip()]
        elif len(given) != 1:
            errors.append(FieldError(name, "must be given at most once"))
        elif given[0] != "":
            values[name] = given[0]
    if errors:
        raise ValidationError(errors)
    return values


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], args: Mapping[str, Sequence[str]], *, multi: Iterable[str] = ()) -> M:
    """Validate a query multi-dict against ``model``; raise db ValidationError naming each bad field."""
    values = _single_values(args, multi)
    try:
        return model.model_validate(values)
    except PydanticValidationError as exc:
        raise ValidationError(field_errors(exc, source="query")) from None


def check_page_size(page_size: int | None, *, default: int, maximum: int) -> int:
    """The page size to use: the default when absent, an error (never a clamp) above the maximum."""
    if page_size is None:
        return default
    if page_size > maximum:
        raise ValidationError.single("page_size", f"must be between 1 and {maximum}")
    return page_size


def _view_of(params: Any) -> JobView:
    """The filters and ordering of validated list (or export) parameters."""
    filters = JobFilter.build(**{filter_field(name): getattr(params, name) for name in FILTER_PARAMS})
    return JobView(filters=filters, ordering=params.ordering)


def parse_job_view(args: Mapping[str, Sequence[str]]) -> JobView:
    """A query string of the list without its page (the export's): the same filters and ordering,
    validated by the same rules; a page size or a cursor is an error naming it."""
    paging = sorted(name for name in args if name in PAGE_PARAMS)
    if paging:
        message = "is not a parameter of the export, which holds every matching job (no pages)"
        raise ValidationError([FieldError(name, message) for name in paging])
    return _view_of(parse_model(JobViewParams, args, multi=("status",)))


def parse_job_list_query(
    args: Mapping[str, Sequence[str]], *, default_page_size: int, max_page_size: int
) -> JobListQuery:
    """Turn a query string (as a multi-dict) into a validated :class:`JobListQuery`."""
    params = parse_model(JobListParams, args, multi=("status",))
    view = _view_of(params)
    page_size = check_page_size(params.page_size, default=default_page_size, maximum=max_page_size)
    return JobListQuery(
        filters=view.filters, ordering=view.ordering, page_size=page_size, cursor=params.cursor
    )


def _query_text(value: object) -> str:
    """A filter's value as its query parameter spells it (empty when the filter is off)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "true"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def view_query_string(view: JobView | JobListQuery) -> dict[str, str | list[str]]:
    """The query-string parameters of a view's filters and ordering (defaults omitted): every page of
    it, or its export."""
    out: dict[str, str | list[str]] = {}
    for name in FILTER_PARAMS:
        text = _query_text(getattr(view.filters, filter_field(name)))
        if text:
            out[name] = text
    if view.ordering != DEFAULT_ORDERING:
        out["ordering"] = view.ordering
    return out


def list_query_string(query: JobListQuery, *, default_page_size: int) -> dict[str, str | list[str]]:
    """The query-string parameters that reproduce ``query`` (defaults omitted), for links and URLs."""
    out = view_query_string(query)
    if query.page_size != default_page_size:
        out["page_size"] = str(query.page_size)
    if query.cursor:
        out["cursor"] = query.cursor
    return out
