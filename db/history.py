"""History aggregates kept by the write path: status mix changes, transitions, time in state, families.

Besides the created counts of :mod:`db.aggregates`, every write keeps these tables exact, in its own
transaction (docs/architecture.md, "History aggregates"); what one job's history contributes to them is
worked out by :mod:`db.timeline`:

- ``job_count_family``: jobs per (family, current status, stripe), all time;
- ``job_mix_hour`` / ``_day`` / ``_month``: per period, the net change in how many jobs are in each
  status (striped by job id): the status mix as of ``T`` is their sum over the periods before ``T``;
- ``job_transition_hour`` / ``_day``: transitions per (period of the later event, family, from, to);
- ``job_state_time_day`` / ``_week``: closed stays per (family, status, period they ended), as a histogram
  of their durations: one row per period, its ``stays`` an array of counts by duration bucket
  (:func:`db.timeline.dense`), so that a read costs rows per period whatever the number of stays;
- ``job_disallowed_transition``: the events the lifecycle does not allow after their predecessor.

On PostgreSQL the upserts are data-modifying CTEs appended to the write's own statement
(:func:`with_history`), over relations of deltas the statement defines: ``d`` (created_at, job_id,
family, status, n) for current-status counts, ``m`` (at, job_id, status, n) for the mix, ``t`` (at,
family, from_status, to_status, n) for transitions and ``s`` (at, family, status, bucket, n) for stays.
Every statement upserts the tables in one order (the created counts first, then these in the order
above) and each table's rows in key order, so concurrent writers cannot deadlock on them.

``jobdash db check`` replays every job's history (:func:`replay`) and compares; ``--repair`` and the
migration that added the tables rebuild them from that replay (:func:`rebuild`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from db import aggregates, deltas, families, lifecycle, timeline
from db.aggregates import POSTGRES_COUNT_CTES, day_start, hour_start
from db.models import (
    COUNT_STRIPES,
    MIX_STRIPES,
    TOTAL_STRIPES,
    UTCDateTime,
    as_utc,
    job_count_day_table,
    job_count_family_table,
    job_count_hour_table,
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
from db.timeline import Changes

_BOUNDS_SQL = "ARRAY[" + ", ".join(str(b) for b in timeline.BOUNDS) + "]::bigint[]"


def duration_bucket_sql(later: str, earlier: str) -> str:
    """SQL for :func:`db.timeline.duration_bucket` of ``later - earlier`` (exact: integer milliseconds)."""
    millis = f"floor(extract(epoch FROM ({later}) - ({earlier})) * 1000)::bigint"
    return f"width_bucket({millis}, {_BOUNDS_SQL})"


def week_start(value: dt.datetime) -> dt.datetime:
    """The start (Monday, 00:00 UTC) of the ISO week holding ``value``."""
    day = day_start(value)
    return day - dt.timedelta(days=day.weekday())


def month_start(value: dt.datetime) -> dt.datetime:
    """The start of the UTC month holding ``value``."""
    return day_start(value).replace(day=1)


def _upsert_cte(name: str, table: str, keys: list[tuple[str, str]], value: str, source: str) -> str:
    """One data-modifying CTE adding ``sum(n)`` of ``source`` per key to ``table``, rows in key order."""
    columns = ", ".join(column for column, _expr in keys)
    exprs = ", ".join(expr for _column, expr in keys)
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    return (
        f", {name} AS (\n"  # noqa: S608 - fixed names
        f"    INSERT INTO {table} AS c ({columns}, {value})\n"
        f"    SELECT {exprs}, sum({source}.n) FROM {source}\n"
        f"    GROUP BY {positions} HAVING sum({source}.n) <> 0 ORDER BY {positions}\n"
        f"    ON CONFLICT ({columns}) DO UPDATE SET {value} = c.{value} + excluded.{value}\n)"
    )


def _added_sql(stored: str, delta: str) -> str:
    """SQL: two stored histograms added element-wise (the shorter one as zeros past its end)."""
    return (
        f"ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0) FROM unnest({stored}, {delta}) "  # noqa: S608
        "WITH ORDINALITY AS u(a, b, i) ORDER BY i)"
    )


_HISTOGRAMS = """SELECT {keys}, ARRAY(
        SELECT coalesce((buckets ->> g::text)::bigint, 0) FROM generate_series(0, top) AS g ORDER BY g
    ) AS stays FROM (
        SELECT {keys}, jsonb_object_agg(bucket, n) AS buckets, max(bucket) AS top FROM (
            SELECT {keys}, bucket, sum(n) AS n FROM {source}
            GROUP BY {keys}, bucket HAVING sum(n) <> 0
        ) AS by_bucket
        GROUP BY {keys}
    ) AS by_row"""


def histograms_sql(keys: str, source: str) -> str:
    """SQL: (keys..., stays) per ``keys`` (columns of ``source``, a relation that also has ``bucket`` and
    ``n``): the sum of ``n`` per bucket as a histogram laid out as db.timeline.dense does (element ``i``
    is bucket ``i``, up to the highest bucket with any), through a JSON object of bucket -> stays."""
    return _HISTOGRAMS.format(keys=keys, source=source)


def _histogram_rows_sql(table: str, source: str) -> str:
    """SQL: add to the histogram rows of ``table`` the stays of ``source``, a relation of (family,
    status, starts_at, bucket, n), rows in key order."""
    return (
        f"INSERT INTO {table} AS c (family, status, starts_at, stays)\n"
        f"    {histograms_sql('family, status, starts_at', source)} ORDER BY 1, 2, 3\n"
        "    ON CONFLICT (family, status, starts_at) DO UPDATE SET stays = "
        + _added_sql("c.stays", "excluded.stays")
    )


def _period(unit: str, column: str) -> str:
    return f"date_trunc('{unit}', {column}, 'UTC')"


_HISTORY_CTES: dict[str, str] = {
    "d": _upsert_cte(
        "family_rows",
        "job_count_family",
        [("family", "d.family"), ("status", "d.status"), ("stripe", f"d.job_id % {COUNT_STRIPES}")],
        "jobs",
        "d",
    ),
    "m": "".join(
        _upsert_cte(
            f"mix_{unit}_rows",
            f"job_mix_{unit}",
            [
                ("starts_at", _period(unit, "m.at")),
                ("status", "m.status"),
                ("stripe", f"m.job_id % {MIX_STRIPES}"),
            ],
            "jobs",
            "m",
        )
        for unit in ("hour", "day", "month")
    ),
    "t": "".join(
        _upsert_cte(
            f"transition_{unit}_rows",
            f"job_transition_{unit}",
            [
                ("starts_at", _period(unit, "t.at")),
                ("family", "t.family"),
                ("from_status", "t.from_status"),
                ("to_status", "t.to_status"),
            ],
            "transitions",
            "t",
        )
        for unit in ("hour", "day")
    ),
    "s": "".join(
        f", stay_{unit}_rows AS (\n    "  # noqa: S608 - fixed names
        + _histogram_rows_sql(
            f"job_state_time_{unit}",
            f"(SELECT family, status, {_period(unit, 's.at')} AS starts_at, bucket, n FROM s) AS s_b",  # noqa: S608
        )
        + "\n)"
        for unit in ("day", "week")
    ),
}


def with_history(ctes: str, query: str, relations: str = "dmts") -> str:
    """A write statement: its own CTEs, then the upserts of every relation of deltas they define (of
    ``d``, ``m``, ``t``, ``s``; the created counts with ``d``), in the fixed order, then its query."""
    blocks = [ctes]
    if "d" in relations:
        blocks.append(POSTGRES_COUNT_CTES)
    blocks.extend(_HISTORY_CTES[name] for name in "dmts" if name in relations)
    return "".join((*blocks, "\n", query))


# The four delta relations, from arrays bound by :func:`array_params`.
ARRAY_DELTAS = """
    d AS (
        SELECT * FROM unnest(
            CAST(:d_created AS timestamptz[]), CAST(:d_job AS bigint[]), CAST(:d_family AS varchar[]),
            CAST(:d_status AS varchar[]), CAST(:d_n AS integer[])
        ) AS x(created_at, job_id, family, status, n)
    ), m AS (
        SELECT * FROM unnest(
            CAST(:m_at AS timestamptz[]), CAST(:m_job AS bigint[]), CAST(:m_status AS varchar[]),
            CAST(:m_n AS integer[])
        ) AS x(at, job_id, status, n)
    ), t AS (
        SELECT * FROM unnest(
            CAST(:t_at AS timestamptz[]), CAST(:t_family AS varchar[]), CAST(:t_from AS varchar[]),
            CAST(:t_to AS varchar[]), CAST(:t_n AS integer[])
        ) AS x(at, family, from_status, to_status, n)
    ), s AS (
        SELECT * FROM unnest(
            CAST(:s_at AS timestamptz[]), CAST(:s_family AS varchar[]), CAST(:s_status AS varchar[]),
            CAST(:s_bucket AS smallint[]), CAST(:s_n AS integer[])
        ) AS x(at, family, status, bucket, n)
    )"""


@dataclass(frozen=True)
class JobRef:
    """What a job's rows are keyed by besides its history: its id (stripes), creation time, family."""

    id: int
    created_at: dt.datetime
    family: str


