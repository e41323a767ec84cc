"""Parsing of list query strings, shared by the JSON API and the dashboard's URL-driven pages.

Both speak the same parameter names (``status``, ``q``, ``created_after``, ``created_before``,
``family``, ``stuck``, ``ordering``, ``page_size``, ``cursor``), so one pydantic model validates both, and
a link copied from the dashboard means the same thing to the API.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
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


def filter_field(param: str) -> str:
    """The :class:`JobFilter` field a filter parameter fills."""
    return "statuses" if param == "status" else param


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


def parse_job_list_query(
    args: Mapping[str, Sequence[str]], *, default_page_size: int, max_page_size: int
) -> JobListQuery:
    """Turn a query string (as a multi-dict) into a validated :class:`JobListQuery`."""
    params = parse_model(JobListParams, args, multi=("status",))
    filters = JobFilter.build(**{filter_field(name): getattr(params, name) for name in FILTER_PARAMS})
    page_size = check_page_size(params.page_size, default=default_page_size, maximum=max_page_size)
    return JobListQuery(filters=filters, ordering=params.ordering, page_size=page_size, cursor=params.cursor)


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
    return str(value)


def list_query_string(query: JobListQuery, *, default_page_size: int) -> dict[str, str | list[str]]:
    """The query-string parameters that reproduce ``query`` (defaults omitted), for links and URLs."""
    out: dict[str, str | list[str]] = {}
    for name in FILTER_PARAMS:
        text = _query_text(getattr(query.filters, filter_field(name)))
        if text:
            out[name] = text
    if query.ordering != DEFAULT_ORDERING:
        out["ordering"] = query.ordering
    if query.page_size != default_page_size:
        out["page_size"] = str(query.page_size)
    if query.cursor:
        out["cursor"] = query.cursor
    return out
