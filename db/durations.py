"""A finished job's duration (``job.duration_s``): how it is worked out, checked and repaired.

The duration is the seconds from ``created_at`` to the job's terminal event. The current status is the
newest event's, so a job is finished exactly when its current status is terminal, and its terminal
event is then its newest: the duration is ``updated_at - created_at``. A retry (FAILED -> PENDING)
makes the job unfinished again and its duration null. The write path keeps the column in the same
statement (PostgreSQL) or transaction (SQLite) as the current status; ``jobdash db check`` recomputes
it for every job and ``--repair`` sets it again (docs/architecture.md, "Duration").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from db.models import TERMINAL_STATUSES

# Stored durations and recomputed ones may differ by rounding on SQLite (the text arithmetic below
# against Python's): a microsecond, the resolution of the timestamps, is the tolerance.
TOLERANCE_S = 1e-6
_TERMINAL = "(" + ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES)) + ")"
_SECONDS = {
    "postgresql": "CAST(extract(epoch FROM {end} - {start}) AS double precision)",
    # SQLite stores times as 'YYYY-MM-DD HH:MM:SS.ffffff' text: whole seconds, plus the microseconds.
    # strftime('%s') is given the whole seconds only: on the full text it rounds to the millisecond
    # first, so ':05.999700' would count as second 6 and the duration would be a second off.
    "sqlite": "((CAST(strftime('%s', substr({end}, 1, 19)) AS INTEGER)"
    " - CAST(strftime('%s', substr({start}, 1, 19)) AS INTEGER))"
    " + (CAST(substr({end}, 21, 6) AS INTEGER) - CAST(substr({start}, 21, 6) AS INTEGER)) / 1000000.0)",
}


def seconds(created_at: dt.datetime, updated_at: dt.datetime, status: str) -> float | None:
    """The duration of a job in ``status`` whose newest event is at ``updated_at``; None if unfinished."""
    return (updated_at - created_at).total_seconds() if status in TERMINAL_STATUSES else None


def expected_sql(dialect: str, *, status: str, start: str, end: str) -> str:
    """SQL for the duration of a job from its status, creation and newest event expressions."""
    return f"CASE WHEN {status} IN {_TERMINAL} THEN {_SECONDS[dialect].format(start=start, end=end)} END"


def _wrong(dialect: str) -> str:
    expected = expected_sql(dialect, status="current_status_type", start="created_at", end="updated_at")
    return f"(duration_s IS NULL) <> (({expected}) IS NULL) OR abs(duration_s - ({expected})) > {TOLERANCE_S}"


def wrong_durations(
    conn: Connection, *, limit: int
) -> tuple[list[tuple[int, float | None, float | None]], int]:
    """Up to ``limit`` jobs (id, stored, expected) whose duration is not the one their row gives, and
    how many there are in all (one pass over ``job``)."""
    dialect = conn.dialect.name
    expected = expected_sql(dialect, status="current_status_type", start="created_at", end="updated_at")
    where = _wrong(dialect)
    rows = conn.execute(
        text(
            f"SELECT id, duration_s, {expected} FROM job WHERE {where} ORDER BY id LIMIT :limit"  # noqa: S608
        ),
        {"limit": limit},
    ).all()
    total = conn.execute(text(f"SELECT count(*) FROM job WHERE {where}")).scalar_one()  # noqa: S608
    return [(int(i), stored, wanted) for i, stored, wanted in rows], int(total)


def repair(conn: Connection) -> int:
    """Set every wrong duration again (in the caller's transaction); how many rows were wrong."""
    dialect = conn.dialect.name
    expected = expected_sql(dialect, status="current_status_type", start="created_at", end="updated_at")
    result = conn.execute(
        text(f"UPDATE job SET duration_s = {expected} WHERE {_wrong(dialect)}")  # noqa: S608 - fixed text
    )
    return int(result.rowcount or 0)