def array_params(job: JobRef, changes: Changes) -> dict[str, list[Any]]:
    """The arrays of :data:`ARRAY_DELTAS` for one job's ``changes``."""
    current = [(status, n) for status, n in sorted(changes.current.items()) if n]
    mix = [(at, status, n) for (at, status), n in sorted(changes.mix.items()) if n]
    moves = [(at, a, b, n) for (at, a, b), n in sorted(changes.transitions.items()) if n]
    stays = [(at, status, bucket, n) for (at, status, bucket), n in sorted(changes.stays.items()) if n]
    return {
        "d_created": [job.created_at] * len(current),
        "d_job": [job.id] * len(current),
        "d_family": [job.family] * len(current),
        "d_status": [status for status, _n in current],
        "d_n": [n for _s, n in current],
        "m_at": [at for at, _s, _n in mix],
        "m_job": [job.id] * len(mix),
        "m_status": [status for _at, status, _n in mix],
        "m_n": [n for _at, _s, n in mix],
        "t_at": [at for at, *_rest in moves],
        "t_family": [job.family] * len(moves),
        "t_from": [a for _at, a, _b, _n in moves],
        "t_to": [b for _at, _a, b, _n in moves],
        "t_n": [n for *_rest, n in moves],
        "s_at": [at for at, *_rest in stays],
        "s_family": [job.family] * len(stays),
        "s_status": [status for _at, status, _b, _n in stays],
        "s_bucket": [bucket for _at, _s, bucket, _n in stays],
        "s_n": [n for *_rest, n in stays],
    }


