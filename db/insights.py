"""Insight reads over the history aggregates (db/history.py): each costs rows per period, never per job.

- :func:`status_mix_as_of`: how many jobs were in each status at any past hour;
- :func:`transition_counts`: transitions (from -> to) per family over a range of whole hours;
- :func:`disallowed_transitions`: the flagged transitions, newest first, keyset-paged;
- :func:`time_in_state`: p50 / p95 / p99 of the time spent in each status, per family, over whole days;
- :func:`job_time_in_state`: one job's stays beside its family's p50 / p95 (:func:`family_percentiles`);
- :func:`stuck_jobs`: PENDING or RUNNING jobs in that status for longer than their family's p99;
- :func:`family_counts`: the admitted families and their jobs per current status.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    func,
    literal,
    select,
    text,
    tuple_,
    union_all,
)

from db import cursor as cursors
from db import deltas, families, lifecycle, timeline, validation
from db.aggregates import DAY, HOUR, ceil_to, day_start, hour_start
from db.engine import driver_rows
from db.errors import NotFound, ValidationError
from db.history import histograms_sql, month_start, week_start
from db.models import (
    STATUSES,
    TERMINAL_STATUSES,
    UTCDateTime,
    job_count_family_table,
    job_count_total_table,
    job_disallowed_transition_table,
    job_family_table,
    job_mix_day_table,
    job_mix_hour_table,
    job_mix_month_table,
    job_state_time_day_table,
    job_state_time_week_table,
    job_status_table,
    job_table,
    job_transition_day_table,
    job_transition_hour_table,
)
from db.queries import (
    _LIST_COLUMN_NAMES,
    DEFAULT_ORDERING,
    Count,
    JobFilter,
    Page,
    Totals,
    _keyset_page,
    _order,
)

WEEK = dt.timedelta(days=7)
# Longest range a transitions or time-in-state read may cover (its cost grows with the range).
MAX_RANGE = dt.timedelta(days=400)
PERCENTILES = (0.5, 0.95, 0.99)
# Stuck jobs: a family's threshold for a status is the p99 of its stays in that status that ended in the
# current UTC week and the four before it (29 to 35 days of history, five rows per bucket). A family with
# fewer than STUCK_MIN_STAYS such stays has too little history for its p99 alone: its threshold is at
# least STUCK_FLOOR.
STUCK_STATUSES = tuple(status for status in STATUSES if status not in TERMINAL_STATUSES)  # PENDING, RUNNING
STUCK_WEEKS = 5
STUCK_MIN_STAYS = 100
STUCK_FLOOR = dt.timedelta(hours=1)


# The deltas of the log not yet folded into the aggregates (db/deltas.py; PostgreSQL only, SQLite writes
# none): every read adds them, in the statement that reads the aggregate rows (one snapshot).
_MIX_TAIL = text(deltas.MIX_TAIL).columns(at=UTCDateTime(), job_id=BigInteger(), status=String(), n=Integer())
_MOVE_TAIL = text(deltas.MOVE_TAIL).columns(
    at=UTCDateTime(), family=String(), from_status=String(), to_status=String(), n=Integer()
)


def _pieces(
    since: dt.datetime, until: dt.datetime, big: dt.timedelta, floor_big: Any
) -> tuple[list[tuple[dt.datetime, dt.datetime]], tuple[dt.datetime, dt.datetime] | None]:
    """Cut [since, until) into the whole ``big`` periods (one piece) and the small ends around them."""
    low = ceil_to(since, floor_big(since), big)
    high = floor_big(until)
    if low >= high:
        return [(since, until)], None
    small = [(a, b) for a, b in ((since, low), (high, until)) if a < b]
    return small, (low, high)


def _range(since: object, until: object, unit: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """[since, until) widened to whole units (hours or days); at most MAX_RANGE long."""
    low = validation.timestamp(since, "since")
    high = validation.timestamp(until, "until")
    if low >= high:
        raise ValidationError.single("until", "must be later than since")
    if high - low > MAX_RANGE:
        raise ValidationError.single("since", f"the range spans more than {MAX_RANGE.days} days")
    start = hour_start if unit == HOUR else day_start
    return start(low), ceil_to(high, start(high), unit)


# ------------------------------------------------------------------------------------------ status mix


def status_mix_as_of(conn: Connection, at: object) -> Totals:
    """The status mix of all jobs at the start of the UTC hour holding ``at`` (its ``as_of``), exactly.

    Each job counts in the status of its newest event before that instant (a job whose first event is
    later does not count). Kept as changes per hour, day and month (``job_mix_*``): the answer is
    today's totals minus the changes from that hour on, read as the whole months after it, the whole
    days before those, and the hours before those; one statement, so one snapshot.
    """
    as_of = hour_start(validation.timestamp(at, "as_of"))
    next_day = ceil_to(as_of, day_start(as_of), DAY)
    next_month = next_day if next_day.day == 1 else (month_start(next_day) + 32 * DAY).replace(day=1)
    totals = job_count_total_table
    parts: list[Select[Any]] = [select(totals.c.status, totals.c.jobs)]
    for table, low, high in (
        (job_mix_hour_table, as_of, next_day),
        (job_mix_day_table, next_day, next_month),
        (job_mix_month_table, next_month, None),
    ):
        where = [table.c.starts_at >= low]
        if high is not None:
            if low >= high:
                continue
            where.append(table.c.starts_at < high)
        parts.append(select(table.c.status, -table.c.jobs).where(*where))
    if conn.dialect.name == "postgresql":
        tail = _MIX_TAIL.subquery("mix_tail")
        parts.append(select(tail.c.status, -tail.c.n).where(tail.c.at >= as_of))
    union = union_all(*parts).subquery()
    rows = conn.execute(select(union.c[0], func.sum(union.c[1])).group_by(union.c[0])).all()
    counts = {str(status): int(n) for status, n in rows}
    by_status: dict[str, int] = {status: counts.get(status, 0) for status in STATUSES}
    return Totals(by_status=by_status, total=sum(by_status.values()), exact=True, as_of=as_of)


# ----------------------------------------------------------------------------------------- transitions


@dataclass(frozen=True)
class TransitionCounts:
    """Transitions per (family, from, to) in [since, until), whole UTC hours."""

    since: dt.datetime
    until: dt.datetime
    results: list[dict[str, Any]]


def _sum_rows(
    conn: Connection,
    pieces: Iterable[tuple[Table, dt.datetime, dt.datetime]],
    keys: tuple[str, ...],
    value: str,
    where: Iterable[Any] = (),
    where_of: Any = None,
    tail: Any = None,
) -> Counter[tuple[Any, ...]]:
    """sum(value) per keys over the rows of each (table, [low, high)), and over the deltas of ``tail``
    (a relation of keys, ``at`` and ``n``) at times in the union of those ranges, in one statement."""
    parts: list[Select[Any]] = []
    for table, low, high in pieces:
        conditions = [table.c.starts_at >= low, table.c.starts_at < high, *where]
        if where_of is not None:
            conditions.extend(where_of(table))
        parts.append(select(*(table.c[k] for k in keys), table.c[value].label("n")).where(*conditions))
    if tail is not None and parts:
        low, high = min(p[1] for p in pieces), max(p[2] for p in pieces)
        conditions = [tail.c.at >= low, tail.c.at < high, *(where_of(tail) if where_of is not None else ())]
        parts.append(select(*(tail.c[k] for k in keys), tail.c.n).where(*conditions))
    if not parts:
        return Counter()
    union = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    grouped = select(*(union.c[k] for k in keys), func.sum(union.c.n)).group_by(*(union.c[k] for k in keys))
    width = len(keys)
    # Fetched whole (row by row through the result costs more than the query at a few thousand rows).
    return Counter({row[:width]: int(row[width]) for row in conn.execute(grouped).all() if row[width]})


def transition_counts(
    conn: Connection, *, since: object, until: object, family: str | None = None
) -> TransitionCounts:
    """How many times jobs went from one status to the next in [since, until) (widened to whole UTC
    hours), per family (one family if given), by the time of the later event; each with whether the
    lifecycle allows it. Whole days come from the day rows, the hours at either end from the hour rows."""
    low, high = _range(since, until, HOUR)
    small, big = _pieces(low, high, DAY, day_start)
    pieces = [(job_transition_hour_table, a, b) for a, b in small]
    if big is not None:
        pieces.append((job_transition_day_table, *big))

    def by_family(table: Table) -> list[Any]:
        return [] if family is None else [table.c.family == family]

    tail = _MOVE_TAIL.subquery("move_tail") if conn.dialect.name == "postgresql" else None
    counts = _sum_rows(
        conn, pieces, ("family", "from_status", "to_status"), "transitions", where_of=by_family, tail=tail
    )
    results = [
        {"family": f, "from_status": a, "to_status": b, "count": n, "allowed": lifecycle.allowed(a, b)}
        for (f, a, b), n in sorted(counts.items())
        if n
    ]
    return TransitionCounts(since=low, until=high, results=results)


@functools.lru_cache(maxsize=64)
def _flags_statement(descending: bool, with_cursor: bool, limit: int, by_family: bool) -> Select[Any]:
    t = job_disallowed_transition_table
    at: Any = t.c.at
    where = [at >= bindparam("since", type_=at.type), at < bindparam("until", type_=at.type)]
    if by_family:
        where.append(t.c.family == bindparam("family"))
    if with_cursor:
        here = tuple_(bindparam("cursor_key", type_=at.type), bindparam("cursor_id", type_=t.c.event_id.type))
        row = tuple_(at, t.c.event_id)
        where.append(row < here if descending else row > here)
    return (
        select(
            t.c.event_id.label("id"),
            t.c.job_id,
            t.c.family,
            t.c.from_status,
            t.c.to_status,
            at,
        )
        .where(*where)
        .order_by(*_order(at, t.c.event_id, descending))
        .limit(limit)
    )


def disallowed_transitions(
    conn: Connection,
    *,
    since: object,
    until: object,
    family: str | None = None,
    page_size: int,
    max_page_size: int,
    cursor: str | None = None,
) -> Page:
    """The transitions the lifecycle does not allow, newest first, by keyset cursor (rows: ``id`` is the
    event that made the transition, ``at`` its time)."""
    low = validation.timestamp(since, "since")
    high = validation.timestamp(until, "until")
    if low >= high:
        raise ValidationError.single("until", "must be later than since")
    page_size = validation.page_size(page_size, maximum=max_page_size)
    params: dict[str, Any] = {"since": low, "until": high}
    if family is not None:
        params["family"] = family
    return _keyset_page(
        conn,
        statement=lambda desc, with_cursor, limit: _flags_statement(
            desc, with_cursor, limit, family is not None
        ),
        params=params,
        key_name="at",
        descending=True,
        page_size=page_size,
        cursor=cursor,
        scope=cursors.fingerprint("disallowed", low.isoformat(), high.isoformat(), family),
        key_type=dt.datetime,
    )


# ---------------------------------------------------------------------------------------- time in state


@dataclass(frozen=True)
class StateTimes:
    """Per (family, status): how many stays ended in [since, until) (whole UTC days) and their
    percentiles, in seconds (bucketed: see db/timeline.py for the error bound)."""

    since: dt.datetime
    until: dt.datetime
    results: list[dict[str, Any]]


def _families(conn: Connection) -> list[str]:
    """Every family a job can be in: the admitted ones and ``other``."""
    names = conn.execute(select(job_family_table.c.name).order_by(job_family_table.c.name)).scalars().all()
    return sorted({*names, families.OTHER})


# The stays of [low, high) on PostgreSQL, as _histograms reads them: the day rows of up to two ranges
# (the days at either end; an unused one is empty) and the week rows of one range, of the statuses asked
# for and one family or every one (the admitted ones and "other"), and the stays of the delta log not yet
# folded (summed into one histogram per family and status, laid out as the stored ones), in one prepared
# statement whose arrays arrive in binary.
_HISTOGRAM_ROWS_SQL = """
    SELECT family, status, stays FROM job_state_time_day
    WHERE family {families} AND status = ANY(%(statuses)s)
      AND (starts_at >= %(day_low)s AND starts_at < %(day_high)s
           OR starts_at >= %(end_low)s AND starts_at < %(end_high)s)
    UNION ALL
    SELECT family, status, stays FROM job_state_time_week
    WHERE family {families} AND status = ANY(%(statuses)s)
      AND starts_at >= %(week_low)s AND starts_at < %(week_high)s
    UNION ALL
    {tail}"""
# The delta log's stays of [low, high), the relation _HISTOGRAM_ROWS_SQL sums with history.histograms_sql.
_TAIL_STAYS = f"""(
        SELECT family, status, bucket, n FROM ({deltas.STAY_TAIL}) AS tail
        WHERE family {{families}} AND status = ANY(%(statuses)s) AND at >= %(low)s AND at < %(high)s
    ) AS recent"""  # noqa: S608 - fixed text
_HISTOGRAM_ROWS_POSTGRES = {
    name: _HISTOGRAM_ROWS_SQL.format(
        families=condition, tail=histograms_sql("family, status", _TAIL_STAYS.format(families=condition))
    )
    for name, condition in (
        ("one", "= %(family)s"),
        ("every", f"IN (SELECT name FROM job_family UNION ALL SELECT '{families.OTHER}')"),  # noqa: S608
    )
}


def _histograms(
    conn: Connection,
    low: dt.datetime,
    high: dt.datetime,
    family: str | None,
    statuses: tuple[str, ...],
) -> dict[tuple[str, str], list[int]]:
    """The histogram (stays by duration bucket, :func:`db.timeline.dense`) per (family, status) of the
    stays that ended in [low, high) (whole days), of one ``family`` or (None) every one: whole weeks from
    the week rows, the days at either end from the day rows; one row per (family, status) and period,
    added up here."""
    small, big = _pieces(low, high, WEEK, week_start)
    if conn.dialect.name == "postgresql":
        (day_low, day_high), (end_low, end_high) = (*small, (low, low), (low, low))[:2]  # empty: unused
        week_low, week_high = big or (low, low)
        params = {
            "family": family,
            "statuses": list(statuses),
            "day_low": day_low,
            "day_high": day_high,
            "end_low": end_low,
            "end_high": end_high,
            "week_low": week_low,
            "week_high": week_high,
            "low": low,
            "high": high,
        }
        sql = _HISTOGRAM_ROWS_POSTGRES["every" if family is None else "one"]
        found = driver_rows(conn, sql, params, binary=True)
    else:
        names = [family] if family is not None else _families(conn)
        pieces = [(job_state_time_day_table, a, b) for a, b in small]
        if big is not None:
            pieces.append((job_state_time_week_table, *big))
        parts = [
            select(table.c.family, table.c.status, table.c.stays).where(
                table.c.starts_at >= a,
                table.c.starts_at < b,
                table.c.family.in_(names),
                table.c.status.in_(statuses),
            )
            for table, a, b in pieces
        ]
        found = [tuple(row) for row in conn.execute(union_all(*parts) if len(parts) > 1 else parts[0])]
    rows: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for family_name, status, stays in found:
        rows[(family_name, status)].append(stays)
    out = {key: timeline.summed(histograms) for key, histograms in rows.items()}
    return {key: histogram for key, histogram in out.items() if any(histogram)}


def _summary(histogram: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"stays": sum(histogram)}
    for fraction, ms in zip(PERCENTILES, timeline.percentiles_ms(histogram, PERCENTILES), strict=True):
        out[f"p{round(fraction * 100)}"] = None if ms is None else round(ms / 1000, 3)
    return out


def time_in_state(
    conn: Connection,
    *,
    since: object,
    until: object,
    family: str | None = None,
    statuses: Iterable[object] | None = None,
) -> StateTimes:
    """p50 / p95 / p99 of the time spent in each status, per family, over the stays that ended in
    [since, until) (widened to whole UTC days); O(buckets) per (family, status) and period read."""
    low, high = _range(since, until, DAY)
    chosen = validation.statuses(statuses) or STATUSES
    histograms = _histograms(conn, low, high, family, chosen)
    results = [{"family": f, "status": s, **_summary(histograms[(f, s)])} for f, s in sorted(histograms)]
    return StateTimes(since=low, until=high, results=results)


def _recent_weeks(now: dt.datetime, weeks: int) -> tuple[dt.datetime, dt.datetime]:
    this_week = week_start(now)
    return this_week - (weeks - 1) * WEEK, this_week + WEEK


def job_time_in_state(conn: Connection, *, job_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """One job's stays (the current one open, counted to ``now``) and, per status, its family's p50 and
    p95 over the stays that ended in the current week and the four before it."""
    job_id = validation.job_id(job_id)
    now = now or dt.datetime.now(dt.UTC)
    job = conn.execute(
        select(job_table.c.family, job_table.c.current_status_type).where(job_table.c.id == job_id)
    ).first()
    if job is None:
        raise NotFound("job", job_id)
    family = str(job[0])
    e = job_status_table.c
    events = conn.execute(
        select(e.status_type, e.timestamp).where(e.job_id == job_id).order_by(e.timestamp, e.id)
    ).all()
    run_list = timeline.runs((str(s), at) for s, at in events)
    stays = []
    for index, (status, start) in enumerate(run_list):
        end = run_list[index + 1][1] if index + 1 < len(run_list) else None
        seconds = ((end or max(now, start)) - start).total_seconds()
        stays.append({"status": status, "since": start, "until": end, "seconds": round(seconds, 3)})
    window, percentiles = family_percentiles(conn, family=family, now=now)
    return {
        "job_id": job_id,
        "family": family,
        "status": str(job[1]),
        "window": {"since": window[0], "until": window[1]},
        "stays": stays,
        "family_percentiles": percentiles,
    }


def family_percentiles(
    conn: Connection, *, family: str, now: dt.datetime
) -> tuple[tuple[dt.datetime, dt.datetime], dict[str, dict[str, Any]]]:
    """Per status, the number of stays of ``family`` that ended in the current UTC week and the four
    before it, and their p50 and p95 in seconds (None without stays); with that window [since, until)."""
    low, high = _recent_weeks(now, STUCK_WEEKS)
    histograms = _histograms(conn, low, high, family, STATUSES)
    percentiles: dict[str, dict[str, Any]] = {}
    for status in STATUSES:
        summary = _summary(histograms.get((family, status), []))
        percentiles[status] = {"stays": summary["stays"], "p50": summary["p50"], "p95": summary["p95"]}
    return (low, high), percentiles


# ----------------------------------------------------------------------------------------- stuck jobs


@dataclass(frozen=True)
class Threshold:
    """How long a job of ``family`` may stay in ``status`` before it counts as stuck."""

    family: str
    status: str
    threshold: dt.timedelta
    p99: dt.timedelta | None
    stays: int


def stuck_thresholds(conn: Connection, *, now: dt.datetime) -> list[Threshold]:
    """Per family and stuck status: the p99 of the recent stays (at least STUCK_FLOOR for a family with
    fewer than STUCK_MIN_STAYS of them)."""
    low, high = _recent_weeks(now, STUCK_WEEKS)
    names = _families(conn)
    histograms = _histograms(conn, low, high, None, STUCK_STATUSES)
    out = []
    for family in names:
        for status in STUCK_STATUSES:
            histogram = histograms.get((family, status), [])
            stays = sum(histogram)
            ms = timeline.percentile_ms(histogram, 0.99)
            p99 = None if ms is None else dt.timedelta(milliseconds=math.ceil(ms))
            threshold = p99 or STUCK_FLOOR
            if stays < STUCK_MIN_STAYS:
                threshold = max(threshold, STUCK_FLOOR)
            out.append(Threshold(family, status, threshold, p99, stays))
    return out


_STUCK_COLUMNS = (
    job_table.c.id,
    job_table.c.name,
    job_table.c.family,
    job_table.c.current_status_type.label("status"),
    job_table.c.status_since,
    job_table.c.created_at,
    job_table.c.updated_at,
)
# One ordered walk of (family, status, status_since, id) per (family, status), of only the stuck jobs
# (older than the cutoff), from the cursor; merged by deadline (status_since + threshold). The walks read
# the index alone (a page per pair, most of them lost in the merge); only the page's own jobs are then
# read from the table, which at ten million jobs are spread over as many pages as they are rows.
_STUCK_POSTGRES = """
    SELECT job.id, job.name, job.family, job.current_status_type AS status, job.status_since,
           job.created_at, job.updated_at, w.threshold_ms
    FROM (
        SELECT j.id, j.status_since, t.threshold_ms FROM unnest(
            CAST(:families AS varchar[]), CAST(:statuses AS varchar[]), CAST(:cutoffs AS timestamptz[]),
            CAST(:thresholds AS bigint[])
        ) AS t(family, status, cutoff, threshold_ms)
        CROSS JOIN LATERAL (
            SELECT job.id, job.status_since FROM job
            WHERE job.family = t.family AND job.current_status_type = t.status AND job.status_since < t.cutoff
              {after}
            ORDER BY job.status_since {direction}, job.id {direction} LIMIT :limit
        ) AS j
        ORDER BY j.status_since + t.threshold_ms * interval '1 millisecond' {direction}, j.id {direction}
        LIMIT :limit
    ) AS w JOIN job ON job.id = w.id
    ORDER BY w.status_since + w.threshold_ms * interval '1 millisecond' {direction}, w.id {direction}
