"""The status invariant (docs/architecture.md), checked over a whole database: reused by the db and API
tests. The statements are ``jobdash db check``'s own; the durations are recomputed here in Python,
independently of the SQL that keeps and checks them."""

from __future__ import annotations

from sqlalchemy import select

from db.check import INVARIANT_BREAKS, WITHOUT_EVENTS
from db.engine import Database
from db.models import TERMINAL_STATUSES, as_utc, job_table

EVERY_ROW = 2**62


def duration_violations(database: Database) -> list[tuple[object, ...]]:
    """Jobs (id, status, stored duration, expected) whose ``duration_s`` is not ``updated_at -
    created_at`` in seconds when the status is terminal, null otherwise."""
    t = job_table.c
    wrong: list[tuple[object, ...]] = []
    with database.read() as conn:
        rows = conn.execute(select(t.id, t.current_status_type, t.created_at, t.updated_at, t.duration_s))
        for job_id, status, created, updated, stored in rows:
            expected = None
            if status in TERMINAL_STATUSES:
                expected = (as_utc(updated) - as_utc(created)).total_seconds()
            if (stored is None) != (expected is None) or (
                expected is not None and abs(stored - expected) > 1e-6
            ):
                wrong.append((job_id, status, stored, expected))
    return wrong


def invariant_violations(database: Database) -> list[tuple[object, ...]]:
    """Rows (job id, job status, job time, newest status, newest time) that break the invariant, and
    (job id, status, stored duration, expected duration) for each wrong duration."""
    with database.read() as conn:
        rows = [tuple(r) for r in conn.execute(INVARIANT_BREAKS, {"limit": EVERY_ROW})]
        orphans = len(conn.execute(WITHOUT_EVENTS, {"limit": EVERY_ROW}).all())
    if orphans:
        rows.append(("jobs without any event", orphans))
    return rows + duration_violations(database)