# ------------------------------------------------------------------------------- bulk: many jobs


@dataclass(frozen=True)
class _Kept:
    """One kept table: its key columns and its value column, and how a delta maps to its key.

    A histogram table stores one row per key but the last (the duration bucket), whose value is the
    array of every bucket's count (:func:`db.timeline.dense`); here, keys and values are per bucket all
    the same (a tally, a replay and a check compare them bucket by bucket)."""

    table: Table
    keys: tuple[str, ...]
    value: str
    histogram: bool = False

    @property
    def row_keys(self) -> tuple[str, ...]:
        """The columns of the table's primary key."""
        return self.keys[:-1] if self.histogram else self.keys


KEPT: dict[str, _Kept] = {
    kept.table.name: kept
    for kept in (
        _Kept(job_count_hour_table, ("starts_at", "status", "stripe"), "jobs"),
        _Kept(job_count_day_table, ("starts_at", "status", "stripe"), "jobs"),
        _Kept(job_count_total_table, ("status", "stripe"), "jobs"),
        _Kept(job_count_family_table, ("family", "status", "stripe"), "jobs"),
        _Kept(job_mix_hour_table, ("starts_at", "status", "stripe"), "jobs"),
        _Kept(job_mix_day_table, ("starts_at", "status", "stripe"), "jobs"),
        _Kept(job_mix_month_table, ("starts_at", "status", "stripe"), "jobs"),
        _Kept(job_transition_hour_table, ("starts_at", "family", "from_status", "to_status"), "transitions"),
        _Kept(job_transition_day_table, ("starts_at", "family", "from_status", "to_status"), "transitions"),
        *(
            _Kept(table, ("family", "status", "starts_at", "bucket"), "stays", histogram=True)
            for table in (job_state_time_day_table, job_state_time_week_table)
        ),
    )
}
# The tables a replay of the event log recounts; the others are counts of ``job`` by its current status
# (recounted and rebuilt from it by db.aggregates; here for the bulk writes of seeding).
HISTORY_TABLES = tuple(name for name in KEPT if not name.startswith("job_count_"))
Flag = tuple[int, str, str, str, dt.datetime]  # job id, family, from, to, at (keyed by event id)


