"""Realistic, deterministic demo and benchmark data; COPY on PostgreSQL, batched inserts on SQLite."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from db import durations, families, history, timeline
from db.engine import Database
from db.families import FamilyRules
from db.models import job_status_table, job_table

FAMILIES = (
    ("etl-orders", 1.0),
    ("etl-customers", 0.8),
    ("train-ranker", 0.25),
    ("report-weekly", 0.15),
    ("backup-postgres", 0.3),
    ("sync-crm", 0.6),
    ("reindex-search", 0.35),
    ("email-digest", 0.5),
)
FAILURE_REASONS = (
    "exit code 1",
    "OOMKilled",
    "timeout after 3600s",
    "connection reset by peer",
    "upstream returned 503",
    "disk quota exceeded",
    "assertion failed in transform step",
)
SPAN = dt.timedelta(days=180)
CHUNK_JOBS = 20_000
COPY_JOBS = (
    "COPY job (id, name, created_at, updated_at, current_status_type, family, status_since, duration_s) "
    "FROM STDIN"
)
COPY_EVENTS = "COPY job_status (id, job_id, status_type, timestamp, message) FROM STDIN"

JobRow = tuple[int, str, dt.datetime, dt.datetime, str]
EventRow = tuple[int, int, str, dt.datetime, str | None]


@dataclass(frozen=True)
class SeedResult:
    """What a seed run wrote."""

    jobs: int
    events: int


def generate(
    *, jobs: int, events_per_job: int, seed: int, first_job_id: int, first_event_id: int, now: dt.datetime
) -> Iterator[tuple[JobRow, list[EventRow]]]:
    """Yield (job, its events) with ids from the given starts; the same arguments give the same rows."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    names = [name for name, _ in FAMILIES]
    weights = [weight for _, weight in FAMILIES]
    start = now - SPAN
    event_id = first_event_id
    for index in range(jobs):
        job_id = first_job_id + index
        family = rnd.choices(names, weights)[0]
        # Ids follow creation time, as they do in a real queue; jitter keeps the order from being exact.
        created = start + SPAN * ((index + rnd.random()) / jobs)
        recent = now - created < dt.timedelta(days=1)
        statuses = _status_path(rnd, events_per_job, in_progress=recent and rnd.random() < 0.5)
        at = created
        events: list[EventRow] = []
        for position, status in enumerate(statuses):
            if position:
                mean = 30 if status == "RUNNING" and statuses[position - 1] == "PENDING" else 600
                at = min(at + dt.timedelta(seconds=rnd.expovariate(1 / mean)), now)
            message = _message(rnd, status, position, len(statuses))
            events.append((event_id, job_id, status, at, message))
            event_id += 1
        yield (job_id, f"{family}-{job_id}", created, at, statuses[-1]), events


def _status_path(rnd: random.Random, length: int, *, in_progress: bool) -> list[str]:
    """PENDING, RUNNING..., then an outcome; some fail once and are retried. Every step is one the
    lifecycle allows (db/lifecycle.py): retried after FAILED, finishing from RUNNING."""
    if length == 1:
        return ["PENDING"]
    if in_progress:
        path = ["PENDING"] + ["RUNNING"] * (length - 1)
        if length >= 3 and rnd.random() < 0.3:
            path[-2:] = ["FAILED", "PENDING"]  # failed, queued for another attempt
            if length == 3:
                path[0] = "RUNNING"  # reported once running: RUNNING, FAILED, PENDING
        return path
    roll = rnd.random()
    outcome = "COMPLETED" if roll < 0.8 else "FAILED" if roll < 0.92 else "CANCELLED"
    if length == 2:
        # Too short to go through PENDING: reported when it started, then when it finished.
        return ["RUNNING", outcome]
    path = ["PENDING"] + ["RUNNING"] * (length - 2) + [outcome]
    if length >= 6 and rnd.random() < 0.15:
        path[2], path[3] = "FAILED", "PENDING"  # attempt 1 failed, queued again (and re-run)
    return path


def _message(rnd: random.Random, status: str, position: int, length: int) -> str | None:
    if status == "FAILED":
        return rnd.choice(FAILURE_REASONS)
    if status == "RUNNING":
        if position == 1:
            return f"started on worker-{rnd.randrange(1, 33)}"
        # Progress grows along the history: each report is a step further than the last.
        share = position / max(length - 1, 1)
        return f"progress {min(99, int(100 * share) + rnd.randrange(0, 5))}%"
    if status == "PENDING" and position:
        return "retrying"
    return None


def _next_ids(conn: Connection) -> tuple[int, int]:
    job_max = conn.execute(select(func.max(job_table.c.id))).scalar_one() or 0
    event_max = conn.execute(select(func.max(job_status_table.c.id))).scalar_one() or 0
    return job_max + 1, event_max + 1


def seed(
    database: Database,
    *,
    jobs: int,
    events_per_job: int,
    seed: int = 0,
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
    family_rules: FamilyRules = families.DEFAULT_RULES,
) -> SeedResult:
    """Add ``jobs`` jobs with ``events_per_job`` events each; ``progress`` is told of each job batch."""
    if jobs < 0 or events_per_job < 1:
        raise ValueError("jobs must be >= 0 and events_per_job >= 1")
    now = now or dt.datetime.now(dt.UTC)
    report = progress or (lambda _n: None)
    loader = _seed_postgres if database.dialect == "postgresql" else _seed_sqlite
    return loader(
        database,
        jobs=jobs,
        events_per_job=events_per_job,
        seed=seed,
        now=now,
        report=report,
        family_rules=family_rules,
    )


