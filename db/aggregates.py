"""Counts kept by the write path, so that totals, time series and list counts cost what a page costs.

Three tables hold jobs by current status (docs/architecture.md, "Aggregates"):

- ``job_count_hour``: per (UTC hour the job was created in, current status, stripe);
- ``job_count_day``: the same per UTC day, so that long ranges sum few rows;
- ``job_count_total``: per (current status, stripe), all time.

Every write that creates a job, moves its current status or deletes it applies a +1/-1 *delta* to its
rows in the same transaction (see :mod:`db.writes`). Rows are striped by job id (``COUNT_STRIPES``,
``TOTAL_STRIPES``) so that concurrent writers to different jobs seldom wait on the same row; within one
statement rows are always locked in one order (hour, day, total; then by key) so writers cannot deadlock
on them. A read sums the stripes of the rows its range covers: a number of rows that grows with the
range, never with the number of jobs. A range edge inside an hour is counted from the job index for that
partial hour only, so every answer is exact.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, select, text, union_all

from db.models import (
    COUNT_STRIPES,
    STATUSES,
    TOTAL_STRIPES,
    as_utc,
    job_count_day_table,
    job_count_hour_table,
    job_count_total_table,
    job_table,
)

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

# The upsert of the three count tables from a relation ``d(created_at, job_id, status, n)`` of deltas,
# as data-modifying CTEs: the write statements of db.writes append it to their own CTEs (through
# db.history.with_history), so a write and its counts are one statement and one round trip. Rows whose
# deltas cancel out are not touched.
POSTGRES_COUNT_CTES = f"""
, hour_rows AS (
    INSERT INTO job_count_hour AS c (starts_at, status, stripe, jobs)
    SELECT date_trunc('hour', d.created_at, 'UTC'), d.status, d.job_id % {COUNT_STRIPES}, sum(d.n)
    FROM d GROUP BY 1, 2, 3 HAVING sum(d.n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (starts_at, status, stripe) DO UPDATE SET jobs = c.jobs + excluded.jobs
), day_rows AS (
    INSERT INTO job_count_day AS c (starts_at, status, stripe, jobs)
    SELECT date_trunc('day', d.created_at, 'UTC'), d.status, d.job_id % {COUNT_STRIPES}, sum(d.n)
    FROM d GROUP BY 1, 2, 3 HAVING sum(d.n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (starts_at, status, stripe) DO UPDATE SET jobs = c.jobs + excluded.jobs
), total_rows AS (
    INSERT INTO job_count_total AS c (status, stripe, jobs)
    SELECT d.status, d.job_id % {TOTAL_STRIPES}, sum(d.n)
    FROM d GROUP BY 1, 2 HAVING sum(d.n) <> 0 ORDER BY 1, 2
    ON CONFLICT (status, stripe) DO UPDATE SET jobs = c.jobs + excluded.jobs
)
"""  # noqa: S608 - fixed table names and constants


def hour_start(value: dt.datetime) -> dt.datetime:
    """The start of the UTC hour holding ``value``."""
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def day_start(value: dt.datetime) -> dt.datetime:
    """The start of the UTC day holding ``value``."""
    return as_utc(value).replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_to(value: dt.datetime, floor: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """``value`` rounded up to a period boundary, given the start of its period (``floor``) and its length."""
    return floor if floor == value else floor + step


# --------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class _Segments:
    """A created range cut into whole days, whole hours and at most two partial hours (half-open)."""

    days: tuple[tuple[dt.datetime | None, dt.datetime | None], ...]
    hours: tuple[tuple[dt.datetime, dt.datetime], ...]
    partial: tuple[tuple[dt.datetime, dt.datetime], ...]


def _segments(since: dt.datetime | None, until: dt.datetime | None, *, use_days: bool) -> _Segments:
    """Cut [since, until) (either end open) so that each piece is read from the cheapest table."""
    days: list[tuple[dt.datetime | None, dt.datetime | None]] = []
    low: dt.datetime | None
    high: dt.datetime | None
    hours: list[tuple[dt.datetime, dt.datetime]] = []
    partial: list[tuple[dt.datetime, dt.datetime]] = []
    if (
        since is not None
        and until is not None
        and hour_start(since) == hour_start(until - dt.timedelta.resolution)
    ):
        # Both ends inside one hour: that hour alone, from the index (or the hour row if it is whole).
        if since == hour_start(since) and until == since + HOUR:
            hours.append((since, until))
        else:
            partial.append((since, until))
        return _Segments((), tuple(hours), tuple(partial))
    low = None if since is None else ceil_to(since, hour_start(since), HOUR)
    high = None if until is None else hour_start(until)
    if since is not None and low is not None and since < low:
        partial.append((since, low))
    if until is not None and high is not None and high < until:
        partial.append((high, until))
    if not use_days:
        assert low is not None and high is not None  # hour buckets always come with a bounded range
        if low < high:
            hours.append((low, high))
        return _Segments((), tuple(hours), tuple(partial))
    day_low = None if low is None else ceil_to(low, day_start(low), DAY)
    day_high = None if high is None else day_start(high)
    if day_low is not None and day_high is not None and day_low >= day_high:
        if low is not None and high is not None and low < high:
            hours.append((low, high))
        return _Segments((), tuple(hours), tuple(partial))
    if low is not None and day_low is not None and low < day_low:
        hours.append((low, day_low))
    if high is not None and day_high is not None and day_high < high:
        hours.append((day_high, high))
    days.append((day_low, day_high))
    return _Segments(tuple(days), tuple(hours), tuple(partial))


def _status_filter(column: Any, statuses: tuple[str, ...]) -> list[Any]:
    if not statuses or len(statuses) == len(STATUSES):
        return []
    return [column.in_(statuses)]


@functools.lru_cache(maxsize=256)
def _created_statement(shape: tuple[tuple[str, bool, bool], ...], statuses: tuple[str, ...]) -> Select[Any]:
    """UNION ALL of one grouped read per segment; ``shape`` is (kind, has lower end, has upper end) and
    each segment's ends are bound as ``lo<i>`` / ``hi<i>``. Rows are (starts_at, status, jobs), where a
    partial hour's ``starts_at`` is its first job's creation time (inside the hour it counts for)."""
    parts: list[Select[Any]] = []
    for index, (kind, has_low, has_high) in enumerate(shape):
        low: Any = bindparam(f"lo{index}")
        high: Any = bindparam(f"hi{index}")
        if kind == "partial":
            created, status = job_table.c.created_at, job_table.c.current_status_type
            where = [created >= low, created < high, *_status_filter(status, statuses)]
            parts.append(
                select(
                    func.min(created).label("starts_at"), status.label("status"), func.count().label("jobs")
                )
                .where(and_(*where))
                .group_by(status)
            )
            continue
        table = job_count_day_table if kind == "day" else job_count_hour_table
        where = _status_filter(table.c.status, statuses)
        if has_low:
            where.append(table.c.starts_at >= low)
        if has_high:
            where.append(table.c.starts_at < high)
        parts.append(
            select(table.c.starts_at, table.c.status, func.sum(table.c.jobs).label("jobs"))
            .where(*where)
            .group_by(table.c.starts_at, table.c.status)
        )
    return parts[0] if len(parts) == 1 else union_all(*parts)  # type: ignore[return-value]


def created_counts(
    conn: Connection,
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    statuses: tuple[str, ...] = (),
    hourly: bool = False,
) -> dict[tuple[dt.datetime, str], int]:
    """Exactly how many jobs were created in [since, until), per (UTC hour or day start, status).

    Whole days are read from the day table (unless ``hourly``), whole hours from the hour table, and a
    partial hour at either edge from the job index. Buckets with no jobs may be left out.
    """
    segments = _segments(since, until, use_days=not hourly)
    shape: list[tuple[str, bool, bool]] = []
    params: dict[str, Any] = {}
    for kind, pieces in (("day", segments.days), ("hour", segments.hours), ("partial", segments.partial)):
        for low, high in pieces:
            index = len(shape)
            shape.append((kind, low is not None, high is not None))
            params[f"lo{index}"], params[f"hi{index}"] = low, high
    if not shape:
        return {}
    stmt = _created_statement(tuple(shape), statuses)
    rows = conn.execute(stmt, {k: v for k, v in params.items() if v is not None}).all()
    start_of = hour_start if hourly else day_start
    counts: dict[tuple[dt.datetime, str], int] = defaultdict(int)
    for starts_at, status, jobs in rows:
        if isinstance(starts_at, str):  # SQLite hands a partial hour's min(created_at) back as text
            starts_at = dt.datetime.fromisoformat(starts_at)
        # Whole hours and days already start their bucket; a partial hour's first time is cut to it.
        counts[(start_of(starts_at), str(status))] += int(jobs)
    return counts


_TOTALS = select(job_count_total_table.c.status, func.sum(job_count_total_table.c.jobs)).group_by(
    job_count_total_table.c.status
)


def totals(conn: Connection) -> dict[str, int]:
    """Jobs per current status, all time, exactly (a sum over at most 5 x TOTAL_STRIPES rows)."""
    counts = {str(status): int(n) for status, n in conn.execute(_TOTALS)}
    return {status: counts.get(status, 0) for status in STATUSES}


def count(
    conn: Connection,
    *,
    statuses: tuple[str, ...] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """Exactly how many jobs have one of ``statuses`` (all when empty) and were created in [since, until)."""
    wanted = set(statuses or STATUSES)
    if since is None and until is None:
        return sum(n for status, n in totals(conn).items() if status in wanted)
    return sum(created_counts(conn, since=since, until=until, statuses=tuple(statuses)).values())


# ----------------------------------------------------------------------------- rebuild and recount


def _recount_sql(dialect: str) -> dict[str, tuple[tuple[str, ...], str]]:
    """Per count table, its key columns and the statement that recounts it from ``job`` (the migrations'
    backfill, by the same rule); ``job_count_family`` (db/history.py) is a count of ``job`` as well."""
    if dialect == "postgresql":
        hour, day = "date_trunc('hour', created_at, 'UTC')", "date_trunc('day', created_at, 'UTC')"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00.000000', created_at)"
        day = "strftime('%Y-%m-%d 00:00:00.000000', created_at)"
    status, stripe = "current_status_type AS status", "id % {} AS stripe"
    by_time = "SELECT {} AS starts_at, {}, {}, count(*) AS jobs FROM job GROUP BY 1, 2, 3"
    by_created = ("starts_at", "status", "stripe")
    by_status = "SELECT {}{}, {}, count(*) AS jobs FROM job GROUP BY {}"
    return {
        "job_count_hour": (by_created, by_time.format(hour, status, stripe.format(COUNT_STRIPES))),
        "job_count_day": (by_created, by_time.format(day, status, stripe.format(COUNT_STRIPES))),
        "job_count_total": (
            ("status", "stripe"),
            by_status.format("", status, stripe.format(TOTAL_STRIPES), "1, 2"),
        ),
        "job_count_family": (
            ("family", "status", "stripe"),
            by_status.format("family, ", status, stripe.format(COUNT_STRIPES), "1, 2, 3"),
        ),
    }


@dataclass(frozen=True)
class Drift:
    """One count row that differs from a recount of ``job``."""

    table: str
    key: tuple[Any, ...]
    kept: int
    recounted: int

    def describe(self) -> str:
        """One line for ``jobdash db check``."""
        parts = []
        for part in self.key:
            parts.append(as_utc(part).isoformat() if isinstance(part, dt.datetime) else str(part))
        return f"{self.table} ({', '.join(parts)}): kept {self.kept}, recounted {self.recounted}"


def _normalise_key(key: Iterable[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for part in key:
        if isinstance(part, str) and len(part) >= 19 and part[4] == "-" and part[10] == " ":
            part = dt.datetime.fromisoformat(part)
        if isinstance(part, dt.datetime):
            part = as_utc(part)
        out.append(int(part) if isinstance(part, int) else part)
    return tuple(out)


def drift(conn: Connection) -> list[Drift]:
    """Every count row (per stripe) whose value differs from a recount of ``job`` (a full scan)."""
    found: list[Drift] = []
    for table, (keys, recount) in _recount_sql(conn.dialect.name).items():
        kept = {
            _normalise_key(row[:-1]): int(row[-1])
            for row in conn.execute(text(f"SELECT {', '.join(keys)}, jobs FROM {table}"))  # noqa: S608
        }
        fresh = {_normalise_key(row[:-1]): int(row[-1]) for row in conn.execute(text(recount))}
        for key in sorted(set(kept) | set(fresh), key=repr):
            if kept.get(key, 0) != fresh.get(key, 0):
                found.append(Drift(table, key, kept.get(key, 0), fresh.get(key, 0)))
    return found


def rebuild(conn: Connection) -> None:
    """Recount every table from ``job`` in the caller's transaction, with writers locked out meanwhile."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE job IN SHARE MODE")
    for table, (columns, recount) in _recount_sql(conn.dialect.name).items():
        conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        recount = f"({', '.join((*columns, 'jobs'))}) {recount}"
        conn.execute(text(f"INSERT INTO {table} {recount}"))
