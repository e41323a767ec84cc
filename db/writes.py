"""Write functions. Each runs inside a caller's write transaction (``Database.write()``).

The invariant they keep (docs/architecture.md): ``job.current_status_type`` and ``job.updated_at`` equal
the status and timestamp of the job's newest event, newest meaning greatest ``(timestamp, id)``, under
any number of concurrent writers. ``append_status`` locks the job row before it reads it, so a writer can
never decide on a stale view of the current status (the classic lost update of read-then-write).

Each write also keeps the count tables of :mod:`db.aggregates` exact in the same transaction: a create
adds the job to its status, a move of the current status takes it from the old one to the new one, a
delete removes it. On PostgreSQL the counts ride in the write's own statement (one round trip).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from db import aggregates, validation
from db.aggregates import Delta, with_counts
from db.errors import NotFound
from db.models import job_status_table, job_table

# PostgreSQL does lock, read, append and (when newer) move the current status in one statement, one
# round trip: `cur` locks the job row and reads its time (the newest committed one, after any wait);
# the event is inserted only if the job exists, after the lock, so event ids follow lock order; the job
# moves only if the event is strictly newer. A tie on time is settled afterwards, as on SQLite.
_APPEND_POSTGRES = text(
    with_counts(
        """
    WITH cur AS (
        SELECT job.id, job.updated_at, job.created_at, job.current_status_type
        FROM job WHERE job.id = :job_id FOR UPDATE
    ), ins AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        SELECT cur.id, :status, :ts, :message FROM cur
        RETURNING job_status.id
    ), upd AS (
        UPDATE job SET current_status_type = :status, updated_at = :ts
        FROM cur WHERE job.id = cur.id AND cur.updated_at < :ts
        RETURNING job.id
    ), d AS (
        SELECT cur.created_at, cur.id AS job_id, moves.status, moves.n
        FROM cur JOIN upd ON upd.id = cur.id
        CROSS JOIN LATERAL (VALUES (cur.current_status_type, -1), (CAST(:status AS varchar), 1))
            AS moves(status, n)
        WHERE cur.current_status_type <> :status
    )""",
        """
    SELECT ins.id, cur.updated_at, cur.created_at, cur.current_status_type FROM ins, cur
    """,
    )
)
# Create the job, its first event and its count in one statement.
_CREATE_POSTGRES = text(
    with_counts(
        """
    WITH j AS (
        INSERT INTO job (name, created_at, updated_at, current_status_type)
        VALUES (:name, :ts, :ts, :status)
        RETURNING job.id, job.created_at
    ), e AS (
        INSERT INTO job_status (job_id, status_type, timestamp, message)
        SELECT j.id, :status, :ts, :message FROM j
    ), d AS (
        SELECT j.created_at, j.id AS job_id, CAST(:status AS varchar) AS status, 1 AS n FROM j
    )""",
        """
    SELECT j.id FROM j
    """,
    )
)
# Delete the job (its history cascades) and take it out of its count in one statement.
_DELETE_POSTGRES = text(
    with_counts(
        """
    WITH gone AS (
        DELETE FROM job WHERE job.id = :job_id RETURNING job.id, job.created_at, job.current_status_type
    ), d AS (
        SELECT gone.created_at, gone.id AS job_id, gone.current_status_type AS status, -1 AS n FROM gone
    )""",
        """
    SELECT count(*) FROM gone
    """,
    )
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
) -> dict[str, Any]:
    """Insert a job and its first event (same timestamp) in the caller's transaction; return the job."""
    values = validation.collect(
        name=lambda: validation.name(name),
        status=lambda: validation.status(status),
        timestamp=lambda: _now() if timestamp is None else validation.timestamp(timestamp),
        message=lambda: validation.message(message),
    )
    ts = values["timestamp"]
    if conn.dialect.name == "postgresql":
        job_id = conn.execute(_CREATE_POSTGRES, {**values, "ts": ts}).scalar_one()
    else:
        job_id = conn.execute(
            insert(job_table)
            .values(name=values["name"], created_at=ts, updated_at=ts, current_status_type=values["status"])
            .returning(job_table.c.id)
        ).scalar_one()
        conn.execute(
            insert(job_status_table).values(
                job_id=job_id, status_type=values["status"], timestamp=ts, message=values["message"]
            )
        )
        aggregates.apply(conn, [Delta(ts, job_id, values["status"], 1)])
    return {
        "id": job_id,
        "name": values["name"],
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
    if conn.dialect.name == "postgresql":
        row = conn.execute(
            _APPEND_POSTGRES, {"job_id": job_id, "status": new_status, "ts": ts, "message": values["message"]}
        ).first()
        if row is None:
            raise NotFound("job", job_id)
        event_id, current, created, old_status = row
    else:
        # Lock first, then read: appenders to one job queue here, and each sees the others' commits.
        locked = conn.execute(
            select(job_table.c.updated_at, job_table.c.created_at, job_table.c.current_status_type)
            .where(job_table.c.id == job_id)
            .with_for_update()
        ).first()
        if locked is None:
            raise NotFound("job", job_id)
        current, created, old_status = locked
        event_id = conn.execute(
            insert(job_status_table)
            .values(job_id=job_id, status_type=new_status, timestamp=ts, message=values["message"])
            .returning(job_status_table.c.id)
        ).scalar_one()
        if ts > current:
            _set_current(conn, job_id, new_status, ts)
            _move_count(conn, job_id, created, old_status, new_status)
    if ts == current:
        # A tie on time goes to the greater id; ask the history index rather than assume id order.
        newest_id = conn.execute(
            select(job_status_table.c.id)
            .where(job_status_table.c.job_id == job_id)
            .order_by(job_status_table.c.timestamp.desc(), job_status_table.c.id.desc())
            .limit(1)
        ).scalar_one()
        if newest_id == event_id:
            _set_current(conn, job_id, new_status, ts)
            _move_count(conn, job_id, created, old_status, new_status)
    return {
        "id": event_id,
        "job_id": job_id,
        "status": values["status"],
        "timestamp": ts,
        "message": values["message"],
    }


def _set_current(conn: Connection, job_id: int, status: str, ts: dt.datetime) -> None:
    conn.execute(
        update(job_table).where(job_table.c.id == job_id).values(current_status_type=status, updated_at=ts)
    )


def _move_count(conn: Connection, job_id: int, created: dt.datetime, old: str, new: str) -> None:
    """The job's current status moved from ``old`` to ``new``: move it between their counts."""
    if old != new:
        aggregates.apply(conn, [Delta(created, job_id, old, -1), Delta(created, job_id, new, 1)])


def delete_job(conn: Connection, *, job_id: int) -> None:
    """Delete a job and take it out of its count; the database cascades the delete to its history."""
    job_id = validation.job_id(job_id)
    if conn.dialect.name == "postgresql":
        if not conn.execute(_DELETE_POSTGRES, {"job_id": job_id}).scalar_one():
            raise NotFound("job", job_id)
        return
    gone = conn.execute(
        delete(job_table)
        .where(job_table.c.id == job_id)
        .returning(job_table.c.created_at, job_table.c.current_status_type)
    ).first()
    if gone is None:
        raise NotFound("job", job_id)
    aggregates.apply(conn, [Delta(gone[0], job_id, gone[1], -1)])
