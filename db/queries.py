"""Read functions: the only queries the API and the dashboard run. Each returns plain, serialisable values."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    any_,
    bindparam,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql

from db import aggregates, validation
from db import cursor as cursors
from db.errors import NotFound, ValidationError
from db.models import (
    STATUSES,
    UNFINISHED_LAST_ASC,
    UNFINISHED_LAST_DESC,
    duration_key,
    job_count_family_table,
    job_status_table,
    job_table,
)

# A list's sort key, descending with a leading "-"; ties are broken by id in the same direction.
Ordering = Literal[
    "-created_at", "created_at", "name", "-name", "updated_at", "-updated_at", "duration", "-duration"
]
ORDERINGS: tuple[Ordering, ...] = get_args(Ordering)
DEFAULT_ORDERING: Ordering = "-created_at"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_BUCKETS = 1000
# Time series count jobs per UTC hour or UTC day.
Bucket = Literal["hour", "day"]
BUCKETS: dict[Bucket, dt.timedelta] = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}

_JOB_COLUMNS = (
    job_table.c.id,
    job_table.c.name,
    job_table.c.family,
    job_table.c.current_status_type.label("status"),
    job_table.c.created_at,
    job_table.c.updated_at,
    job_table.c.duration_s.label("duration"),
)
# The sort keys of the lists: a column, or for the duration orderings the key expression of their index
# (unfinished jobs last both ways), selected as "sort_key". "duration" sorts ascending, "-duration"
# descending: the key differs with the ordering, not with the direction a page is read in.
SORT_KEY = "sort_key"
_UNFINISHED_KEY = {"duration": float(UNFINISHED_LAST_ASC), "-duration": float(UNFINISHED_LAST_DESC)}


def key_expression(key: str) -> ColumnElement[Any]:
    """The SQL sort key of ``key`` (a column name, or "duration" / "-duration")."""
    if key in _UNFINISHED_KEY:
        expression: ColumnElement[Any] = duration_key(job_table.c.duration_s, descending=key == "-duration")
        return expression
    return job_table.c[key]


def key_label(key: str) -> str:
    """The name of ``key``'s column in a list statement's rows."""
    return SORT_KEY if key in _UNFINISHED_KEY else key


def row_key(key: str) -> str:
    """The row field a cursor of ``key`` remembers (the duration, null for an unfinished job)."""
    return "duration" if key in _UNFINISHED_KEY else key


def bind_key(key: str, value: Any) -> Any:
    """A cursor's remembered value as the sort key the statement compares (unfinished: the sentinel)."""
    if key in _UNFINISHED_KEY and value is None:
        return _UNFINISHED_KEY[key]
    return value


def _key_type(key: str) -> type[str] | type[dt.datetime] | type[float]:
    if key in _UNFINISHED_KEY:
        return float
    return str if key == "name" else dt.datetime


_LIST_COLUMN_NAMES = tuple(column.key for column in _JOB_COLUMNS)
_EVENT_COLUMNS = (
    job_status_table.c.id,
    job_status_table.c.status_type.label("status"),
    job_status_table.c.timestamp,
    job_status_table.c.message,
)


# Filters that are a range of one column, and the sort keys on whose index that range is an index range.
RANGE_KEYS = {
    "created": ("created_at",),
    "updated": ("updated_at",),
    "duration": ("duration", "-duration"),
}


