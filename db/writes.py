"""Write functions. Each runs inside a caller's write transaction (``Database.write()``).

The invariant they keep (docs/architecture.md): ``job.current_status_type`` and ``job.updated_at`` equal
the status and timestamp of the job's newest event, newest meaning greatest ``(timestamp, id)``, under
any number of concurrent writers. ``append_status`` locks the job row before it reads it, so a writer can
never decide on a stale view of the current status (the classic lost update of read-then-write).

Each write also keeps exact, in the same transaction, the created counts of :mod:`db.aggregates` and
the history aggregates of :mod:`db.history` (families, status mix changes, transitions, time in state,
disallowed transitions), and the job's ``status_since``; an append on PostgreSQL writes its status mix,
transition and stay changes to the delta log (:mod:`db.deltas`), which reads add until a fold sums it
into those tables. On PostgreSQL creating a job is one statement
(the upserts ride in it as data-modifying CTEs); appending an event is two: the job row is locked
first, so that the second statement's snapshot holds every event of the job committed before, and the
second reads where the event lands in the history (an event older than the job's newest, a late event,
changes the runs around that place), works out every change from it in SQL and applies them. A delete
locks the job, reads the history it takes out of the aggregates, and deletes. SQLite does the same
statement by statement, with the changes worked out by :mod:`db.timeline`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg._queries
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from db import deltas, durations, families, history, lifecycle, timeline, validation
from db.engine import driver_row
from db.errors import NotFound
from db.families import FamilyRules
from db.history import JobRef, with_history
from db.models import (
    UTCDateTime,
    as_utc,
    job_disallowed_transition_table,
    job_status_table,
    job_table,
)
from db.timeline import Changes, Neighbourhood

_STAY_BUCKET = history.duration_bucket_sql("runs.ended", "runs.at")
# Create the job (if its family is admitted, or when told not to check), its first event, its counts.
# A job created in a terminal status is finished at once: its duration is zero.
_CREATED_DURATION = durations.expected_sql(
    "postgresql", status="CAST(:status AS varchar)", start=":ts", end=":ts"
)
_CREATE_POSTGRES = text(
    with_history(
        f"""
    WITH fam AS (
        SELECT CAST(:family AS varchar) AS name
        WHERE NOT :check_family OR EXISTS (SELECT 1 FROM job_family WHERE job_family.name = :family)
    ), j AS (
        INSERT INTO job (name, created_at, updated_at, current_status_type, family, status_since, duration_s)
        SELECT :name, :ts, :ts, :status, fam.name, :ts, {_CREATED_DURATION} FROM fam
        RETURNING job.id, job.created_at, job.family
    ), e AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        SELECT j.id, :status, :ts, :message FROM j
    ), d AS (
        SELECT j.created_at, j.id AS job_id, j.family, CAST(:status AS varchar) AS status, 1 AS n FROM j
    ), m AS (
        SELECT j.created_at AS at, j.id AS job_id, CAST(:status AS varchar) AS status, 1 AS n FROM j
    )""",  # noqa: S608 - fixed text
        "SELECT j.id, j.family FROM j",
        relations="dm",
    )
)
# psycopg converts a query's named placeholders on every execution unless the query is at most 4,096
# characters long (its guard against one-off statements an ORM generates). The append statement below is
# longer, fixed, and runs on every write: converting it each time cost a third of the Python time of an
# append, in a worker whose threads share one interpreter lock. Let the cache hold it.
if getattr(psycopg._queries, "MAX_CACHED_STATEMENT_LENGTH", 0) < 16_384:
    psycopg._queries.MAX_CACHED_STATEMENT_LENGTH = 16_384


def _beyond(op: str, anchor: str) -> str:
    """SQL: event ``s`` lies before (``op`` <) or after (>) the event of the one-row relation ``anchor``
    in history order. The anchor's place is given as values (scalar subqueries), so a walk of the history
    index starts there; compared with the anchor's columns in a join, it started at one end of the job's
    history and read up to that place (its cost grew with the history)."""
    return f"(s.timestamp, s.id) {op} ((SELECT timestamp FROM {anchor}), (SELECT id FROM {anchor}))"  # noqa: S608


# The events just before (p) and just after (n) where an event at :ts lands in a job's history, and
# the end of n's run (z: the next event in another status); each a short walk of the history index.
_AROUND = """p AS (
        SELECT id, status_type, timestamp FROM job_status WHERE job_id = :job_id AND timestamp <= :ts
        ORDER BY timestamp DESC, id DESC LIMIT 1
    ), n AS (
        SELECT id, status_type, timestamp FROM job_status WHERE job_id = :job_id AND timestamp > :ts
        ORDER BY timestamp, id LIMIT 1
    )"""
_RUN_END = f"""z AS (
        SELECT s.timestamp FROM job_status s
        WHERE s.job_id = :job_id AND {_beyond(">", "n")} AND s.status_type <> (SELECT status_type FROM n)
        ORDER BY s.timestamp, s.id LIMIT 1
    )"""  # noqa: S608 - fixed text
# Lock the job (the statement that follows then reads a snapshot taken after the lock: every event of
# the job committed before is in it) and read the time of its newest event (after any wait for the lock,
# the newest committed). Later statements of the write run with generic plans (they are key
# lookups and upserts whose planning, dozens of CTEs, costs more than running them), without bitmap
# scans (the walks of a job's history must stop at their LIMIT, not read the whole history first) and
# without sequential scans: a generic plan is kept for the connection's life, and one made while a table
# was empty (the flags, on a database with none yet) read that whole table on every later append, the
# same by key lookups as the table grew.
_LOCK_POSTGRES = text(
    "SELECT job.updated_at, set_config('plan_cache_mode', 'force_generic_plan', true), "
    "set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true) "
    "FROM job WHERE job.id = :job_id FOR UPDATE"
)
# Append an event to the locked job and keep every aggregate, in one statement; the same rules as
# db.timeline.insert_changes (which SQLite, seeding and the check use), written in SQL:
#
# - `nb`: where the event lands: the events just before (p) and after (n) it, when p's run began (the
#   job's status_since when p is the newest event, else right after the last event in another status
#   before p) and when n's run ends (z: the next event in another status).
# - `before_list` / `after_list`: that stretch as (position, status, start) without and with the new
#   event (2), '~' marking where the run after n's begins; `before_runs` / `after_runs`: their runs.
# - The status mix change (`m`) and the stays (`s`) are the difference between the two stretches'
#   contributions; the transitions (`t`) replace p -> n by p -> new -> n; the current status moves
#   (`d`) only when the event is the newest; flags follow the transitions.
# The duration once the new event is the newest (db/durations.py): set when it is terminal, else null.
_NEWEST_DURATION = durations.expected_sql("postgresql", status="nb.x", start="nb.created_at", end="nb.xt")
_APPEND_CTES = f"""
    WITH cur AS (
        SELECT job.id, job.created_at, job.family, job.current_status_type, job.status_since
        FROM job WHERE job.id = :job_id
    ), {_AROUND}, q AS (
        SELECT s.timestamp, s.id FROM job_status s
        WHERE s.job_id = :job_id AND EXISTS (SELECT 1 FROM n) AND {_beyond("<", "p")}
          AND s.status_type <> (SELECT status_type FROM p)
        ORDER BY s.timestamp DESC, s.id DESC LIMIT 1
    ), {_RUN_END}, nb AS (
        SELECT cur.*, p.status_type AS ps,
               CASE
                   WHEN n.id IS NULL THEN cur.status_since
                   WHEN EXISTS (SELECT 1 FROM q) THEN (
                       SELECT s.timestamp FROM job_status s WHERE s.job_id = :job_id AND {_beyond(">", "q")}
                       ORDER BY s.timestamp, s.id LIMIT 1
                   )
                   ELSE (SELECT min(timestamp) FROM job_status WHERE job_id = :job_id)
               END AS pa,
               n.id AS nid, n.status_type AS ns, n.timestamp AS nt, (SELECT timestamp FROM z) AS nz,
               CAST(:status AS varchar) AS x, CAST(:ts AS timestamptz) AS xt
        FROM cur LEFT JOIN p ON 1 = 1 LEFT JOIN n ON 1 = 1
    ), before_list AS (
        SELECT v.pos, v.status, v.at
        FROM nb CROSS JOIN LATERAL (VALUES (1, nb.ps, nb.pa), (3, nb.ns, nb.nt), (4, '~', nb.nz))
            AS v(pos, status, at)
        WHERE v.status IS NOT NULL AND v.at IS NOT NULL AND (v.pos <> 4 OR nb.nid IS NOT NULL)
    ), after_list AS (
        SELECT * FROM before_list UNION ALL SELECT 2, nb.x, nb.xt FROM nb
    ), stretches AS (
        SELECT -1 AS sign, * FROM before_list UNION ALL SELECT 1, * FROM after_list
    ), run_starts AS (
        SELECT sign, pos, status, at FROM (
            SELECT stretches.*, lag(status) OVER (PARTITION BY sign ORDER BY pos) AS before
            FROM stretches
        ) AS marked
        WHERE before IS DISTINCT FROM status
    ), runs AS (
        SELECT sign, pos, status, at,
               lag(status) OVER (PARTITION BY sign ORDER BY pos) AS previous,
               lead(at) OVER (PARTITION BY sign ORDER BY pos) AS ended
        FROM run_starts
    ), mix AS (
        SELECT at, status, sum(sign) AS n FROM (
            SELECT sign, at, status FROM runs
            UNION ALL SELECT -sign, at, previous FROM runs WHERE previous IS NOT NULL
        ) AS contributions
        GROUP BY at, status HAVING sum(sign) <> 0
    ), d AS (
        SELECT nb.created_at, nb.id AS job_id, nb.family, v.status, v.n
        FROM nb CROSS JOIN LATERAL (VALUES (nb.ps, -1), (nb.x, 1)) AS v(status, n)
        WHERE nb.nid IS NULL AND nb.ps IS NOT NULL AND nb.ps <> nb.x
    ), m AS (
        SELECT mix.at, nb.id AS job_id, mix.status, mix.n FROM mix, nb WHERE mix.status <> '~'
    ), t AS (
        SELECT v.at, nb.family, v.a AS from_status, v.b AS to_status, v.n
        FROM nb CROSS JOIN LATERAL (
            VALUES (nb.xt, nb.ps, nb.x, 1), (nb.nt, nb.x, nb.ns, 1), (nb.nt, nb.ps, nb.ns, -1)
        ) AS v(at, a, b, n)
        WHERE v.a IS NOT NULL AND v.b IS NOT NULL
    ), s AS (
        SELECT runs.ended AS at, nb.family, runs.status, {_STAY_BUCKET} AS bucket, sum(runs.sign) AS n
        FROM runs, nb WHERE runs.ended IS NOT NULL AND runs.status <> '~'
        GROUP BY 1, 2, 3, 4 HAVING sum(runs.sign) <> 0
    ), ins AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        VALUES (:job_id, :status, :ts, :message)
        RETURNING job_status.id
    ), since AS (
        SELECT CASE WHEN nb.nz IS NOT NULL THEN nb.status_since ELSE (
            SELECT at FROM runs WHERE sign = 1 ORDER BY pos DESC LIMIT 1
        ) END AS value
        FROM nb
    ), upd AS (
        UPDATE job SET
            current_status_type = CASE WHEN nb.nid IS NULL THEN nb.x ELSE job.current_status_type END,
            updated_at = CASE WHEN nb.nid IS NULL THEN nb.xt ELSE job.updated_at END,
            duration_s = CASE WHEN nb.nid IS NULL THEN {_NEWEST_DURATION} ELSE job.duration_s END,
            status_since = since.value
        FROM nb, since
        WHERE job.id = nb.id AND (nb.nid IS NULL OR job.status_since <> since.value)
    ), flag_new AS (
        INSERT INTO job_disallowed_transition (event_id, job_id, family, from_status, to_status, at)
        SELECT ins.id, nb.id, nb.family, nb.ps, nb.x, nb.xt FROM ins, nb
        WHERE nb.ps IS NOT NULL AND NOT {lifecycle.allowed_sql("nb.ps", "nb.x")}
    ), flag_next AS (
        INSERT INTO job_disallowed_transition (event_id, job_id, family, from_status, to_status, at)
        SELECT nb.nid, nb.id, nb.family, nb.x, nb.ns, nb.nt FROM nb
        WHERE nb.nid IS NOT NULL AND NOT {lifecycle.allowed_sql("nb.x", "nb.ns")}
        ON CONFLICT (event_id) DO UPDATE SET from_status = excluded.from_status
    ), unflag_next AS (
        DELETE FROM job_disallowed_transition USING nb
        WHERE event_id = nb.nid AND {lifecycle.allowed_sql("nb.x", "nb.ns")}
    )"""  # noqa: S608 - fixed names and constants
# The created and family counts (`d`) are upserted in the statement; the status mix, transition and
# stay deltas go to the delta log as one row (db/deltas.py), folded into their aggregates later.
_APPEND_POSTGRES = text(with_history(_APPEND_CTES + deltas.LOG_CTE, "SELECT ins.id FROM ins", relations="d"))
# A late event (older than the job's newest, as the lock statement tells) never moves the current
# status, so `d` is empty for it: its statement leaves out the upserts of the created and family counts.
# Every upsert is a node the executor sets up and runs on each execution, whether it has rows or not.
_APPEND_LATE_POSTGRES = text(
    with_history(_APPEND_CTES + deltas.LOG_CTE, "SELECT ins.id FROM ins", relations="")
)
# The statements of every create and append, as psycopg takes them (db.engine.driver_row runs them).
_CREATE_SQL, _LOCK_SQL, _APPEND_SQL, _APPEND_LATE_SQL = (
    str(statement.compile(dialect=PGDialect_psycopg()))  # type: ignore[no-untyped-call]
    for statement in (_CREATE_POSTGRES, _LOCK_POSTGRES, _APPEND_POSTGRES, _APPEND_LATE_POSTGRES)
)
# Delete the job (its history and flags cascade) and take its whole history out of every aggregate.
_DELETE_POSTGRES = text(
    with_history(
        f"""
    WITH gone AS (
        DELETE FROM job WHERE job.id = :job_id RETURNING job.id
    ), {history.ARRAY_DELTAS}""",  # noqa: S608 - fixed text
        "SELECT count(*) FROM gone",
    )
)
# Where an event at :ts lands in a job's history (db.timeline.Neighbourhood): the events just before
# and just after it, when the run holding the one before began (right after the last event in another
# status before it, else at the job's first event) and when the run holding the one after ends. Each
# part is a short walk of the history index from the landing place.
_NEIGHBOURHOOD = (
    text(
        f"""
    WITH {_AROUND}, q AS (
        SELECT s.timestamp, s.id FROM job_status s
        WHERE s.job_id = :job_id AND {_beyond("<", "p")} AND s.status_type <> (SELECT status_type FROM p)
        ORDER BY s.timestamp DESC, s.id DESC LIMIT 1
    ), a AS (
        SELECT s.timestamp FROM job_status s WHERE s.job_id = :job_id AND {_beyond(">", "q")}
        ORDER BY s.timestamp, s.id LIMIT 1
    ), {_RUN_END}
    SELECT p.id AS p_id, p.status_type AS p_status, p.timestamp AS p_at,
           coalesce((SELECT timestamp FROM a), (
               SELECT min(timestamp) FROM job_status WHERE job_id = :job_id
           )) AS p_run_start,
           n.id AS n_id, n.status_type AS n_status, n.timestamp AS n_at,
           (SELECT timestamp FROM z) AS n_run_end
    FROM (SELECT 1 AS one) AS o LEFT JOIN p ON 1 = 1 LEFT JOIN n ON 1 = 1
    """  # noqa: S608 - fixed text
    )
    .bindparams(bindparam("ts", type_=UTCDateTime()))
    .columns(p_at=UTCDateTime(), p_run_start=UTCDateTime(), n_at=UTCDateTime(), n_run_end=UTCDateTime())
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_job(
    conn: Connection,
    *,
    name: object,
    status: object = "PENDING",
    timestamp: object = None,
    message: object = None,
    family_rules: FamilyRules = families.DEFAULT_RULES,
) -> dict[str, Any]:
    """Insert a job and its first event (same timestamp) in the caller's transaction; return the job."""
    values = validation.collect(
        name=lambda: validation.name(name),
        status=lambda: validation.status(status),
        timestamp=lambda: _now() if timestamp is None else validation.timestamp(timestamp),
        message=lambda: validation.message(message),
    )
    ts = values["timestamp"]
    family = family_rules.family_of(values["name"])
    if conn.dialect.name == "postgresql":
        params = {**values, "ts": ts, "family": family, "check_family": True}
        row = driver_row(conn, _CREATE_SQL, params)
        if row is None:  # a family not seen before: admit it (or count it as "other"), then create
            family = families.admit(conn, family, family_rules.cap)
            row = driver_row(conn, _CREATE_SQL, {**params, "family": family, "check_family": False})
            assert row is not None
        job_id = row[0]
    else:
        family = family if families.known(conn, family) else families.admit(conn, family, family_rules.cap)
        job_id = conn.execute(
            insert(job_table)
            .values(
                name=values["name"],
                created_at=ts,
                updated_at=ts,
                current_status_type=values["status"],
                family=family,
                status_since=ts,
                duration_s=durations.seconds(ts, ts, values["status"]),
            )
            .returning(job_table.c.id)
        ).scalar_one()
        conn.execute(
            insert(job_status_table).values(
                job_id=job_id, status_type=values["status"], timestamp=ts, message=values["message"]
            )
        )
        changes, _since = timeline.whole_history([(0, values["status"], ts)])
        _write_sqlite(conn, JobRef(job_id, ts, family), changes)
    return {
        "id": job_id,
        "name": values["name"],
        "family": family,
        "status": values["status"],
        "created_at": ts,
        "updated_at": ts,
    }


