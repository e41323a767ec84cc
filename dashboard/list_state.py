"""The state of the ``/jobs`` view, kept in the URL query string with the API's parameter names.

The URL is the source of truth: controls are turned into query-string arguments, validated by the same
parser as ``GET /api/jobs/`` (:func:`dashboard.params.parse_job_list_query`), and written back to the URL;
a URL (shared link, back button) is parsed the same way and shown in the controls. Every value coming from
the browser is checked for its type here before the parser sees it, because a callback can be posted
anything.

The page describes its controls in one table of :class:`Control`; the functions here turn a query into
what every control shows and the controls' values back into query-string arguments, whatever the table
holds. Derived queries (another page, another sort, a jump to a date) are ``dataclasses.replace`` of the
current one, so a filter they do not name is kept, never dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from dashboard.local_time import input_value, to_utc_text, viewer_zone
from dashboard.params import JobListQuery, list_query_string, parse_job_list_query
from db.cursor import MAX_TOKEN_LENGTH
from db.errors import FieldError, ValidationError
from db.models import STATUSES
from db.queries import DEFAULT_ORDERING, ORDERINGS

MAX_SEARCH_LENGTH = 4096
MAX_QUERY_FIELDS = 32
MAX_TEXT_LENGTH = 512
PAGE_SIZE_CHOICES = (10, 25, 50, 100, 200)
# Clicking a column header sorts by it: dates newest first, names A to Z; clicking again reverses.
# Durations longest first.
SORT_KEYS = {"name": "name", "created": "-created_at", "updated": "-updated_at", "duration": "-duration"}


@dataclass(frozen=True)
class Control:
    """One control of the ``/jobs`` page: the list parameter it edits and the component that edits it.

    From a table of these the page generates its layout (``build``), its callback's inputs and outputs
    (the ``value`` of ``component_id``), what each control shows for a URL (``show``) and the query-string
    argument read back from the browser (``read``: the raw value as text, empty for none; a value of the
    wrong type is a ValidationError naming ``param``).
    """

    param: str
    component_id: str
    show: Callable[[JobListQuery], object]
    read: Callable[[object], str]
    build: Callable[[str, Any], Any]
    place: Literal["filters", "footer"] = "filters"


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


def zoned_input(value: dt.datetime | None) -> str:
    """A time as a ``datetime-local`` input shows it: in the viewer's zone, which the input is labelled
    with (dashboard/local_time.py)."""
    return input_value(value, viewer_zone())


def controls_from_query(query: JobListQuery, controls: Iterable[Control]) -> dict[str, object]:
    """What each control shows for ``query``, by parameter."""
    return {control.param: control.show(query) for control in controls}


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError.single(field, "must be text")
    text = str(value)
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationError.single(field, f"must be at most {MAX_TEXT_LENGTH} characters")
    return text


def zoned_timestamp(value: object, field: str, zone: dt.tzinfo) -> str:
    """A ``datetime-local`` value (``2026-01-31T14:05[:09]``, typed in ``zone``) as ISO 8601 in UTC, as
    the URL and the API take it."""
    text = _text(value, field).strip()
    if not text:
        return ""
    try:
        return to_utc_text(text, zone)
    except ValueError:
        raise ValidationError.single(field, "must be a date and time, like 2026-01-31T14:05") from None


def read_text(param: str, *, strip: bool = False) -> Callable[[object], str]:
    """A :attr:`Control.read` for a text input."""
    return lambda value: _text(value, param).strip() if strip else _text(value, param)


def read_zoned_time(param: str) -> Callable[[object], str]:
    """A :attr:`Control.read` for a ``datetime-local`` input labelled with the viewer's zone."""
    return lambda value: zoned_timestamp(value, param, viewer_zone())


def read_seconds(param: str) -> Callable[[object], str]:
    """A :attr:`Control.read` for a number of seconds (a number input gives a number or text)."""

    def read(value: object) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return _text(value, param).strip()

    return read


def seconds_input(value: float | None) -> float | int | None:
    """A duration as a number input shows it (whole seconds without a decimal point)."""
    if value is None:
        return None
    return int(value) if value.is_integer() else value


def read_statuses(value: object) -> str:
    """A :attr:`Control.read` for the status checklist: a list of at most every status."""
    if value is None:
        return ""
    if not isinstance(value, list) or len(value) > len(STATUSES):
        raise ValidationError.single("status", f"must be a list of at most {len(STATUSES)} statuses")
    if not all(isinstance(status, str) for status in value):
        raise ValidationError.single("status", f"must be one of {', '.join(STATUSES)}")
    return ",".join(value)


def args_from_controls(
    values: Mapping[str, object], controls: Iterable[Control], *, ordering: str
) -> dict[str, list[str]]:
    """Query-string arguments from the controls' raw values (by parameter) and the ``ordering`` kept;
    every wrong value is an error naming its parameter."""
    errors: list[FieldError] = []
    args: dict[str, list[str]] = {}
    for control in controls:
        try:
            text = control.read(values.get(control.param))
        except ValidationError as exc:
            errors.extend(exc.errors)
            continue
        if text:
            args[control.param] = [text]
    if errors:
        raise ValidationError(errors)
    return {**args, "ordering": [ordering]}


def with_cursor(query: JobListQuery, cursor: object) -> JobListQuery:
    """``query`` on another page; the token itself is checked by the data layer when it is used."""
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > MAX_TOKEN_LENGTH):
        raise ValidationError.single("cursor", "is not a valid cursor for this list; start from page one")
    return dataclasses.replace(query, cursor=cursor)


def toggle_ordering(current: str, column: object) -> str:
    """The ordering after clicking ``column``'s header: its default direction, or reversed if already on."""
    if column not in SORT_KEYS:
        raise ValidationError.single("ordering", f"must be one of {', '.join(ORDERINGS)}")
    wanted = SORT_KEYS[str(column)]
    if current.lstrip("-") == wanted.lstrip("-"):
        return current[1:] if current.startswith("-") else "-" + current
    return wanted


def jump_to_date(query: JobListQuery, day: object, *, zone: dt.tzinfo = dt.UTC) -> JobListQuery:
    """Start the created-ordered list at ``day`` (a day in ``zone``): newest first ends there, oldest first
    starts there.

    Keyset cursors are opaque, so the jump is a created range: the view stays a plain, shareable URL
    and a page there costs what the first page costs.
    """
    text = _text(day, "date").strip()
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError.single("date", "must be a date, like 2026-01-31") from None
    # The day's bounds in ``zone`` (a local day can be 23 or 25 hours long), in UTC.
    start = dt.datetime.combine(date, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    ordering = query.ordering if query.ordering in ("created_at", "-created_at") else DEFAULT_ORDERING
    after, before = query.filters.created_after, query.filters.created_before
    if ordering == "-created_at":
        before = end
        after = after if after is not None and after < before else None
    else:
        after = start
        before = before if before is not None and before > after else None
    filters = dataclasses.replace(query.filters, created_after=after, created_before=before)
    return dataclasses.replace(query, filters=filters, ordering=ordering, cursor=None)


def page_size_options(*, default: int, maximum: int) -> list[dict[str, object]]:
    """The page sizes offered: the usual choices up to the maximum, plus the configured default."""
    sizes = sorted({size for size in PAGE_SIZE_CHOICES if size <= maximum} | {default})
    return [{"label": f"{size} rows", "value": str(size)} for size in sizes]
