"""Write functions. Each runs inside a caller's write transaction (``Database.write()``).

The invariant they keep (SPEC section 1): ``job.current_status_type`` and ``job.updated_at`` equal the
status and timestamp of the job's newest event, newest meaning greatest ``(timestamp, id)``, under any
number of concurrent writers. ``append_status`` locks the job row before it reads it, so a writer can
never decide on a stale view of the current status (the classic lost update of read-then-write).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from db import validation
from db.errors import NotFound
from db.models import Status, job_status_table, job_table


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_job(
    conn: Connection,
    *,
    name: object,
    status: object = Status.PENDING.value,
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
    job_id, ts = values["job_id"], values["timestamp"]
    # Lock first, then read: concurrent appenders to one job queue here, and each sees the others' commits.
    current = conn.execute(
        select(job_table.c.updated_at).where(job_table.c.id == job_id).with_for_update()
    ).scalar_one_or_none()
    if current is None:
        raise NotFound("job", job_id)
    event_id = conn.execute(
        insert(job_status_table)
        .values(job_id=job_id, status_type=values["status"], timestamp=ts, message=values["message"])
        .returning(job_status_table.c.id)
    ).scalar_one()
    newest = ts > current
    if ts == current:
        # A tie on time goes to the greater id; ask the history index rather than assume id order.
        newest_id = conn.execute(
            select(job_status_table.c.id)
            .where(job_status_table.c.job_id == job_id)
            .order_by(job_status_table.c.timestamp.desc(), job_status_table.c.id.desc())
            .limit(1)
        ).scalar_one()
        newest = newest_id == event_id
    if newest:
        conn.execute(
            update(job_table)
            .where(job_table.c.id == job_id)
            .values(current_status_type=values["status"], updated_at=ts)
        )
    return {
        "id": event_id,
        "job_id": job_id,
        "status": values["status"],
        "timestamp": ts,
        "message": values["message"],
    }


def delete_job(conn: Connection, *, job_id: int) -> None:
    """Delete a job; the database cascades the delete to its history."""
    job_id = validation.job_id(job_id)
    deleted = conn.execute(delete(job_table).where(job_table.c.id == job_id)).rowcount
    if not deleted:
        raise NotFound("job", job_id)
