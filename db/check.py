"""``jobdash db check``: recount what the write path keeps, and report each thing that is wrong.

Problems (the check fails on any): a count row that differs from a recount of ``job`` (drift), a job
whose current status or ``updated_at`` differs from its newest event (the invariant), a job with no
event. Findings (reported, never a failure): events dated further in the future than the allowed skew,
which were accepted before the write path refused them. Every line names one problem.

The check reads whole tables (a few GROUP BYs and one pass over the history index): it is a maintenance
command, not a request path, and takes about a minute per ten million jobs on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, text

from db import aggregates
from db.models import UTCDateTime, as_utc

# Jobs whose denormalized status or time differ from their newest event by (timestamp, id).
INVARIANT_BREAKS = text(
    """
    SELECT j.id, j.current_status_type, j.updated_at, e.status_type, e.timestamp
    FROM job j
    JOIN job_status e ON e.id = (
        SELECT s.id FROM job_status s WHERE s.job_id = j.id ORDER BY s.timestamp DESC, s.id DESC LIMIT 1
    )
    WHERE j.current_status_type <> e.status_type OR j.updated_at <> e.timestamp
    ORDER BY j.id
    LIMIT :limit
    """
)
WITHOUT_EVENTS = text(
    "SELECT j.id FROM job j WHERE NOT EXISTS (SELECT 1 FROM job_status s WHERE s.job_id = j.id) "
    "ORDER BY j.id LIMIT :limit"
)
_FUTURE_EVENTS = text(
    "SELECT s.job_id, s.id, s.timestamp FROM job_status s WHERE s.timestamp > :limit_at "
    "ORDER BY s.id LIMIT :limit"
).bindparams(bindparam("limit_at", type_=UTCDateTime()))
# Lines listed per kind; the total of each kind is always given.
SHOWN = 50
DEFAULT_SKEW = dt.timedelta(minutes=5)


@dataclass
class Report:
    """What the check found: ``problems`` fail it, ``findings`` are for the operator to know."""

    problems: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (findings do not count)."""
        return not self.problems


def _stamp(value: object) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return as_utc(value).isoformat() if isinstance(value, dt.datetime) else str(value)


def check(conn: Connection, *, skew: dt.timedelta = DEFAULT_SKEW, now: dt.datetime | None = None) -> Report:
    """Recount the count tables and the invariant over the whole database."""
    report = Report()
    drifted = aggregates.drift(conn)
    report.problems.extend(f"drift: {d.describe()}" for d in drifted[:SHOWN])
    if len(drifted) > SHOWN:
        report.problems.append(f"drift: {len(drifted) - SHOWN} more count rows differ")
    for job_id, status, updated, newest_status, newest_at in conn.execute(INVARIANT_BREAKS, {"limit": SHOWN}):
        report.problems.append(
            f"invariant: job {job_id} is {status} at {_stamp(updated)}, "
            f"but its newest event is {newest_status} at {_stamp(newest_at)}"
        )
    for (job_id,) in conn.execute(WITHOUT_EVENTS, {"limit": SHOWN}):
        report.problems.append(f"invariant: job {job_id} has no event")
    limit_at = (now or dt.datetime.now(dt.UTC)) + skew
    for job_id, event_id, at in conn.execute(_FUTURE_EVENTS, {"limit_at": limit_at, "limit": SHOWN}):
        report.findings.append(
            f"future: event {event_id} of job {job_id} is dated {_stamp(at)}, "
            f"more than {int(skew.total_seconds())} s ahead of now"
        )
    return report


def repair(conn: Connection) -> None:
    """Rebuild the count tables from ``job`` (writers wait meanwhile); the invariant is not touched."""
    aggregates.rebuild(conn)
