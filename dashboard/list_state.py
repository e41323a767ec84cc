"""The state of the ``/jobs`` view, kept in the URL query string with the API's parameter names.

The URL is the source of truth: controls are turned into query-string arguments, validated by the same
parser as ``GET /api/jobs/`` (:func:`dashboard.params.parse_job_list_query`), and written back to the URL;
a URL (shared link, back button) is parsed the same way and shown in the controls. Every value coming from
the browser is checked for its type here before the parser sees it, because a callback can be posted
anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from dashboard.params import JobListQuery, list_query_string, parse_job_list_query
from db.errors import FieldError, ValidationError
from db.models import STATUSES
from db.queries import DEFAULT_ORDERING, ORDERINGS, JobFilter

MAX_SEARCH_LENGTH = 4096
MAX_QUERY_FIELDS = 32
MAX_TEXT_LENGTH = 512
PAGE_SIZE_CHOICES = (10, 25, 50, 100, 200)
# Clicking a column header sorts by it: dates newest first, names A to Z; clicking again reverses.
SORT_KEYS = {"name": "name", "created": "-created_at", "updated": "-updated_at"}


@dataclass(frozen=True)
class ControlValues:
    """What the filter controls show for a query (all strings, as the browser's inputs hold them)."""

    statuses: list[str]
    q: str
    created_after: str
    created_before: str
    page_size: str


def args_from_search(search: object) -> dict[str, list[str]]:
    """``?status=FAILED&q=etl`` as a multi-dict; a non-string, overlong or overfull one is an error."""
    if search is None or search == "":
        return {}
    if not isinstance(search, str):
        raise ValidationError.single("query", "must be a query string")
    if len(search) > MAX_SEARCH_LENGTH:
        raise ValidationError.single("query", f"must be at most {MAX_SEARCH_LENGTH} characters")
    try:
        return parse_qs(search.removeprefix("?"), keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise ValidationError.single("query", f"must have at most {MAX_QUERY_FIELDS} parameters") from None


def args_from_page_query(query: Mapping[str, object]) -> dict[str, list[str]]:
    """The keyword arguments Dash Pages passes to ``layout`` (a string, or a list when repeated)."""
    args: dict[str, list[str]] = {}
    for name, value in query.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise ValidationError.single(str(name), "must be text")
        args[str(name)] = [str(v) for v in values]
    return args


def parse_view(
    args: Mapping[str, Sequence[str]], *, default_page_size: int, max_page_size: int
) -> JobListQuery:
    """Validate query-string arguments exactly as the API does."""
    return parse_job_list_query(args, default_page_size=default_page_size, max_page_size=max_page_size)


def search_from_query(query: JobListQuery, *, default_page_size: int) -> str:
    """The URL query string (``?…``, or empty for the default view) that reopens ``query``."""
    params = list_query_string(query, default_page_size=default_page_size)
    return "?" + urlencode(params, doseq=True, safe=",:") if params else ""


def _local_input(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") if value else ""


def controls_from_query(query: JobListQuery) -> ControlValues:
    """The values the filter controls should show for ``query`` (times in UTC, as labelled)."""
    return ControlValues(
        statuses=list(query.filters.statuses),
        q=query.filters.q or "",
        created_after=_local_input(query.filters.created_after),
        created_before=_local_input(query.filters.created_before),
        page_size=str(query.page_size),
    )


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError.single(field, "must be text")
    text = str(value)
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationError.single(field, f"must be at most {MAX_TEXT_LENGTH} characters")
    return text


def utc_timestamp(value: object, field: str) -> str:
    """A ``datetime-local`` value (``2026-01-31T14:05[:09]``, taken as UTC) as ISO 8601 with offset."""
    text = _text(value, field).strip()
    if not text:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError.single(field, "must be a date and time, like 2026-01-31T14:05") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.isoformat()


def args_from_controls(
    *,
    statuses: object,
    q: object,
    created_after: object,
    created_before: object,
    ordering: object,
    page_size: object,
) -> dict[str, list[str]]:
    """Query-string arguments from the controls' raw values; wrong types are errors naming the field."""
    errors: list[FieldError] = []
    args: dict[str, list[str]] = {}
    if statuses is not None:
        if not isinstance(statuses, list) or len(statuses) > len(STATUSES):
            errors.append(FieldError("status", f"must be a list of at most {len(STATUSES)} statuses"))
        elif not all(isinstance(s, str) for s in statuses):
            errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}"))
        elif statuses:
            args["status"] = [",".join(statuses)]
    checks: dict[str, Callable[[], str]] = {
        "q": lambda: _text(q, "q"),
        "created_after": lambda: utc_timestamp(created_after, "created_after"),
        "created_before": lambda: utc_timestamp(created_before, "created_before"),
        "ordering": lambda: _text(ordering, "ordering"),
        "page_size": lambda: _text(page_size, "page_size").strip(),
    }
    for name, check in checks.items():
        try:
            value = check()
        except ValidationError as exc:
            errors.extend(exc.errors)
            continue
        if value:
            args[name] = [value]
    if errors:
        raise ValidationError(errors)
    return args


def with_cursor(query: JobListQuery, cursor: object) -> JobListQuery:
    """``query`` on another page; the token itself is checked by the data layer when it is used."""
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > MAX_SEARCH_LENGTH):
        raise ValidationError.single("cursor", "is not a valid cursor for this list; start from page one")
    return JobListQuery(
        filters=query.filters, ordering=query.ordering, page_size=query.page_size, cursor=cursor
    )


def toggle_ordering(current: str, column: object) -> str:
    """The ordering after clicking ``column``'s header: its default direction, or reversed if already on."""
    if column not in SORT_KEYS:
        raise ValidationError.single("ordering", f"must be one of {', '.join(ORDERINGS)}")
    wanted = SORT_KEYS[str(column)]
    if current.lstrip("-") == wanted.lstrip("-"):
        return current[1:] if current.startswith("-") else "-" + current
    return wanted


def jump_to_date(query: JobListQuery, day: object) -> JobListQuery:
    """Start the created-ordered list at ``day`` (UTC): newest first ends there, oldest first starts there.

    Keyset cursors are opaque, so the jump is a created range: the view stays a plain, shareable URL
    and a page there costs what the first page costs.
    """
    text = _text(day, "date").strip()
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise ValidationError.single("date", "must be a date, like 2026-01-31") from None
    ordering = query.ordering if query.ordering in ("created_at", "-created_at") else DEFAULT_ORDERING
    after, before = query.filters.created_after, query.filters.created_before
    if ordering == "-created_at":
        before = start + dt.timedelta(days=1)
        after = after if after is not None and after < before else None
    else:
        after = start
        before = before if before is not None and before > after else None
    filters = JobFilter.build(
        statuses=query.filters.statuses, q=query.filters.q, created_after=after, created_before=before
    )
    return JobListQuery(filters=filters, ordering=ordering, page_size=query.page_size, cursor=None)


def page_size_options(*, default: int, maximum: int) -> list[dict[str, object]]:
    """The page sizes offered: the usual choices up to the maximum, plus the configured default."""
    sizes = sorted({size for size in PAGE_SIZE_CHOICES if size <= maximum} | {default})
    return [{"label": f"{size} rows", "value": str(size)} for size in sizes]
