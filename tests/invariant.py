"""The status invariant (docs/architecture.md), checked over a whole database: reused by the db and API
tests. The statements are ``jobdash db check``'s own."""

from __future__ import annotations

from db.check import INVARIANT_BREAKS, WITHOUT_EVENTS
from db.engine import Database

EVERY_ROW = 2**62


def invariant_violations(database: Database) -> list[tuple[object, ...]]:
    """Rows (job id, job status, job time, newest status, newest time) that break the invariant."""
    with database.read() as conn:
        rows = [tuple(r) for r in conn.execute(INVARIANT_BREAKS, {"limit": EVERY_ROW})]
        orphans = len(conn.execute(WITHOUT_EVENTS, {"limit": EVERY_ROW}).all())
    if orphans:
        rows.append(("jobs without any event", orphans))
    return rows
