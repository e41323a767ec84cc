"""The status invariant under concurrent writers: a stress test, and the race stepped by hand."""

import datetime as dt
import random
import threading
import time

import pytest
from sqlalchemy import func, insert, select, text, update

from db import durations, queries, writes
from db.models import job_status_table, job_table
from tests.conftest import T0, requires_postgres
from tests.invariant import invariant_violations

THREADS = 16
EVENTS_PER_THREAD = 25
JOBS = 3
H = dt.timedelta(hours=1)


def test_sixteen_writers_with_shuffled_timestamps_keep_every_job_on_its_newest_event(database, job_factory):
    jobs = [job_factory(created_at=T0)["id"] for _ in range(JOBS)]
    # Timestamps collide on purpose (minute resolution, few values), so ties on time are exercised too.
    # Each wave of events is mostly newer than the last, so the current status keeps moving and
    # older events keep arriving late, which is where a lost update would show.
    rnd = random.Random(7)
    plan = [
        (rnd.choice(jobs), 1 + i * 5 + rnd.randrange(0, 12), i)
        for t in range(THREADS)
        for i in range(EVENTS_PER_THREAD)
    ]
    plan.sort(key=lambda step: step[1] + rnd.random() * 10)
    slices = [plan[t::THREADS] for t in range(THREADS)]
    start = threading.Barrier(THREADS)
    errors = []

    def writer(work):
        try:
            start.wait()
            for job_id, minute, i in work:
                status = ("RUNNING", "FAILED", "COMPLETED", "CANCELLED", "PENDING")[i % 5]
                with database.write() as conn:
                    writes.append_status(
                        conn, job_id=job_id, status=status, timestamp=T0 + dt.timedelta(minutes=minute)
                    )
        except Exception as exc:  # surfaced below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(work,)) for work in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert invariant_violations(database) == []
    with database.read() as conn:
        events = conn.execute(select(func.count()).select_from(job_status_table)).scalar_one()
    assert events == JOBS + THREADS * EVENTS_PER_THREAD


def naive_append(conn, job_id, status, at):
    """The naive writer: read the current time without a lock, append, overwrite if the event looks newer
    (the status, the time and the duration those give, all from the stale read)."""
    current = conn.execute(select(job_table.c.updated_at).where(job_table.c.id == job_id)).scalar_one()
    conn.execute(insert(job_status_table).values(job_id=job_id, status_type=status, timestamp=at))
    if at > current:
        conn.execute(
            update(job_table)
            .where(job_table.c.id == job_id)
            .values(current_status_type=status, updated_at=at, duration_s=durations.seconds(T0, at, status))
        )


def locked_append(conn, job_id, status, at):
    """Ours."""
    writes.append_status(conn, job_id=job_id, status=status, timestamp=at)


def current_status(database, job_id):
    with database.read() as conn:
        job = queries.get_job(conn, job_id=job_id)
    return job["status"], job["updated_at"]


def backend_waits_on_a_lock(database, pid):
    with database.writer.connect() as watcher:
        state = watcher.execute(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one_or_none()
    return state == "Lock"


def make_job_now(database):
    with database.write() as conn:
        return writes.create_job(conn, name="raced", timestamp=T0)["id"]


def run_the_race(database, append):
    """Step two sessions through the interleaving that loses an update, and return the job raced on.

    Session B appends the NEWER event and holds its transaction open. Session A then appends an OLDER
    event: it starts while B's write is uncommitted, so whatever A reads without a lock still shows the
    job before B. Only once A is stuck waiting on B's row lock does B commit; then A finishes. A writer
    that decides on what it read before the wait overwrites B's newer status with A's older one.
    """
    job_id = make_job_now(database)
    a_pid, errors = [], []

    def session_a():
        try:
            with database.write() as a:
                a_pid.append(a.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                append(a, job_id, "FAILED", T0 + H)
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(exc)

    with database.write() as b:
        append(b, job_id, "RUNNING", T0 + 2 * H)
        thread = threading.Thread(target=session_a)
        thread.start()
        deadline = time.monotonic() + 10
        while not (a_pid and backend_waits_on_a_lock(database, a_pid[0])):
            assert time.monotonic() < deadline, "session A never waited for session B"
            time.sleep(0.005)
    thread.join(timeout=10)  # B has committed on leaving the block above
    assert not thread.is_alive() and errors == []
    return job_id


@requires_postgres
def test_the_naive_read_then_write_loses_the_race(database):
    """The check can catch the race: the naive writer overwrites the newer status with its older one."""
    job_id = run_the_race(database, naive_append)
    assert current_status(database, job_id) == ("FAILED", T0 + H)  # stale: the newest event is RUNNING
    assert [row[0] for row in invariant_violations(database)] == [job_id]


@requires_postgres
def test_append_status_wins_the_same_race(database):
    """Ours reads the job only once it holds the row lock, so it sees B's commit: the newest event wins."""
    job_id = run_the_race(database, locked_append)
    assert current_status(database, job_id) == ("RUNNING", T0 + 2 * H)
    assert invariant_violations(database) == []


@pytest.mark.parametrize("order", ["older-first", "newer-first"])
def test_sequential_writes_in_any_order_end_on_the_newest(database, job_factory, order):
    job_id = job_factory(created_at=T0)["id"]
    events = [("FAILED", T0 + H), ("RUNNING", T0 + 2 * H)]
    for status, at in events if order == "older-first" else events[::-1]:
        with database.write() as conn:
            writes.append_status(conn, job_id=job_id, status=status, timestamp=at)
    assert current_status(database, job_id) == ("RUNNING", T0 + 2 * H)