@dataclass(frozen=True)
class JobFilter:
    """The filters of the job list, validated and normalised (equal filters compare equal)."""

    statuses: tuple[str, ...] = ()
    q: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    family: str | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    # Only the jobs in PENDING or RUNNING for longer than their family's threshold (db/insights.py).
    stuck: bool = False

    @classmethod
    def build(
        cls,
        *,
        statuses: Iterable[object] | None = None,
        q: object = None,
        created_after: object = None,
        created_before: object = None,
        family: object = None,
        updated_after: object = None,
        updated_before: object = None,
        min_duration: object = None,
        max_duration: object = None,
        stuck: object = None,
    ) -> JobFilter:
        """Validate raw filter values; raise ValidationError naming each bad field."""
        values = validation.collect(
            statuses=lambda: validation.statuses(statuses),
            q=lambda: validation.search_text(q),
            created_after=lambda: validation.optional_timestamp(created_after, "created_after"),
            created_before=lambda: validation.optional_timestamp(created_before, "created_before"),
            family=lambda: validation.family(family),
            updated_after=lambda: validation.optional_timestamp(updated_after, "updated_after"),
            updated_before=lambda: validation.optional_timestamp(updated_before, "updated_before"),
            min_duration=lambda: validation.optional_duration(min_duration, "min_duration"),
            max_duration=lambda: validation.optional_duration(max_duration, "max_duration"),
            stuck=lambda: validation.flag(stuck, "stuck"),
        )
        built = cls(**values)
        if built.created_after and built.created_before and built.created_after >= built.created_before:
            raise ValidationError.single("created_before", "must be later than created_after")
        if built.updated_after and built.updated_before and built.updated_after >= built.updated_before:
            raise ValidationError.single("updated_before", "must be later than updated_after")
        if (
            built.min_duration is not None
            and built.max_duration is not None
            and built.min_duration > built.max_duration
        ):
            raise ValidationError.single("max_duration", "must not be less than min_duration")
        return built

    def ranges(self) -> dict[str, bool]:
        """Which range filters are set."""
        return {
            "created": self.created_after is not None or self.created_before is not None,
            "updated": self.updated_after is not None or self.updated_before is not None,
            "duration": self.min_duration is not None or self.max_duration is not None,
        }

    def aligned(self, key: str) -> JobFilter:
        """These filters without what the ordering ``key``'s index cannot serve as a range: the name
        search and the ranges of other columns (those are tested row by row, by a bounded walk)."""
        drop: dict[str, Any] = {"q": None}
        if key not in RANGE_KEYS["created"]:
            drop.update(created_after=None, created_before=None)
        if key not in RANGE_KEYS["updated"]:
            drop.update(updated_after=None, updated_before=None)
        if key not in RANGE_KEYS["duration"]:
            drop.update(min_duration=None, max_duration=None)
        return dataclasses.replace(self, **drop)

    def walks(self, key: str) -> bool:
        """Whether a list in ordering ``key`` tests some filter row by row (a bounded walk)."""
        return self.aligned(key) != self

    def conditions(self, key: str = "created_at", *, family_any: bool = False) -> list[ColumnElement[bool]]:
        """WHERE clauses for everything but the statuses (which the list may split into branches), for a
        list in ordering ``key`` (a duration range is written on that ordering's sort key); with
        ``family_any`` the family is matched as ``= ANY(array)`` (PostgreSQL; see _jobs_page_statement)."""
        conds: list[ColumnElement[bool]] = []
        if self.family is not None and family_any:
            conds.append(job_table.c.family == any_(postgresql.array([self.family])))
        elif self.family is not None:
            conds.append(job_table.c.family == self.family)
        if self.q:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conds.append(job_table.c.name.ilike(f"%{escaped}%", escape="\\"))
        c = job_table.c
        conds.extend(self.range_conditions(c.created_at, c.updated_at, None))
        if self.ranges()["duration"]:
            conds.extend(self._duration_on_key(key))
        return conds

    def range_conditions(self, created: Any, updated: Any, duration: Any) -> list[ColumnElement[bool]]:
        """The range filters on these column expressions (``duration`` None: left out)."""
        conds: list[ColumnElement[bool]] = []
        if self.created_after:
            conds.append(created >= self.created_after)
        if self.created_before:
            conds.append(created < self.created_before)
        if self.updated_after:
            conds.append(updated >= self.updated_after)
        if self.updated_before:
            conds.append(updated < self.updated_before)
        if duration is not None:
            if self.min_duration is not None:
                conds.append(duration >= self.min_duration)
            if self.max_duration is not None:
                conds.append(duration <= self.max_duration)
            if self.ranges()["duration"]:
                conds.append(duration.is_not(None))
        return conds

    def _duration_on_key(self, key: str) -> list[ColumnElement[bool]]:
        """The duration range as a range of ``key``'s sort key (unfinished jobs, whose key is the
        sentinel past every duration, fall outside it)."""
        sort_key = key_expression(key if key in _UNFINISHED_KEY else "duration")
        low = self.min_duration if self.min_duration is not None else 0.0
        high = self.max_duration if self.max_duration is not None else validation.MAX_DURATION_S
        return [sort_key >= low, sort_key <= high]

    def branches(self) -> tuple[str, ...]:
        """The statuses a list reads as one ordered branch each: the chosen ones, or with a family every
        status (its indexes are per family and status)."""
        if self.family is not None and not self.statuses:
            return STATUSES
        return self.statuses

    def split(self, conn: Connection) -> bool:
        """Whether the list is read as ordered branches merged by PostgreSQL's Merge Append."""
        return len(self.branches()) > 1 and conn.dialect.name == "postgresql"

    def status_condition(self) -> ColumnElement[bool] | None:
        """The status clause, or None when every status is wanted."""
        if not self.statuses or len(self.statuses) == len(STATUSES):
            return None
        if len(self.statuses) == 1:
            return job_table.c.current_status_type == self.statuses[0]
        return job_table.c.current_status_type.in_(self.statuses)