def _chunks(rows: Iterator[tuple[JobRow, list[EventRow]]]) -> Iterator[tuple[list[JobRow], list[EventRow]]]:
    job_rows: list[JobRow] = []
    event_rows: list[EventRow] = []
    for job, events in rows:
        job_rows.append(job)
        event_rows.extend(events)
        if len(job_rows) == CHUNK_JOBS:
            yield job_rows, event_rows
            job_rows, event_rows = [], []
    if job_rows:
        yield job_rows, event_rows


class _Families:
    """The stored family of each seeded name: worked out by the rules, admitted once per family."""

    def __init__(self, conn: Connection, rules: FamilyRules) -> None:
        self.conn, self.rules = conn, rules
        self.known: dict[str, str] = {}

    def of(self, name: str) -> str:
        family = self.rules.family_of(name)
        if family not in self.known:
            self.known[family] = families.resolve(self.conn, self.rules, name)
        return self.known[family]


def _with_history(
    job_rows: list[JobRow], event_rows: list[EventRow], family_of: _Families, tally: history.Tally
) -> list[tuple[object, ...]]:
    """The job rows with their family and status_since; what their histories add to the aggregates is
    added to ``tally`` (generated histories are in order already)."""
    by_job: dict[int, list[timeline.IdEvent]] = {}
    for event_id, job_id, status, at, _message in event_rows:
        by_job.setdefault(job_id, []).append((event_id, status, at))
    rows: list[tuple[object, ...]] = []
    for job_id, name, created, updated, status in job_rows:
        family = family_of.of(name)
        changes, since = timeline.whole_history(by_job.get(job_id, []))
        tally.add(history.JobRef(job_id, created, family), changes)
        duration = durations.seconds(created, updated, status)
        rows.append((job_id, name, created, updated, status, family, since, duration))
    return rows


def _seed_sqlite(
    database: Database,
    *,
    jobs: int,
    events_per_job: int,
    seed: int,
    now: dt.datetime,
    report: Callable[[int], None],
    family_rules: FamilyRules,
) -> SeedResult:
    events_written = 0
    with database.write() as conn:
        family_of = _Families(conn, family_rules)
        first_job, first_event = _next_ids(conn)
        rows = generate(
            jobs=jobs,
            events_per_job=events_per_job,
            seed=seed,
            first_job_id=first_job,
            first_event_id=first_event,
            now=now,
        )
        job_keys = (
            "id",
            "name",
            "created_at",
            "updated_at",
            "current_status_type",
            "family",
            "status_since",
            "duration_s",
        )
        event_keys = ("id", "job_id", "status_type", "timestamp", "message")
        tally = history.Tally()
        for job_rows, event_rows in _chunks(rows):
            full_rows = _with_history(job_rows, event_rows, family_of, tally)
            conn.execute(insert(job_table), [dict(zip(job_keys, r, strict=True)) for r in full_rows])
            events = [dict(zip(event_keys, r, strict=True)) for r in event_rows]
            conn.execute(insert(job_status_table), events)
            events_written += len(event_rows)
            report(len(job_rows))
        history.write_tally(conn, tally)
    return SeedResult(jobs=jobs, events=events_written)


def _seed_postgres(
    database: Database,
    *,
    jobs: int,
    events_per_job: int,
    seed: int,
    now: dt.datetime,
    report: Callable[[int], None],
    family_rules: FamilyRules,
) -> SeedResult:
    """COPY in chunks; into an empty table, drop the secondary indexes and FK first and build them after."""
    events_written = 0
    secondary = [*job_table.indexes, *job_status_table.indexes]
    foreign_keys = list(job_status_table.foreign_key_constraints)
    with database.write() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        conn.exec_driver_sql("LOCK TABLE job, job_status IN SHARE ROW EXCLUSIVE MODE")
        family_of = _Families(conn, family_rules)
        first_job, first_event = _next_ids(conn)
        rebuild = first_job == 1 and first_event == 1 and jobs >= CHUNK_JOBS
        if rebuild:
            for fk in foreign_keys:
                conn.execute(DropConstraint(fk))
            for index in secondary:
                conn.execute(DropIndex(index, if_exists=True))
        raw = conn.connection.driver_connection
        assert raw is not None
        rows = generate(
            jobs=jobs,
            events_per_job=events_per_job,
            seed=seed,
            first_job_id=first_job,
            first_event_id=first_event,
            now=now,
        )
        # What the histories add to the aggregates is summed over every chunk and written once: its rows
        # are per period and key, bounded whatever the number of jobs, while writing them per chunk, in
        # this one transaction, would leave a dead version of each row per chunk (a 10M seed left the
        # time-in-state tables seven times their size, and every insight read slower for it).
        tally = history.Tally()
        with raw.cursor() as cur:
            for job_rows, event_rows in _chunks(rows):
                full_rows = _with_history(job_rows, event_rows, family_of, tally)
                with cur.copy(COPY_JOBS) as cp:
                    for job_row in full_rows:
                        cp.write_row(job_row)
                with cur.copy(COPY_EVENTS) as cp:
                    for event_row in event_rows:
                        cp.write_row(event_row)
                events_written += len(event_rows)
                report(len(job_rows))
        history.write_tally(conn, tally)
        if rebuild:
            for index in secondary:  # all of them, the trigram one included: this is PostgreSQL
                conn.execute(CreateIndex(index))
            for fk in foreign_keys:
                conn.execute(AddConstraint(fk))
        # Explicit ids bypassed the identity sequences; move them past what we wrote.
        for table in ("job", "job_status"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
    with database.writer.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE job, job_status")
    return SeedResult(jobs=jobs, events=events_written)