def append_status(
    conn: Connection, *, job_id: int, status: object, timestamp: object = None, message: object = None
) -> dict[str, Any]:
    """Append an event; move the job's current status only if the event is now the newest."""
    values = validation.collect(
        job_id=lambda: validation.job_id(job_id),
        status=lambda: validation.status(status),
        timestamp=lambda: _now() if timestamp is None else validation.timestamp(timestamp),
        message=lambda: validation.message(message),
    )
    job_id, ts, new_status = values["job_id"], values["timestamp"], values["status"]
    event = {"job_id": job_id, "status": new_status, "ts": ts, "message": values["message"]}
    if conn.dialect.name == "postgresql":
        locked = driver_row(conn, _LOCK_SQL, {"job_id": job_id})
        if locked is None:
            raise NotFound("job", job_id)
        # The job's newest event is at updated_at (the invariant): one at or after it is the newest.
        appended = driver_row(conn, _APPEND_SQL if ts >= locked[0] else _APPEND_LATE_SQL, event)
        assert appended is not None
        event_id = appended[0]
    else:
        # SQLite writers hold the database's write lock (BEGIN IMMEDIATE): these reads are current.
        locked = conn.execute(
            select(
                job_table.c.updated_at,
                job_table.c.created_at,
                job_table.c.current_status_type,
                job_table.c.status_since,
                job_table.c.family,
            ).where(job_table.c.id == job_id)
        ).first()
        if locked is None:
            raise NotFound("job", job_id)
        updated, created, old, since, family = locked
        if ts >= updated:
            place = Neighbourhood((0, old, updated), since, None, None, since)
        else:
            place = _neighbourhood(conn, job_id, ts, since)
        changes, new_since = timeline.insert_changes(place, new_status, ts)
        event_id = _apply_sqlite(
            conn, event, JobRef(job_id, created, family), changes, new_since, newest=ts >= updated
        )
    return {
        "id": event_id,
        "job_id": job_id,
        "status": new_status,
        "timestamp": ts,
        "message": values["message"],
    }


