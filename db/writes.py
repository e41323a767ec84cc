"""Write functions. Each runs inside a caller's write transaction (``Database.write()``).

The invariant they keep (docs/architecture.md): ``job.current_status_type`` and ``job.updated_at`` equal
the status and timestamp of the job's newest event, newest meaning greatest ``(timestamp, id)``, under
any number of concurrent writers. ``append_status`` locks the job row before it reads it, so a writer can
never decide on a stale view of the current status (the classic lost update of read-then-write).

Each write also keeps exact, in the same transaction, the created counts of :mod:`db.aggregates` and
the history aggregates of :mod:`db.history` (families, status mix changes, transitions, time in state,
disallowed transitions), and the job's ``status_since``. On PostgreSQL the common writes are one
statement each (the upserts ride in it as data-modifying CTEs): creating a job, and appending an event
that is the job's newest. An event older than the job's newest (a late event) changes the runs around
the place it lands in the history, which has to be read first (:func:`_neighbourhood`), after the lock:
that costs two more statements. A delete reads the history it takes out of the aggregates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from db import families, history, lifecycle, timeline, validation
from db.errors import NotFound
from db.families import FamilyRules
from db.history import JobRef, with_history
from db.models import (
    Status,
    UTCDateTime,
    as_utc,
    job_disallowed_transition_table,
    job_status_table,
    job_table,
)
from db.timeline import Changes, Neighbourhood

_STAY_BUCKET = history.duration_bucket_sql("CAST(:ts AS timestamptz)", "moved.status_since")
# Create the job (if its family is admitted, or when told not to check), its first event, its counts.
_CREATE_POSTGRES = text(
    with_history(
        """
    WITH fam AS (
        SELECT CAST(:family AS varchar) AS name
        WHERE NOT :check_family OR EXISTS (SELECT 1 FROM job_family WHERE job_family.name = :family)
    ), j AS (
        INSERT INTO job (name, created_at, updated_at, current_status_type, family, status_since)
        SELECT :name, :ts, :ts, :status, fam.name, :ts FROM fam
        RETURNING job.id, job.created_at, job.family
    ), e AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        SELECT j.id, :status, :ts, :message FROM j
    ), d AS (
        SELECT j.created_at, j.id AS job_id, j.family, CAST(:status AS varchar) AS status, 1 AS n FROM j
    ), m AS (
        SELECT j.created_at AS at, j.id AS job_id, CAST(:status AS varchar) AS status, 1 AS n FROM j
    )""",
        "SELECT j.id, j.family FROM j",
        relations="dm",
    )
)
# Lock the job and, when the event is its newest (the common case), append it and keep every aggregate
# in one statement: `cur` locks the row and reads it (the newest committed version, after any wait); the
# event is inserted after the lock, so its id is greater than any of the job's events, and a tie on time
# makes it the newest. When the event is older than the job's newest (`go` is empty) nothing is written
# and the caller takes the late path, with the row still locked.
_APPEND_POSTGRES = text(
    with_history(
        f"""
    WITH cur AS (
        SELECT job.id, job.updated_at, job.created_at, job.current_status_type AS old, job.status_since,
               job.family
        FROM job WHERE job.id = :job_id FOR UPDATE
    ), go AS (
        SELECT cur.* FROM cur WHERE cur.updated_at <= :ts
    ), ins AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        SELECT go.id, :status, :ts, :message FROM go
        RETURNING job_status.id
    ), upd AS (
        UPDATE job SET current_status_type = :status, updated_at = :ts,
            status_since = CASE WHEN go.old = :status THEN go.status_since ELSE :ts END
        FROM go WHERE job.id = go.id
        RETURNING job.id
    ), moved AS (
        SELECT go.* FROM go WHERE go.old <> :status
    ), d AS (
        SELECT moved.created_at, moved.id AS job_id, moved.family, x.status, x.n
        FROM moved CROSS JOIN LATERAL (VALUES (moved.old, -1), (CAST(:status AS varchar), 1)) AS x(status, n)
    ), m AS (
        SELECT CAST(:ts AS timestamptz) AS at, moved.id AS job_id, x.status, x.n
        FROM moved CROSS JOIN LATERAL (VALUES (moved.old, -1), (CAST(:status AS varchar), 1)) AS x(status, n)
    ), t AS (
        SELECT CAST(:ts AS timestamptz) AS at, go.family, go.old AS from_status,
               CAST(:status AS varchar) AS to_status, 1 AS n
        FROM go
    ), s AS (
        SELECT CAST(:ts AS timestamptz) AS at, moved.family, moved.old AS status,
               {_STAY_BUCKET} AS bucket, 1 AS n
        FROM moved
    ), flag AS (
        INSERT INTO job_disallowed_transition (event_id, job_id, family, from_status, to_status, at)
        SELECT ins.id, go.id, go.family, go.old, :status, :ts FROM ins, go
        WHERE NOT {lifecycle.allowed_sql("go.old", "CAST(:status AS varchar)")}
    )""",  # noqa: S608 - fixed names and constants
        """
    SELECT (SELECT ins.id FROM ins), cur.updated_at, cur.created_at, cur.old, cur.status_since, cur.family
    FROM cur
    """,
    )
)
# Append a late event: insert it, set the job's status_since, replace flags, apply the deltas.
_APPLY_POSTGRES = text(
    with_history(
        f"""
    WITH ins AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        VALUES (:job_id, :status, :ts, :message)
        RETURNING job_status.id
    ), upd AS (
        UPDATE job SET status_since = :since WHERE job.id = :job_id AND job.status_since <> :since
    ), unflag AS (
        DELETE FROM job_disallowed_transition WHERE event_id = ANY(CAST(:unflag AS bigint[]))
    ), flag AS (
        INSERT INTO job_disallowed_transition (event_id, job_id, family, from_status, to_status, at)
        SELECT coalesce(x.event_id, ins.id), :job_id, :family, x.a, x.b, x.at
        FROM ins, unnest(
            CAST(:f_event AS bigint[]), CAST(:f_from AS varchar[]), CAST(:f_to AS varchar[]),
            CAST(:f_at AS timestamptz[])
        ) AS x(event_id, a, b, at)
        ON CONFLICT (event_id) DO UPDATE SET from_status = excluded.from_status
    ), {history.ARRAY_DELTAS}""",  # noqa: S608 - fixed text
        "SELECT ins.id FROM ins",
    )
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
        """
    WITH p AS (
        SELECT id, status_type, timestamp FROM job_status WHERE job_id = :job_id AND timestamp <= :ts
        ORDER BY timestamp DESC, id DESC LIMIT 1
    ), n AS (
        SELECT id, status_type, timestamp FROM job_status WHERE job_id = :job_id AND timestamp > :ts
        ORDER BY timestamp, id LIMIT 1
    ), q AS (
        SELECT s.timestamp, s.id FROM job_status s, p
        WHERE s.job_id = :job_id AND (s.timestamp, s.id) < (p.timestamp, p.id)
          AND s.status_type <> p.status_type
        ORDER BY s.timestamp DESC, s.id DESC LIMIT 1
    ), a AS (
        SELECT s.timestamp FROM job_status s, q
        WHERE s.job_id = :job_id AND (s.timestamp, s.id) > (q.timestamp, q.id)
        ORDER BY s.timestamp, s.id LIMIT 1
    ), z AS (
        SELECT s.timestamp FROM job_status s, n
        WHERE s.job_id = :job_id AND (s.timestamp, s.id) > (n.timestamp, n.id)
          AND s.status_type <> n.status_type
        ORDER BY s.timestamp, s.id LIMIT 1
    )
    SELECT p.id AS p_id, p.status_type AS p_status, p.timestamp AS p_at,
           coalesce((SELECT timestamp FROM a), (
               SELECT min(timestamp) FROM job_status WHERE job_id = :job_id
           )) AS p_run_start,
           n.id AS n_id, n.status_type AS n_status, n.timestamp AS n_at,
           (SELECT timestamp FROM z) AS n_run_end
    FROM (SELECT 1 AS one) AS o LEFT JOIN p ON 1 = 1 LEFT JOIN n ON 1 = 1
    """
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
    status: object = Status.PENDING.value,
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
        row = conn.execute(_CREATE_POSTGRES, params).first()
        if row is None:  # a family not seen before: admit it (or count it as "other"), then create
            family = families.admit(conn, family, family_rules.cap)
            row = conn.execute(_CREATE_POSTGRES, {**params, "family": family, "check_family": False}).one()
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
        row = conn.execute(_APPEND_POSTGRES, event).first()
        if row is None:
            raise NotFound("job", job_id)
        event_id, updated, created, _old, since, family = row
        if event_id is None:  # late: the job row is locked now, so the history read next is current
            event_id = _append_late(conn, event, JobRef(job_id, as_utc(created), family), as_utc(since))
    else:
        # SQLite writers hold the database's write lock (BEGIN IMMEDIATE): this read is current.
        locked = conn.execute(
            select(
                job_table.c.updated_at,
                job_table.c.created_at,
                job_table.c.current_status_type,
                job_table.c.status_since,
                job_table.c.family,
            )
            .where(job_table.c.id == job_id)
            .with_for_update()
        ).first()
        if locked is None:
            raise NotFound("job", job_id)
        updated, created, old, since, family = locked
        job = JobRef(job_id, created, family)
        if ts >= updated:
            place = Neighbourhood((0, old, updated), since, None, None, since)
            event_id = _apply_sqlite(
                conn, event, job, *timeline.insert_changes(place, new_status, ts), newest=True
            )
        else:
            event_id = _append_late(conn, event, job, since)
    return {
        "id": event_id,
        "job_id": job_id,
        "status": new_status,
        "timestamp": ts,
        "message": values["message"],
    }


def _neighbourhood(conn: Connection, job_id: int, ts: dt.datetime, since: dt.datetime) -> Neighbourhood:
    row = conn.execute(_NEIGHBOURHOOD, {"job_id": job_id, "ts": ts}).mappings().one()
    before = None if row["p_id"] is None else (row["p_id"], row["p_status"], row["p_at"])
    after = None if row["n_id"] is None else (row["n_id"], row["n_status"], row["n_at"])
    return Neighbourhood(before, row["p_run_start"] if before else None, after, row["n_run_end"], since)


def _append_late(conn: Connection, event: dict[str, Any], job: JobRef, since: dt.datetime) -> int:
    """Append an event older than the job's newest: it changes the runs around where it lands."""
    place = _neighbourhood(conn, job.id, event["ts"], since)
    changes, new_since = timeline.insert_changes(place, event["status"], event["ts"])
    if conn.dialect.name != "postgresql":
        return _apply_sqlite(conn, event, job, changes, new_since, newest=False)
    # One flag per event: a flag that is both dropped and added is the same event's, re-pointed.
    flagged = {event_id for event_id, *_rest in changes.flags if event_id is not None}
    flags = changes.flags
    params = {
        **event,
        **history.array_params(job, changes),
        "since": new_since,
        "family": job.family,
        "unflag": [event_id for event_id in changes.unflag if event_id not in flagged],
        "f_event": [event_id for event_id, *_rest in flags],
        "f_from": [before for _e, before, _a, _t in flags],
        "f_to": [after for _e, _b, after, _t in flags],
        "f_at": [at for *_rest, at in flags],
    }
    event_id: int = conn.execute(_APPLY_POSTGRES, params).scalar_one()
    return event_id


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
        moved.update(current_status_type=event["status"], updated_at=event["ts"])
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