@dataclass(frozen=True)
class Page:
    """One page of rows and the opaque cursors of its neighbours (None at either end)."""

    results: list[dict[str, Any]]
    next_cursor: str | None
    previous_cursor: str | None
    # True when this first page holds every matching row: then its length is the exact count.
    whole: bool = False


@dataclass(frozen=True)
class Count:
    """How many jobs match: ``exact``, or an ``estimate`` by the planner, or ``at_least`` this many."""

    value: int
    kind: Literal["exact", "estimate", "at_least"]

    @property
    def exact(self) -> bool:
        """True when ``value`` is the exact number."""
        return self.kind == "exact"


@dataclass(frozen=True)
class Totals:
    """Jobs per current status."""

    by_status: dict[str, int]
    total: int
    exact: bool
    as_of: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def bucket_end(at: dt.datetime, bucket: Bucket) -> dt.datetime:
    """Where the UTC ``bucket`` holding ``at`` ends (so a range up to it has no partial last bucket)."""
    start = at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    return start + BUCKETS[bucket]


def _ordering(value: object) -> tuple[str, bool]:
    """The sort key (a column name, or "duration" / "-duration") and whether it is read descending."""
    if value not in ORDERINGS:
        raise ValidationError.single("ordering", f"must be one of {', '.join(ORDERINGS)}")
    text = str(value)
    if text in _UNFINISHED_KEY:
        return text, text.startswith("-")
    return text.lstrip("-"), text.startswith("-")


def _order(key: Any, tiebreak: Any, descending: bool) -> list[Any]:
    return [key.desc(), tiebreak.desc()] if descending else [key.asc(), tiebreak.asc()]


def _after_cursor(key: Any, tiebreak: Any, descending: bool) -> ColumnElement[bool]:
    """Rows past the cursor position, which is bound at execution (``cursor_key``, ``cursor_id``)."""
    here = tuple_(bindparam("cursor_key", type_=key.type), bindparam("cursor_id", type_=tiebreak.type))
    row = tuple_(key, tiebreak)
    return row < here if descending else row > here


# Building a statement costs more Python than running it: each distinct shape is built once per process
# and executed with the cursor position as bound parameters (hot views repeat their filters).
@functools.lru_cache(maxsize=1024)
def _jobs_page_statement(
    filters: JobFilter,
    key_name: str,
    split: bool,
    descending: bool,
    with_cursor: bool,
    limit: int | None,
    *,
    family_order: bool = False,
) -> Select[Any]:
    """The page query for ``filters``; with ``split``, one ordered branch per status, merged.

    With ``family_order`` (PostgreSQL, a family filter), the family is matched as ``= ANY(array)`` and
    leads the ORDER BY: an equality would let the planner drop it from the order and read a family from
    a global (key, id) index, filtering every other family out (unbounded for a family that is rare at
    that end of the list); ordered by family first, only the family's own indexes serve the page.
    """
    key, tiebreak = key_expression(key_name), job_table.c.id
    label = key_label(key_name)
    columns = (*_JOB_COLUMNS, key.label(SORT_KEY)) if label == SORT_KEY else _JOB_COLUMNS
    where = filters.conditions(key_name, family_any=family_order)
    if with_cursor:
        where.append(_after_cursor(key, tiebreak, descending))
    lead = [job_table.c.family.desc() if descending else job_table.c.family.asc()] if family_order else []
    status_cond = filters.status_condition()
    if not split:
        if status_cond is not None:
            where.append(status_cond)
        order = [*lead, *_order(key, tiebreak, descending)]
        return select(*columns).where(*where).order_by(*order).limit(limit)
    # Each branch is ordered and limited itself: that is what lets PostgreSQL plan a Merge Append.
    union = union_all(
        *(
            select(*columns)
            .where(job_table.c.current_status_type == status, *where)
            .order_by(*lead, *_order(key, tiebreak, descending))
            .limit(limit)
            for status in filters.branches()
        )
    ).subquery()
    outer_lead = [union.c.family.desc() if descending else union.c.family.asc()] if family_order else []
    outer = [*outer_lead, *_order(union.c[label], union.c.id, descending)]
    return select(union).order_by(*outer).limit(limit)