def _neighbourhood(conn: Connection, job_id: int, ts: dt.datetime, since: dt.datetime) -> Neighbourhood:
    """Where an event at ``ts`` lands in the (locked) job's history."""
    row = conn.execute(_NEIGHBOURHOOD, {"job_id": job_id, "ts": ts}).mappings().one()
    before = None if row["p_id"] is None else (row["p_id"], row["p_status"], row["p_at"])
    after = None if row["n_id"] is None else (row["n_id"], row["n_status"], row["n_at"])
    return Neighbourhood(before, row["p_run_start"] if before else None, after, row["n_run_end"], since)


def _apply_sqlite(
    conn: Connection,
    event: dict[str, Any],
    job: JobRef,
    changes: Changes,
    since: dt.datetime,
    *,
    newest: bool,
) -> int:
    """Write an event and everything it changes, statement by statement (SQLite)."""
    event_id: int = conn.execute(
        insert(job_status_table)
        .values(job_id=job.id, status_type=event["status"], timestamp=event["ts"], message=event["message"])
        .returning(job_status_table.c.id)
    ).scalar_one()
    moved: dict[str, Any] = {"status_since": since}
    if newest:
        moved.update(
            current_status_type=event["status"],
            updated_at=event["ts"],
            duration_s=durations.seconds(job.created_at, event["ts"], event["status"]),
        )
    conn.execute(update(job_table).where(job_table.c.id == job.id).values(**moved))
    if changes.unflag:
        flags = job_disallowed_transition_table
        conn.execute(delete(flags).where(flags.c.event_id.in_(changes.unflag)))
    _write_sqlite(conn, job, changes, new_event_id=event_id)
    return event_id