"""
_STUCK_AFTER = """AND (job.status_since, job.id) {op} (
              CAST(:cursor_key AS timestamptz) - t.threshold_ms * interval '1 millisecond',
              CAST(:cursor_id AS bigint))"""
# (backwards, with a cursor) -> statement
_STUCK_STATEMENTS = {
    (backwards, with_cursor): text(
        _STUCK_POSTGRES.format(
            after=_STUCK_AFTER.format(op="<" if backwards else ">") if with_cursor else "",
            direction="DESC" if backwards else "",
        )
    )
    for backwards in (False, True)
    for with_cursor in (False, True)
}


@dataclass(frozen=True)
class StuckPage(Page):
    """A page of stuck jobs, with the thresholds it used."""

    thresholds: tuple[Threshold, ...] = ()
    now: dt.datetime | None = None


def _stuck_branch(threshold: Threshold, cutoff: dt.datetime, backwards: bool, limit: int) -> Select[Any]:
    since: Any = job_table.c.status_since
    where = [
        job_table.c.family == threshold.family,
        job_table.c.current_status_type == threshold.status,
        since < literal(cutoff, UTCDateTime()),
    ]
    return (
        select(*_STUCK_COLUMNS, literal(threshold.threshold // timeline.MS).label("threshold_ms"))
        .where(*where)
        .order_by(*_order(since, job_table.c.id, backwards))
        .limit(limit)
    )


def stuck_jobs(
    conn: Connection,
    *,
    page_size: int,
    max_page_size: int,
    cursor: str | None = None,
    family: str | None = None,
    statuses: Iterable[object] | None = None,
    now: dt.datetime | None = None,
) -> StuckPage:
    """Jobs in PENDING or RUNNING for longer than their family's threshold, most overdue first, by
    keyset cursor on (deadline = status_since + threshold, id). Each row gets ``threshold`` and
    ``overrun`` (timedeltas). Thresholds follow the recent history, so a cursor taken long ago may
    skip or repeat a job whose family's threshold moved meanwhile."""
    now = now or dt.datetime.now(dt.UTC)
    page_size = validation.page_size(page_size, maximum=max_page_size)
    wanted = [s for s in validation.statuses(statuses) if s in STUCK_STATUSES] if statuses else STUCK_STATUSES
    if statuses and not wanted:
        raise ValidationError.single("status", f"must be one of {', '.join(STUCK_STATUSES)}")
    thresholds = [
        t
        for t in stuck_thresholds(conn, now=now)
        if t.status in wanted and (family is None or t.family == family)
    ]
    scope = cursors.fingerprint("stuck", family, ",".join(wanted))
    position = cursors.decode(cursor, scope=scope, key_type=dt.datetime) if cursor is not None else None
    backwards = position is not None and position.direction == "prev"
    limit = page_size + 1
    rows: list[dict[str, Any]] = []
    if thresholds and conn.dialect.name == "postgresql":
        result = conn.execute(
            _STUCK_STATEMENTS[(backwards, position is not None)],
            {
                "families": [t.family for t in thresholds],
                "statuses": [t.status for t in thresholds],
                "cutoffs": [now - t.threshold for t in thresholds],
                "thresholds": [t.threshold // timeline.MS for t in thresholds],
                "cursor_key": None if position is None else position.key,
                "cursor_id": None if position is None else position.id,
                "limit": limit,
            },
        )
        rows = [dict(row) for row in result.mappings()]
    elif thresholds:
        rows = _stuck_sqlite(conn, thresholds, now, position, backwards, limit)
    for row in rows:
        threshold = dt.timedelta(milliseconds=int(row.pop("threshold_ms")))
        row["deadline"] = row["status_since"] + threshold
        row["threshold"] = threshold
        row["overrun"] = now - row["deadline"]
    more = len(rows) > page_size
    del rows[page_size:]
    if backwards:
        rows.reverse()

    def token(direction: cursors.Direction, row: dict[str, Any]) -> str:
        return cursors.encode(cursors.Cursor(direction, row["deadline"], row["id"]), scope=scope)

    has_next = (backwards or more) and bool(rows)
    has_previous = (more if backwards else position is not None) and bool(rows)
    return StuckPage(
        results=rows,
        next_cursor=token("next", rows[-1]) if has_next else None,
        previous_cursor=token("prev", rows[0]) if has_previous else None,
        whole=position is None and not more,
        thresholds=tuple(thresholds),
        now=now,
    )


def _stuck_sqlite(
    conn: Connection,
    thresholds: list[Threshold],
    now: dt.datetime,
    position: cursors.Cursor | None,
    backwards: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """The same walk per (family, status), merged in Python (SQLite has no LATERAL)."""
    rows: list[dict[str, Any]] = []
    for threshold in thresholds:
        stmt = _stuck_branch(threshold, now - threshold.threshold, backwards, limit)
        if position is not None:
            assert isinstance(position.key, dt.datetime)
            edge = tuple_(literal(position.key - threshold.threshold, UTCDateTime()), literal(position.id))
            row = tuple_(job_table.c.status_since, job_table.c.id)
            stmt = stmt.where(row < edge if backwards else row > edge)
        result = conn.execute(stmt)
        rows.extend(dict(r) for r in result.mappings())

    def deadline(row: dict[str, Any]) -> tuple[dt.datetime, int]:
        return row["status_since"] + dt.timedelta(milliseconds=int(row["threshold_ms"])), int(row["id"])

    rows.sort(key=deadline, reverse=backwards)
    return rows[:limit]


# Stuck jobs counted per (family, status) for a gauge stop here: a scrape costs at most this many index
# entries per pair, whatever the backlog.
STUCK_COUNT_CAP = 10_000


def stuck_counts(conn: Connection, *, now: dt.datetime | None = None) -> dict[tuple[str, str], int]:
    """How many jobs are stuck per (family, status): the same walk as :func:`stuck_jobs`, counted,
    at most STUCK_COUNT_CAP per pair (families with none are left out)."""
    now = now or dt.datetime.now(dt.UTC)
    thresholds = stuck_thresholds(conn, now=now)
    if not thresholds:
        return {}
    since: Any = job_table.c.status_since
    branches = [
        select(func.count())
        .select_from(
            select(literal(1))
            .where(
                job_table.c.family == t.family,
                job_table.c.current_status_type == t.status,
                since < literal(now - t.threshold, UTCDateTime()),
            )
            .limit(STUCK_COUNT_CAP)
            .subquery()
        )
        .scalar_subquery()
        for t in thresholds
    ]
    counts = conn.execute(select(*branches)).one()
    return {(t.family, t.status): int(n) for t, n in zip(thresholds, counts, strict=True) if n}


def _stuck_list_filters(filters: JobFilter) -> None:
    """The filters a stuck list takes: a family and PENDING / RUNNING (checked by :func:`stuck_jobs`)."""
    combined = [
        field.name
        for field in dataclasses.fields(filters)
        if field.name not in ("statuses", "family", "stuck") and getattr(filters, field.name) is not None
    ]
    if combined:
        raise ValidationError.single(
            combined[0], "cannot be combined with stuck (stuck jobs are filtered by family and status only)"
        )


def stuck_list(
    conn: Connection,
    *,
    filters: JobFilter,
    ordering: str,
    page_size: int,
    max_page_size: int,
    cursor: str | None = None,
) -> Page:
    """The job list with ``stuck``: :func:`stuck_jobs`' walk (most overdue first, as bounded as it is),
    its rows cut to the list's columns. Its order is fixed: another ``ordering`` is an error."""
    _stuck_list_filters(filters)
    if ordering != DEFAULT_ORDERING:
        raise ValidationError.single(
            "ordering", "a stuck list is ordered most overdue first; leave ordering out"
        )
    page = stuck_jobs(
        conn,
        page_size=page_size,
        max_page_size=max_page_size,
        cursor=cursor,
        family=filters.family,
        statuses=filters.statuses or None,
    )
    # A stuck job is pending or running: unfinished, so it has no duration (db/durations.py).
    rows = [
        {name: None if name == "duration" else row[name] for name in _LIST_COLUMN_NAMES}
        for row in page.results
    ]
    return Page(
        results=rows, next_cursor=page.next_cursor, previous_cursor=page.previous_cursor, whole=page.whole
    )


def stuck_list_count(conn: Connection, *, filters: JobFilter, now: dt.datetime | None = None) -> Count:
    """How many jobs a stuck list holds: exact, or at least this many when a family and status has more
    than STUCK_COUNT_CAP stuck jobs."""
    _stuck_list_filters(filters)
    wanted = set(filters.statuses) or set(STUCK_STATUSES)
    counts = {
        pair: n
        for pair, n in stuck_counts(conn, now=now).items()
        if pair[1] in wanted and (filters.family is None or pair[0] == filters.family)
    }
    total = sum(counts.values())
    return Count(total, "at_least" if any(n >= STUCK_COUNT_CAP for n in counts.values()) else "exact")


# -------------------------------------------------------------------------------------------- families


def family_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Jobs per current status of every family that has any (``other`` included), exactly."""
    t = job_count_family_table
    rows = conn.execute(select(t.c.family, t.c.status, func.sum(t.c.jobs)).group_by(t.c.family, t.c.status))
    out: dict[str, dict[str, int]] = {}
    for family, status, n in rows:
        if n:
            out.setdefault(str(family), dict.fromkeys(STATUSES, 0))[str(status)] = int(n)
    return out


def admitted_families(conn: Connection) -> list[str]:
    """The admitted families, by name."""
    return list(conn.execute(select(job_family_table.c.name).order_by(job_family_table.c.name)).scalars())