@dataclass
class Tally:
    """The rows of every kept table, summed over many jobs' changes (seeding, replay, rebuild)."""

    rows: dict[str, Counter[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(Counter))
    flags: dict[int, Flag] = field(default_factory=dict)

    def add(self, job: JobRef, changes: Changes, *, new_event_id: int | None = None) -> None:
        """Add one job's ``changes`` (flags of the event being written get ``new_event_id``; flags to
        drop, ``changes.unflag``, are the writer's to delete)."""
        rows = self.rows
        stripe, total_stripe = job.id % COUNT_STRIPES, job.id % TOTAL_STRIPES
        created_hour, created_day = hour_start(job.created_at), day_start(job.created_at)
        for status, n in changes.current.items():
            rows["job_count_hour"][(created_hour, status, stripe)] += n
            rows["job_count_day"][(created_day, status, stripe)] += n
            rows["job_count_total"][(status, total_stripe)] += n
            rows["job_count_family"][(job.family, status, stripe)] += n
        mix_stripe = job.id % MIX_STRIPES
        for (at, status), n in changes.mix.items():
            day = day_start(at)
            rows["job_mix_hour"][(hour_start(at), status, mix_stripe)] += n
            rows["job_mix_day"][(day, status, mix_stripe)] += n
            rows["job_mix_month"][(day.replace(day=1), status, mix_stripe)] += n
        for (at, before, after), n in changes.transitions.items():
            rows["job_transition_hour"][(hour_start(at), job.family, before, after)] += n
            rows["job_transition_day"][(day_start(at), job.family, before, after)] += n
        for (at, status, bucket), n in changes.stays.items():
            day = day_start(at)
            rows["job_state_time_day"][(job.family, status, day, bucket)] += n
            rows["job_state_time_week"][
                (job.family, status, day - dt.timedelta(days=day.weekday()), bucket)
            ] += n
        for event_id, before, after, at in changes.flags:
            ident = new_event_id if event_id is None else event_id
            assert ident is not None
            self.flags[ident] = (job.id, job.family, before, after, at)


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _histograms(counter: Counter[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[int]]:
    """Per-bucket counts ``(*row key, bucket) -> n`` as stored histogram rows (none left empty)."""
    buckets: dict[tuple[Any, ...], dict[int, int]] = defaultdict(dict)
    for (*key, bucket), n in counter.items():
        if n:
            buckets[tuple(key)][bucket] = n
    return {key: timeline.dense(row) for key, row in buckets.items()}


def write_tally(conn: Connection, tally: Tally, *, tables: tuple[str, ...] | None = None) -> None:
    """Add ``tally`` to the kept tables (upserts in key order) and insert its flags."""
    postgres = conn.dialect.name == "postgresql"
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    for name in tuple(KEPT) if tables is None else tables:
        kept = KEPT[name]
        counter = tally.rows.get(name)
        if not counter:
            continue
        stmt = dialect_insert(kept.table)
        stored, delta = kept.table.c[kept.value], stmt.excluded[kept.value]
        if kept.histogram:
            values = [
                {**dict(zip(kept.row_keys, key, strict=True)), kept.value: row}
                for key, row in sorted(_histograms(counter).items())
            ]
            added = (
                literal_column(_added_sql(f"{name}.{kept.value}", f"excluded.{kept.value}"))
                if postgres
                else func.histogram_sum(stored, delta)
            )
        else:
            values = [
                {**dict(zip(kept.keys, key, strict=True)), kept.value: n}
                for key, n in sorted(counter.items())
                if n
            ]
            added = stored + delta
        stmt = stmt.on_conflict_do_update(index_elements=list(kept.row_keys), set_={kept.value: added})
        for chunk in _chunks(values):
            conn.execute(stmt, chunk)
    if tally.flags:
        flag_rows = [
            {
                "event_id": event_id,
                "job_id": job_id,
                "family": family,
                "from_status": a,
                "to_status": b,
                "at": at,
            }
            for event_id, (job_id, family, a, b, at) in sorted(tally.flags.items())
        ]
        for chunk in _chunks(flag_rows):
            conn.execute(insert(job_disallowed_transition_table), chunk)


# ------------------------------------------------------------------------------- replay and rebuild


@dataclass(frozen=True)
class ReplayedJob:
    """One job as stored, and what its history says its ``status_since`` is."""

    id: int
    name: str
    family: str
    status_since: dt.datetime | None
    replayed_since: dt.datetime | None


@dataclass
class Replay:
    """Every kept row and flag, recounted from the event log; and the jobs whose stored columns differ."""

    tally: Tally = field(default_factory=Tally)
    jobs: int = 0
    wrong_since: list[ReplayedJob] = field(default_factory=list)
    wrong_since_count: int = 0
    changed_count: int = 0


def _stream(conn: Connection, stmt: Any) -> Iterator[Any]:
    """Rows of ``stmt``, fetched in batches (a server-side cursor on PostgreSQL)."""
    result = conn.execute(stmt.execution_options(stream_results=True, yield_per=20_000))
    yield from result


def _jobs_with_histories(conn: Connection) -> Iterator[tuple[Any, list[timeline.IdEvent]]]:
    """Each job row (id, name, created_at, family, status_since) with its events in history order, by id
    descending: the event index (job_id, timestamp DESC, id DESC) read backwards, with no sort."""
    jobs = _stream(
        conn,
        select(
            job_table.c.id,
            job_table.c.name,
            job_table.c.created_at,
            job_table.c.family,
            job_table.c.status_since,
        ).order_by(job_table.c.id.desc()),
    )
    e = job_status_table.c
    events = _stream(
        conn, select(e.job_id, e.id, e.status_type, e.timestamp).order_by(e.job_id.desc(), e.timestamp, e.id)
    )
    grouped = itertools.groupby(events, key=lambda row: row[0])
    pending = next(grouped, None)
    for job in jobs:
        while pending is not None and pending[0] > job[0]:
            pending = next(grouped, None)  # events of a job gone meanwhile (not in this snapshot)
        history: list[timeline.IdEvent] = []
        if pending is not None and pending[0] == job[0]:
            history = [(row[1], row[2], as_utc(row[3])) for row in pending[1]]
            pending = next(grouped, None)
        yield job, history


SHOWN = 50
Changed = list[tuple[int, str, dt.datetime | None]]


def replay(
    conn: Connection,
    *,
    family_of: Callable[[Any], str] | None = None,
    store: Callable[[Changed], None] | None = None,
) -> Replay:
    """Recount everything the write path keeps from the event log (one pass over ``job_status``).

    Rows are keyed by each job's stored family unless ``family_of(job row)`` says otherwise (a repair
    after a change of the pattern). The jobs whose family or ``status_since`` differ from the stored
    ones are handed to ``store`` in batches. Run it in one snapshot (a transaction) so every table agrees.
    """
    out = Replay()
    tally = out.tally
    changed: Changed = []
    for job, events in _jobs_with_histories(conn):
        job_id, name, created_at, stored_family, stored_since = job
        family = stored_family if family_of is None else family_of(job)
        changes, since = timeline.whole_history(events)
        tally.add(JobRef(job_id, as_utc(created_at), family), changes)
        out.jobs += 1
        stored = None if stored_since is None else as_utc(stored_since)
        if stored != since:
            out.wrong_since_count += 1
            if len(out.wrong_since) < SHOWN:
                out.wrong_since.append(ReplayedJob(job_id, name, stored_family, stored, since))
        if family != stored_family or stored != since:
            out.changed_count += 1
            if store is not None:
                changed.append((job_id, family, since))
                if len(changed) >= 50_000:
                    store(changed)
                    changed = []
    if store is not None and changed:
        store(changed)
    return out


def kept_rows(conn: Connection, name: str) -> Counter[tuple[Any, ...]]:
    """Every row of one kept table, by key (zero rows left out; a histogram's rows bucket by bucket), with
    the deltas of the log not yet folded into it."""
    kept = KEPT[name]
    out: Counter[tuple[Any, ...]] = Counter()
    if conn.dialect.name == "postgresql":  # with the deltas not yet folded
        for *key, value in conn.exec_driver_sql(_kept_rows_sql(kept)):
            out[tuple(as_utc(k) if isinstance(k, dt.datetime) else k for k in key)] += int(value)
        return out
    stmt = select(*(kept.table.c[k] for k in kept.row_keys), kept.table.c[kept.value])
    for *key, value in conn.execute(stmt):
        row_key = tuple(as_utc(k) if isinstance(k, dt.datetime) else k for k in key)
        for bucket, n in enumerate(value) if kept.histogram else [(None, value)]:
            if n:
                out[(*row_key, bucket) if kept.histogram else row_key] += int(n)
    return out


def kept_flags(conn: Connection) -> dict[int, Flag]:
    """Every stored flag, by event id."""
    t = job_disallowed_transition_table
    stmt = select(t.c.event_id, t.c.job_id, t.c.family, t.c.from_status, t.c.to_status, t.c.at)
    return {row[0]: (row[1], row[2], row[3], row[4], as_utc(row[5])) for row in conn.execute(stmt)}


def admitted_families(conn: Connection, rules: families.FamilyRules) -> list[str]:
    """The families a rebuild admits: the first ``rules.cap`` distinct ones by lowest job id."""
    admitted: dict[str, None] = {}
    for (name,) in _stream(conn, select(job_table.c.name).order_by(job_table.c.id)):
        family = rules.family_of(name)
        if family not in admitted and family != families.OTHER:
            admitted[family] = None
            if len(admitted) >= rules.cap:
                break
    return list(admitted)


# ---------------------------------------------------------------- replay in SQL (PostgreSQL, large tables)

# The same rules as db.timeline, over the whole event log in one pass (the history index read in order,
# window functions over it with no sort): transitions and flags from every event and its predecessor, run
# starts where the predecessor has another status, each run's end from the nearest newer run start, the
# mix from the runs, the stays from the closed runs and status_since from the open ones. ``{families}`` is
# a relation (id, family) giving each job's family. The results land in temporary tables (r_*), hour and
# day grains only: the coarser ones are sums of those.
_REPLAY_TABLES = (
    "CREATE TEMPORARY TABLE r_transitions (starts_at timestamptz, family varchar(255), from_status "
    "varchar(16), to_status varchar(16), transitions bigint) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE r_flags (event_id bigint, job_id bigint, family varchar(255), from_status "
    "varchar(16), to_status varchar(16), at timestamptz) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE r_mix (starts_at timestamptz, status varchar(16), stripe smallint, jobs bigint) "
    "ON COMMIT DROP",
    "CREATE TEMPORARY TABLE r_stays (family varchar(255), status varchar(16), starts_at timestamptz, "
    "bucket smallint, stays bigint) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE r_since (job_id bigint PRIMARY KEY, since timestamptz) ON COMMIT DROP",
)
_STAY_BUCKET = duration_bucket_sql("ended", "at")
_REPLAY_POSTGRES = f"""
    WITH e AS MATERIALIZED (
        SELECT job_id, id, status, at, family, prev, is_start,
               CASE WHEN is_start THEN min(at) FILTER (WHERE is_start) OVER (
                   PARTITION BY job_id ORDER BY at DESC, id DESC
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ) END AS ended
        FROM (
            SELECT s.job_id, s.id, s.status_type AS status, s.timestamp AS at, f.family,
                   lead(s.status_type) OVER w AS prev,
                   lead(s.status_type) OVER w IS DISTINCT FROM s.status_type AS is_start
            FROM job_status s JOIN {{families}} f ON f.id = s.job_id
            WINDOW w AS (PARTITION BY s.job_id ORDER BY s.timestamp DESC, s.id DESC)
        ) AS events
    ), t AS (
        INSERT INTO r_transitions
        SELECT date_trunc('hour', at, 'UTC'), family, prev, status, count(*) FROM e
        WHERE prev IS NOT NULL GROUP BY 1, 2, 3, 4
    ), fl AS (
        INSERT INTO r_flags
        SELECT id, job_id, family, prev, status, at FROM e
        WHERE prev IS NOT NULL AND NOT {lifecycle.allowed_sql("prev", "status")}
    ), mx AS (
        INSERT INTO r_mix
        SELECT date_trunc('hour', at, 'UTC'), status, mod(job_id, {MIX_STRIPES}), sum(n) FROM (
            SELECT at, status, job_id, 1 AS n FROM e WHERE is_start
            UNION ALL SELECT at, prev, job_id, -1 FROM e WHERE is_start AND prev IS NOT NULL
        ) AS contributions
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0
    ), sy AS (
        INSERT INTO r_stays
        SELECT family, status, date_trunc('day', ended, 'UTC'), {_STAY_BUCKET}, count(*)
        FROM e WHERE is_start AND ended IS NOT NULL GROUP BY 1, 2, 3, 4
    )
    INSERT INTO r_since SELECT job_id, at FROM e WHERE is_start AND ended IS NULL
"""  # noqa: S608 - fixed names and constants
# What each kept table should hold, from the replay's temporary tables.
_REPLAYED_ROWS = {
    "job_transition_hour": "SELECT starts_at, family, from_status, to_status, transitions FROM r_transitions",
    "job_transition_day": "SELECT date_trunc('day', starts_at, 'UTC'), family, from_status, to_status, "
    "sum(transitions) FROM r_transitions GROUP BY 1, 2, 3, 4",
    "job_mix_hour": "SELECT starts_at, status, stripe, jobs FROM r_mix",
    "job_mix_day": "SELECT date_trunc('day', starts_at, 'UTC'), status, stripe, sum(jobs) FROM r_mix "
    "GROUP BY 1, 2, 3 HAVING sum(jobs) <> 0",
    "job_mix_month": "SELECT date_trunc('month', starts_at, 'UTC'), status, stripe, sum(jobs) FROM r_mix "
    "GROUP BY 1, 2, 3 HAVING sum(jobs) <> 0",
    "job_state_time_day": "SELECT family, status, starts_at, bucket, stays FROM r_stays",
    "job_state_time_week": "SELECT family, status, date_trunc('week', starts_at, 'UTC'), bucket, sum(stays) "
    "FROM r_stays GROUP BY 1, 2, 3, 4",
}


def _replay_postgres(conn: Connection, families_relation: str) -> None:
    """Fill the r_* temporary tables from the whole event log (see _REPLAY_POSTGRES)."""
    conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    for statement in _REPLAY_TABLES:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql(_REPLAY_POSTGRES.format(families=families_relation))


@dataclass
class Differences:
    """What differs between the kept rows and a replay of the event log (a few examples, and counts)."""

    rows: list[str] = field(default_factory=list)
    rows_count: int = 0
    since: list[tuple[int, dt.datetime | None, dt.datetime | None]] = field(default_factory=list)
    since_count: int = 0
    flags: list[tuple[int, int, str, str, str, dt.datetime]] = field(default_factory=list)
    flags_count: int = 0


def _kept_rows_sql(kept: _Kept) -> str:
    """SQL (PostgreSQL): a kept table's rows as (keys..., v), a histogram's bucket by bucket, with the
    deltas of the log not yet folded into it (db/deltas.py) added; zeros left out."""
    keys = ", ".join(kept.keys)
    if not kept.histogram:
        stored = f"SELECT {keys}, {kept.value} AS v FROM {kept.table.name}"  # noqa: S608
    else:
        stored = (
            f"SELECT {', '.join(kept.row_keys)}, CAST(u.i - 1 AS smallint) AS bucket, u.n AS v "  # noqa: S608
            f"FROM {kept.table.name} CROSS JOIN LATERAL unnest({kept.value}) WITH ORDINALITY AS u(n, i) "
            "WHERE u.n <> 0"
        )
    tail = deltas.TAIL_ROWS.get(kept.table.name)
    if tail is None:
        return stored
    return (
        f"SELECT {keys}, CAST(sum(v) AS bigint) AS v FROM ({stored} UNION ALL {tail}) AS r({keys}, v) "  # noqa: S608
        f"GROUP BY {keys} HAVING sum(v) <> 0"
    )


def _describe(key: tuple[Any, ...]) -> str:
    return ", ".join(as_utc(k).isoformat() if isinstance(k, dt.datetime) else str(k) for k in key)


def differences(conn: Connection) -> Differences:
    """Replay the event log and compare every history row, flag and ``status_since`` with the kept ones.

    On PostgreSQL in SQL (one pass over the event log, then one comparison per table); on SQLite by
    :func:`replay`. Run it in one snapshot (a transaction).
    """
    out = Differences()
    if conn.dialect.name != "postgresql":
        result = replay(conn)
        for name in HISTORY_TABLES:
            kept, fresh = kept_rows(conn, name), result.tally.rows[name]
            for key in sorted(set(kept) | {k for k, n in fresh.items() if n}, key=repr):
                if kept.get(key, 0) != fresh.get(key, 0):
                    out.rows_count += 1
                    out.rows.append(
                        f"{name} ({_describe(key)}): kept {kept.get(key, 0)}, replayed {fresh.get(key, 0)}"
                    )
        kept_f, fresh_f = kept_flags(conn), result.tally.flags
        for event_id in sorted(set(kept_f) | set(fresh_f)):
            if kept_f.get(event_id) != fresh_f.get(event_id):
                out.rows_count += 1
                out.rows.append(
                    f"flag of event {event_id}: kept {kept_f.get(event_id)}, replayed {fresh_f.get(event_id)}"
                )
        out.since = [(j.id, j.status_since, j.replayed_since) for j in result.wrong_since]
        out.since_count = result.wrong_since_count
        ordered = sorted(fresh_f.items(), key=lambda item: (item[1][4], item[0]), reverse=True)
        out.flags = [(e, *rest) for e, rest in ordered[:SHOWN]]
        out.flags_count = len(fresh_f)
        del out.rows[SHOWN:]
        return out
    _replay_postgres(conn, "job")
    for name, expected in _REPLAYED_ROWS.items():
        table = KEPT[name]
        keys = ", ".join(table.keys)
        compare = (
            f"SELECT {keys}, coalesce(k.v, 0), coalesce(r.v, 0) "  # noqa: S608 - fixed names
            f"FROM ({_kept_rows_sql(table)}) AS k "
            f"FULL JOIN (SELECT * FROM ({expected}) AS x({keys}, v)) AS r USING ({keys}) "
            "WHERE coalesce(k.v, 0) <> coalesce(r.v, 0)"
        )
        rows = conn.exec_driver_sql(compare).all()
        out.rows_count += len(rows)
        for *parts, kept_value, replayed in rows[:SHOWN]:
            out.rows.append(f"{name} ({_describe(tuple(parts))}): kept {kept_value}, replayed {replayed}")
    flag_rows = conn.exec_driver_sql(
        "SELECT coalesce(k.event_id, r.event_id) FROM job_disallowed_transition k "
        "FULL JOIN r_flags r USING (event_id) "
        "WHERE (k.job_id, k.family, k.from_status, k.to_status, k.at) "
        "IS DISTINCT FROM (r.job_id, r.family, r.from_status, r.to_status, r.at)"
    ).all()
    out.rows_count += len(flag_rows)
    out.rows.extend(
        f"flag of event {event_id}: kept and replayed differ" for (event_id,) in flag_rows[:SHOWN]
    )
    since_rows = conn.exec_driver_sql(
        "SELECT job.id, job.status_since, r.since FROM job LEFT JOIN r_since r ON r.job_id = job.id "
        "WHERE job.status_since IS DISTINCT FROM r.since ORDER BY job.id"
    ).all()
    out.since_count = len(since_rows)
    out.since = [(row[0], row[1], row[2]) for row in since_rows[:SHOWN]]
    out.flags_count = conn.exec_driver_sql("SELECT count(*) FROM r_flags").scalar_one()
    out.flags = [
        (row[0], row[1], row[2], row[3], row[4], row[5])
        for row in conn.exec_driver_sql(
            "SELECT event_id, job_id, family, from_status, to_status, at FROM r_flags "
            "ORDER BY at DESC, event_id DESC LIMIT %(shown)s",
            {"shown": SHOWN},
        )
    ]
    del out.rows[SHOWN:]
    return out


def rebuild(
    conn: Connection, rules: families.FamilyRules, *, tables: tuple[str, ...] = HISTORY_TABLES
) -> None:
    """Work out every job's family and ``status_since`` again and rebuild every kept table and flag
    (of the history tables, only ``tables``: a migration that created some of them in an earlier shape
    fills those itself).

    Runs in the caller's transaction with writers held off (``LOCK TABLE job IN SHARE MODE``); the
    migration that added these tables backfills them with it. On PostgreSQL the families are worked out
    in Python (the pattern is a Python regular expression) and copied in, the history is replayed in SQL,
    and every job row whose family or ``status_since`` changes is updated once.
    """
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.exec_driver_sql("LOCK TABLE job IN SHARE MODE")
        # The replay counts every event: the deltas not yet folded go (after any fold under way ends).
        # A migration older than the delta log rebuilds before the table exists.
        if conn.exec_driver_sql("SELECT to_regclass('job_history_delta') IS NOT NULL").scalar():
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": deltas.FOLD_LOCK_KEY})
            conn.exec_driver_sql("DELETE FROM job_history_delta")
    admitted = admitted_families(conn, rules)
    allowed = set(admitted)

    def family_of(name: str) -> str:
        family = rules.family_of(name)
        return family if family in allowed else families.OTHER

    conn.execute(delete(job_family_table))
    if admitted:
        conn.execute(insert(job_family_table), [{"name": name} for name in admitted])
    if postgres:
        _rebuild_postgres(conn, family_of, tables)
        return
    pending: Changed = []
    result = replay(conn, family_of=lambda job: family_of(job[1]), store=pending.extend)
    if pending:
        stmt = (
            update(job_table)
            .where(job_table.c.id == bindparam("job_id"))
            .values(family=bindparam("new_family"), status_since=bindparam("new_since", type_=UTCDateTime()))
        )
        rows = [{"job_id": i, "new_family": f, "new_since": s} for i, f, s in pending]
        for chunk in _chunks(rows):
            conn.execute(stmt, chunk)
    aggregates.rebuild(conn)  # the counts by current status, families included, from ``job``
    for name in tables:
        conn.execute(delete(KEPT[name].table))
    conn.execute(delete(job_disallowed_transition_table))
    write_tally(conn, result.tally, tables=tables)


def _rebuild_postgres(conn: Connection, family_of: Callable[[str], str], tables: tuple[str, ...]) -> None:
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE job_families (id bigint PRIMARY KEY, family varchar(255)) ON COMMIT DROP"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    names = _stream(conn, select(job_table.c.id, job_table.c.name).order_by(job_table.c.id))
    batch: list[tuple[int, str]] = []

    def flush() -> None:
        with raw.cursor() as cur, cur.copy("COPY job_families (id, family) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
        batch.clear()

    for job_id, name in names:
        batch.append((job_id, family_of(name)))
        if len(batch) >= 50_000:
            flush()
    flush()
    conn.exec_driver_sql("ANALYZE job_families")
    _replay_postgres(conn, "job_families")
    conn.exec_driver_sql(
        "UPDATE job SET family = f.family, status_since = r.since "
        "FROM job_families f JOIN r_since r ON r.job_id = f.id "
        "WHERE job.id = f.id AND (job.family <> f.family OR job.status_since IS DISTINCT FROM r.since)"
    )
    aggregates.rebuild(conn)  # the counts by current status, families included, from ``job``
    for name, expected in _REPLAYED_ROWS.items():
        if name not in tables:
            continue
        conn.execute(delete(KEPT[name].table))
        kept = KEPT[name]
        if kept.histogram:
            conn.exec_driver_sql(
                _histogram_rows_sql(name, f"({expected}) AS replayed({', '.join(kept.keys)}, n)")
            )
        else:
            conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join((*kept.keys, kept.value))}) {expected}")
    conn.execute(delete(job_disallowed_transition_table))
    conn.exec_driver_sql(
        "INSERT INTO job_disallowed_transition (event_id, job_id, family, from_status, to_status, at) "
        "SELECT event_id, job_id, family, from_status, to_status, at FROM r_flags"
    )