def _write_sqlite(
    conn: Connection, job: JobRef, changes: Changes, *, new_event_id: int | None = None
) -> None:
    tally = history.Tally()
    tally.add(job, changes, new_event_id=new_event_id)
    history.write_tally(conn, tally)


def delete_job(conn: Connection, *, job_id: int) -> None:
    """Delete a job and take its history out of every aggregate; its events and flags cascade."""
    job_id = validation.job_id(job_id)
    locked = conn.execute(
        select(job_table.c.created_at, job_table.c.family).where(job_table.c.id == job_id).with_for_update()
    ).first()
    if locked is None:
        raise NotFound("job", job_id)
    e = job_status_table.c
    # Read after the lock: every event of the job committed before it is in this statement's snapshot.
    events = conn.execute(
        select(e.id, e.status_type, e.timestamp).where(e.job_id == job_id).order_by(e.timestamp, e.id)
    ).all()
    changes = timeline.whole_history([(i, s, as_utc(at)) for i, s, at in events])[0].negated()
    job = JobRef(job_id, as_utc(locked[0]), locked[1])
    if conn.dialect.name == "postgresql":
        conn.execute(_DELETE_POSTGRES, {"job_id": job_id, **history.array_params(job, changes)})
        return
    conn.execute(delete(job_table).where(job_table.c.id == job_id))
    _write_sqlite(conn, job, changes)
