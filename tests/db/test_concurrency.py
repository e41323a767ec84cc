"""The SPEC section 1 invariant under concurrent writers: a stress test, and the race stepped by hand."""

import datetime as dt
import random
import threading
import time

import pytest
from sqlalchemy import event, func, insert, select, text, update

from db import queries, writes
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
    """The naive writer: read the current time without a lock, append, overwrite if the event looks newer."""
    current = conn.execute(select(job_table.c.updated_at).where(job_table.c.id == job_id)).scalar_one()
    conn.execute(insert(job_status_table).values(job_id=job_id, status_type=status, timestamp=at))
    if at > current:
        conn.execute(
            update(job_table)
            .where(job_table.c.id == job_id)
            .values(current_status_type=status, updated_at=at)
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


def run_the_race(database, append):
    """Step two sessions through the interleaving that breaks read-then-write, and report what happened.

    Session A appends an OLDER event and is paused right after it has read the job row. Session B then
    appends a NEWER event. Only when B has either committed or is stuck waiting on a lock is A resumed.
    A correct writer makes B wait; a naive one lets B commit, and A then overwrites B's newer status.
    """
    job_id = make_job_now(database)
    a_has_read, resume_a = threading.Event(), threading.Event()
    b_pid, errors = [], []

    def pause_after_reading_the_job(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT JOB.UPDATED_AT") and not a_has_read.is_set():
            a_has_read.set()
            resume_a.wait(timeout=10)

    def session(name, status, at):
        try:
            with database.write() as conn:
                if name == "A":
                    event.listen(conn, "after_cursor_execute", pause_after_reading_the_job)
                else:
                    b_pid.append(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                append(conn, job_id, status, at)
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(exc)

    session_a = threading.Thread(target=session, args=("A", "FAILED", T0 + H))
    session_b = threading.Thread(target=session, args=("B", "RUNNING", T0 + 2 * H))
    session_a.start()
    assert a_has_read.wait(timeout=10)
    session_b.start()
    deadline = time.monotonic() + 10
    while session_b.is_alive() and time.monotonic() < deadline:
        if b_pid and backend_waits_on_a_lock(database, b_pid[0]):
            break
        time.sleep(0.005)
    b_waited = session_b.is_alive()
    resume_a.set()
    session_a.join(timeout=10)
    session_b.join(timeout=10)
    assert errors == []
    return job_id, b_waited


def make_job_now(database):
    with database.write() as conn:
        return writes.create_job(conn, name="raced", timestamp=T0)["id"]


@requires_postgres
def test_the_naive_read_then_write_loses_the_race(database):
    """The check can catch the race: with the naive writer, B commits and A overwrites it."""
    job_id, b_waited = run_the_race(database, naive_append)
    assert not b_waited
    assert current_status(database, job_id) == ("FAILED", T0 + H)  # stale: the newest event is RUNNING
    assert [row[0] for row in invariant_violations(database)] == [job_id]


@requires_postgres
def test_append_status_wins_the_same_race(database):
    """With ours, B waits on A's row lock, then decides on what A wrote: the newest event wins."""
    job_id, b_waited = run_the_race(database, locked_append)
    assert b_waited
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
