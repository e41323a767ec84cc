"""The SPEC section 1 invariant, checked over a whole database: reused by the db and API tests."""

from __future__ import annotations

from sqlalchemy import text

from db.engine import Database

# Every job whose denormalized status or time differs from its newest event by (timestamp, id).
MISMATCHES = text(
    """
    SELECT j.id, j.current_status_type, j.updated_at, e.status_type, e.timestamp
    FROM job j
    JOIN job_status e ON e.id = (
        SELECT s.id FROM job_status s WHERE s.job_id = j.id ORDER BY s.timestamp DESC, s.id DESC LIMIT 1
    )
    WHERE j.current_status_type <> e.status_type OR j.updated_at <> e.timestamp
    """
)
JOBS_WITHOUT_EVENTS = text(
    "SELECT count(*) FROM job j WHERE NOT EXISTS (SELECT 1 FROM job_status s WHERE s.job_id = j.id)"
)


def invariant_violations(database: Database) -> list[tuple[object, ...]]:
    """Rows (job id, job status, job time, newest status, newest time) that break the invariant."""
    with database.read() as conn:
        rows = [tuple(r) for r in conn.execute(MISMATCHES)]
        orphans = conn.execute(JOBS_WITHOUT_EVENTS).scalar_one()
    if orphans:
        rows.append(("jobs without any event", orphans))
    return rows