# A family's page must be its ordered index walk even where the planner would rather read a small
# (family, status) set whole and sort it: session settings around that one statement (reads run in
# autocommit, where SET LOCAL would end with the SET itself).
_ORDERED_ONLY = "SET enable_sort = off; SET enable_bitmapscan = off"
_PLANNER_DEFAULTS = "RESET enable_sort; RESET enable_bitmapscan"


@contextlib.contextmanager
def ordered_only(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, plan the statements inside as ordered index scans only (restored afterwards)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql(_ORDERED_ONLY)
    try:
        yield
    finally:
        conn.exec_driver_sql(_PLANNER_DEFAULTS)


@functools.lru_cache(maxsize=64)
def _history_page_statement(descending: bool, with_cursor: bool, limit: int) -> Select[Any]:
    """The page query of one job's events (``job_id`` bound at execution)."""
    key, tiebreak = job_status_table.c.timestamp, job_status_table.c.id
    where = [job_status_table.c.job_id == bindparam("job_id", type_=job_status_table.c.job_id.type)]
    if with_cursor:
        where.append(_after_cursor(key, tiebreak, descending))
    return select(*_EVENT_COLUMNS).where(*where).order_by(*_order(key, tiebreak, descending)).limit(limit)


def _keyset_page(
    conn: Connection,
    *,
    statement: Callable[[bool, bool, int], Select[Any]],
    params: dict[str, Any],
    key_name: str,
    descending: bool,
    page_size: int,
    cursor: str | None,
    scope: str,
    key_type: type[str] | type[dt.datetime] | type[float],
) -> Page:
    """Fetch one keyset page ordered by (key, id): ``statement(descending, with_cursor, limit)`` makes
    the query; its cost depends on the page size, not on how deep the page is."""
    position = cursors.decode(cursor, scope=scope, key_type=key_type) if cursor is not None else None
    backwards = position is not None and position.direction == "prev"
    stmt = statement(descending != backwards, position is not None, page_size + 1)
    if position is not None:
        params = {**params, "cursor_key": bind_key(key_name, position.key), "cursor_id": position.id}
    result = conn.execute(stmt, params)
    names = list(result.keys())
    # Plain tuples zipped into dicts: several times cheaper than SQLAlchemy's RowMapping per row.
    rows = [dict(zip(names, row, strict=True)) for row in result.all()]
    if SORT_KEY in names:
        for row in rows:
            del row[SORT_KEY]
    more = len(rows) > page_size
    del rows[page_size:]
    if backwards:
        rows.reverse()

    def token(direction: cursors.Direction, row: dict[str, Any]) -> str:
        return cursors.encode(cursors.Cursor(direction, row[row_key(key_name)], row["id"]), scope=scope)

    has_next = (backwards or more) and bool(rows)
    has_previous = (more if backwards else position is not None) and bool(rows)
    return Page(
        results=rows,
        next_cursor=token("next", rows[-1]) if has_next else None,
        previous_cursor=token("prev", rows[0]) if has_previous else None,
        whole=position is None and not more,
    )


def list_jobs(
    conn: Connection,
    *,
    filters: JobFilter = JobFilter(),
    ordering: str = DEFAULT_ORDERING,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_page_size: int = MAX_PAGE_SIZE,
    cursor: str | None = None,
) -> Page:
    """One page of jobs (list columns only) matching ``filters`` in ``ordering``, by keyset cursor."""
    if filters.stuck:
        from db import insights  # stuck jobs are read as the stuck read walks them (db/insights.py)

        return insights.stuck_list(
            conn,
            filters=filters,
            ordering=ordering,
            page_size=page_size,
            max_page_size=max_page_size,
            cursor=cursor,
        )
    key_name, descending = _ordering(ordering)
    if filters.walks(key_name):
        # A name search, or a range of another column than the ordering's, walks the list's index with
        # a bounded budget (db/search.py).
        from db import search

        return search.list_matches(
            conn,
            filters=filters,
            ordering=ordering,
            page_size=page_size,
            max_page_size=max_page_size,
            cursor=cursor,
        )
    page_size = validation.page_size(page_size, maximum=max_page_size)
    # Several statuses are read as one ordered branch each on PostgreSQL (see _jobs_page_statement).
    family_order = filters.family is not None and conn.dialect.name == "postgresql"
    with ordered_only(conn) if family_order else contextlib.nullcontext():
        return _keyset_page(
            conn,
            statement=functools.partial(
                _jobs_page_statement, filters, key_name, filters.split(conn), family_order=family_order
            ),
            params={},
            key_name=key_name,
            descending=descending,
            page_size=page_size,
            cursor=cursor,
            scope=cursors.fingerprint("jobs", ordering, filters),
            key_type=_key_type(key_name),
        )


def view_statement(conn: Connection, *, filters: JobFilter, ordering: str) -> Select[Any]:
    """Every job of the list's view (``filters`` in ``ordering``), unpaged: the list's own page query
    without a cursor or a limit, so that an export holds exactly the rows the pages hold, in their order.
    """
    key_name, descending = _ordering(ordering)
    family_order = filters.family is not None and conn.dialect.name == "postgresql"
    return _jobs_page_statement(
        filters, key_name, filters.split(conn), descending, False, None, family_order=family_order
    )


def count_jobs(conn: Connection, *, filters: JobFilter = JobFilter(), page: Page | None = None) -> Count:
    """How many jobs match ``filters``.

    Without a name search the count is exact at any size: statuses and the created range are summed
    from the count tables of :mod:`db.aggregates` (rows per hour or day of the range, never per job).
    A name search is counted within the search budget of :mod:`db.search`: exact when the matches fit
    in it, else a lower bound. Given the ``page`` just read for ``filters``, a first page that holds
    every match is its own count.
    """
    if filters.stuck:
        from db import insights  # at most STUCK_COUNT_CAP per family and status (db/insights.py)

        return insights.stuck_list_count(conn, filters=filters)
    ranges = filters.ranges()
    if filters.q or ranges["updated"] or ranges["duration"]:
        # The count tables know statuses, families and creation times only: the rest is counted by a
        # bounded walk (db/search.py), exact within its budget.
        from db import search

        return search.count_matches(conn, filters=filters, page=page)
    if page is not None and page.whole:
        return Count(len(page.results), "exact")  # the first page of ``filters`` is all there is
    if filters.family is not None:
        return _family_count(conn, filters)
    return Count(
        aggregates.count(
            conn, statuses=filters.statuses, since=filters.created_after, until=filters.created_before
        ),
        "exact",
    )


# A family's count over a created range is read from its index, at most this many entries per status.
FAMILY_COUNT_BUDGET = 1_000


def _family_count(conn: Connection, filters: JobFilter) -> Count:
    """A family's count: exact from ``job_count_family`` without a created range; with one, counted from
    the family's (family, status, created_at, id) index, at most FAMILY_COUNT_BUDGET entries per status
    (exact within that, else a lower bound)."""
    statuses = filters.statuses or STATUSES
    if filters.created_after is None and filters.created_before is None:
        t = job_count_family_table
        total = conn.execute(
            select(func.coalesce(func.sum(t.c.jobs), 0)).where(
                t.c.family == filters.family, t.c.status.in_(statuses)
            )
        ).scalar_one()
        return Count(int(total), "exact")
    # Ordered by family first, as a family's page (see _jobs_page_statement): only its index serves it.
    postgres = conn.dialect.name == "postgresql"
    order = [job_table.c.family, job_table.c.created_at, job_table.c.id] if postgres else []
    branches = [
        select(func.count())
        .select_from(
            select(literal(1))
            .where(
                job_table.c.current_status_type == status,
                *filters.conditions("created_at", family_any=postgres),
            )
            .order_by(*order)
            .limit(FAMILY_COUNT_BUDGET + 1)
            .subquery()
        )
        .scalar_subquery()
        for status in statuses
    ]
    with ordered_only(conn):  # a bitmap scan would read the whole range before the LIMIT
        counts = conn.execute(select(*branches)).one()
    if any(n > FAMILY_COUNT_BUDGET for n in counts):
        return Count(sum(min(n, FAMILY_COUNT_BUDGET) for n in counts), "at_least")
    return Count(sum(counts), "exact")


def list_and_count_jobs(
    conn: Connection, *, filters: JobFilter = JobFilter(), **paging: Any
) -> tuple[Page, Count]:
    """What a list view shows: one page of :func:`list_jobs` (``paging`` takes its ordering, page sizes
    and cursor) and the :func:`count_jobs` of the same filters."""
    page = list_jobs(conn, filters=filters, **paging)
    return page, count_jobs(conn, filters=filters, page=page)


def status_totals(conn: Connection) -> Totals:
    """Jobs per current status, exact at any size (summed from the all-time count rows)."""
    by_status = aggregates.totals(conn)
    return Totals(by_status=by_status, total=sum(by_status.values()), exact=True)


def recent_failures(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` jobs whose current status is FAILED and whose last update is in [since, until).

    One backward range scan of the ``(status, updated_at, id)`` index, stopped at ``limit``.
    """
    updated = job_table.c.updated_at
    stmt = _recent_failures_statement(limit)
    result = conn.execute(
        stmt, {"since": validation.timestamp(since, "since"), "until": validation.timestamp(until, "until")}
    )
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.all()] if updated is not None else []


@functools.lru_cache(maxsize=16)
def _recent_failures_statement(limit: int) -> Select[Any]:
    updated = job_table.c.updated_at
    return (
        select(*_JOB_COLUMNS)
        .where(
            job_table.c.current_status_type == "FAILED",
            updated >= bindparam("since", type_=updated.type),
            updated < bindparam("until", type_=updated.type),
        )
        .order_by(updated.desc(), job_table.c.id.desc())
        .limit(limit)
    )


def get_job(conn: Connection, *, job_id: int) -> dict[str, Any]:
    """One job with the number of events in its history; NotFound when it does not exist."""
    job_id = validation.job_id(job_id)
    history_count = (
        select(func.count())
        .select_from(job_status_table)
        .where(job_status_table.c.job_id == job_table.c.id)
        .scalar_subquery()
    )
    row = (
        conn.execute(
            select(*_JOB_COLUMNS, job_table.c.status_since, history_count.label("history_count")).where(
                job_table.c.id == job_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("job", job_id)
    return dict(row)


def job_history(
    conn: Connection,
    *,
    job_id: int,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_page_size: int = MAX_PAGE_SIZE,
    cursor: str | None = None,
) -> Page:
    """A job's events, newest first (greatest (timestamp, id)), by keyset cursor; NotFound if no job."""
    job_id = validation.job_id(job_id)
    page_size = validation.page_size(page_size, maximum=max_page_size)
    if conn.execute(select(job_table.c.id).where(job_table.c.id == job_id)).first() is None:
        raise NotFound("job", job_id)
    return _keyset_page(
        conn,
        statement=_history_page_statement,
        params={"job_id": job_id},
        key_name="timestamp",
        descending=True,
        page_size=page_size,
        cursor=cursor,
        scope=cursors.fingerprint("history", job_id),
        key_type=dt.datetime,
    )


def created_timeseries(
    conn: Connection,
    *,
    bucket: str,
    since: dt.datetime,
    until: dt.datetime,
    statuses: Iterable[object] | None = None,
) -> list[dict[str, Any]]:
    """Jobs created per (UTC hour or day, current status) in [since, until), exactly, from the count
    tables: whole days and hours are read as rows, an edge inside an hour from the index."""
    if bucket not in BUCKETS:
        raise ValidationError.single("bucket", "must be hour or day")
    since = validation.timestamp(since, "since")
    until = validation.timestamp(until, "until")
    if since >= until:
        raise ValidationError.single("until", "must be later than since")
    if (until - since) / BUCKETS[bucket] > MAX_BUCKETS:
        raise ValidationError.single("since", f"the range spans more than {MAX_BUCKETS} {bucket} buckets")
    filters = JobFilter.build(statuses=statuses)
    counts = aggregates.created_counts(
        conn, since=since, until=until, statuses=filters.statuses, hourly=bucket == "hour"
    )
    return [
        {"bucket": start, "status": status, "count": n} for (start, status), n in sorted(counts.items()) if n
    ]
