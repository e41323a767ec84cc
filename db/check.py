"""``jobdash db check``: recount what the write path keeps, and report each thing that is wrong.

Problems (the check fails on any): a count row that differs from a recount of ``job`` (drift), a job
whose current status or ``updated_at`` differs from its newest event (the invariant), a job with no
event; a history aggregate row or a flag that differs from a replay of the event log, a job whose
``status_since`` differs from its history, a job whose ``duration_s`` is not the one its status and
times give (db/durations.py), a job whose family is not the one ``JOBDASH_FAMILY_PATTERN``
gives (after a change of the pattern: ``--repair`` works them out again), more families than the cap.
Findings (reported, never a failure): events dated further in the future than the allowed skew, which
were accepted before the write path refused them; transitions the lifecycle does not allow; jobs
counted under the ``other`` family. Every line names one problem.

The check reads whole tables (a few GROUP BYs, and one pass over the event log replaying every job's
history): it is a maintenance command, not a request path. Run it in one snapshot (a REPEATABLE READ
transaction on PostgreSQL) so that every table is read as of the same moment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, select, text

from db import aggregates, durations, families, history
from db.families import FamilyRules
from db.models import UTCDateTime, as_utc, job_table

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


def _seconds(value: float | None) -> str:
    return "unfinished (null)" if value is None else f"{value:.6f} s"


def _history_problems(conn: Connection, report: Report, rules: FamilyRules) -> None:
    """Replay every job's history and compare it with what the write path kept; check the families."""
    found = history.differences(conn)
    report.problems.extend(f"drift: {line}" for line in found.rows)
    if found.rows_count > len(found.rows):
        report.problems.append(f"drift: {found.rows_count - len(found.rows)} more history rows differ")
    for job_id, stored, replayed in found.since:
        report.problems.append(
            f"status_since: job {job_id} says {_stamp(stored)}, its history {_stamp(replayed)}"
        )
    if found.since_count > len(found.since):
        report.problems.append(f"status_since: {found.since_count - len(found.since)} more jobs")
    _family_problems(conn, report, rules)
    for event_id, job_id, _family, before, after, at in found.flags:
        report.findings.append(
            f"transition: job {job_id} went {before} -> {after} at {_stamp(at)} (event {event_id}), "
            "which the lifecycle does not allow"
        )
    if found.flags_count > len(found.flags):
        report.findings.append(
            f"transition: {found.flags_count - len(found.flags)} more transitions the lifecycle "
            "does not allow"
        )


def _family_problems(conn: Connection, report: Report, rules: FamilyRules) -> None:
    """Every job's stored family against the one the pattern gives (one pass over the names)."""
    admitted = set(families.kept_families(conn))
    wrong, others = 0, 0
    shown: list[str] = []
    rows = conn.execute(
        select(job_table.c.id, job_table.c.name, job_table.c.family).execution_options(
            stream_results=True, yield_per=50_000
        )
    )
    for job_id, name, stored in rows:
        family = rules.family_of(name)
        expected = family if family in admitted else families.OTHER
        others += stored == families.OTHER
        if expected != stored:
            wrong += 1
            if len(shown) < 5:
                shown.append(
                    f"family: job {job_id} ({name!r}) is in {stored!r}, the pattern says {expected!r}"
                )
    report.problems.extend(shown)
    if wrong:
        report.problems.append(
            f"family: {wrong} job(s) are not in the family JOBDASH_FAMILY_PATTERN gives "
            "(changed pattern? `jobdash db check --repair` works them out again)"
        )
    if len(admitted) > rules.cap:
        report.problems.append(
            f"family: {len(admitted)} families are admitted, more than JOBDASH_MAX_FAMILIES ({rules.cap}); "
            "`--repair` counts the newest under 'other'"
        )
    if others:
        report.findings.append(
            f"family: {others} job(s) are counted under {families.OTHER!r} (beyond the cap)"
        )


def check(
    conn: Connection,
    *,
    skew: dt.timedelta = DEFAULT_SKEW,
    now: dt.datetime | None = None,
    rules: FamilyRules = families.DEFAULT_RULES,
) -> Report:
    """Recount the count tables, the history aggregates and the invariant over the whole database."""
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
    wrong, wrong_count = durations.wrong_durations(conn, limit=SHOWN)
    for job_id, stored, expected in wrong:
        report.problems.append(
            f"duration: job {job_id} says {_seconds(stored)}, its status and times give {_seconds(expected)}"
        )
    if wrong_count > len(wrong):
        report.problems.append(f"duration: {wrong_count - len(wrong)} more jobs")
    for (job_id,) in conn.execute(WITHOUT_EVENTS, {"limit": SHOWN}):
        report.problems.append(f"invariant: job {job_id} has no event")
    limit_at = (now or dt.datetime.now(dt.UTC)) + skew
    for job_id, event_id, at in conn.execute(_FUTURE_EVENTS, {"limit_at": limit_at, "limit": SHOWN}):
        report.findings.append(
            f"future: event {event_id} of job {job_id} is dated {_stamp(at)}, "
            f"more than {int(skew.total_seconds())} s ahead of now"
        )
    _history_problems(conn, report, rules)
    return report


def repair(conn: Connection, *, rules: FamilyRules = families.DEFAULT_RULES) -> None:
    """Work out every family, ``status_since`` and duration again and rebuild every count and history
    table from the jobs and their events (writers wait meanwhile); the invariant is not touched."""
    history.rebuild(conn, rules)
    durations.repair(conn)
