"""The history aggregates kept by the write path: status mix as of any hour, transitions, time in state,
disallowed transitions, status_since. Random event streams arrive in random order (late events, ties,
deletes); afterwards every hour and every row equals a brute-force recount from the event table."""

import contextlib
import datetime as dt
import random

import pytest
from sqlalchemy import text

from db import check, folding, history, insights, writes
from db.errors import NotFound
from db.models import STATUSES
from tests.conftest import T0
from tests.invariant import invariant_violations
from tests.recount import assert_history_matches

M = dt.timedelta(minutes=1)
FAMILIES = ("etl-orders", "train-ranker", "backup")


def random_histories(rnd, jobs, *, span_hours=60, max_events=9):
    """Per job: a name and its events (status, time); times at 20-minute resolution so ties happen."""
    out = []
    for index in range(jobs):
        start = T0 + rnd.randrange(0, span_hours * 3) * 20 * M
        events = [
            (rnd.choice(STATUSES), start + rnd.randrange(0, 36) * 20 * M)
            for _ in range(rnd.randint(1, max_events))
        ]
        out.append((f"{rnd.choice(FAMILIES)}-{index}", events))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_in_random_arrival_order_match_a_brute_force_replay(database, seed):
    """Events reach the write path shuffled across jobs: the first to arrive creates the job, the rest
    are appended, many older than the job's newest; some jobs are deleted halfway. Every hour of the
    status mix and every kept row equals a reconstruction from the event table."""
    rnd = random.Random(seed)
    arrivals = []
    for job_index, (name, events) in enumerate(random_histories(rnd, 30)):
        arrivals.extend((job_index, name, status, at) for status, at in events)
    rnd.shuffle(arrivals)
    ids: dict[int, int] = {}
    deleted = set()
    for step, (job_index, name, status, at) in enumerate(arrivals):
        if job_index in deleted:
            continue
        with database.write() as conn:
            if job_index not in ids:
                ids[job_index] = writes.create_job(conn, name=name, status=status, timestamp=at)["id"]
            else:
                writes.append_status(conn, job_id=ids[job_index], status=status, timestamp=at)
            if step % 17 == 16:  # now and then a job is deleted with all its history
                victim = rnd.choice(sorted(set(ids) - deleted))
                writes.delete_job(conn, job_id=ids[victim])
                deleted.add(victim)
    assert invariant_violations(database) == []
    assert_history_matches(database, hours=(T0 - 2 * dt.timedelta(hours=1), T0 + dt.timedelta(hours=80)))
    with database.write() as conn:  # a transaction: the check reads one snapshot
        assert check.check(conn).problems == []


def test_a_late_event_changes_the_past_between_its_time_and_the_next_event(database):
    """PENDING at 00:00, RUNNING at 03:00; a late FAILED at 01:00 moves the job from PENDING to FAILED
    for 01:00-03:00 only, replaces PENDING -> RUNNING by PENDING -> FAILED -> RUNNING (neither of which
    the lifecycle allows: both flagged) and splits the three-hour PENDING stay."""
    h = dt.timedelta(hours=1)
    with database.write() as conn:
        job = writes.create_job(conn, name="late-1", timestamp=T0)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + 3 * h)
    with database.read() as conn:
        before = [insights.status_mix_as_of(conn, T0 + i * h).by_status for i in range(5)]
    assert [b["PENDING"] for b in before] == [0, 1, 1, 1, 0]
    with database.write() as conn:
        writes.append_status(conn, job_id=job["id"], status="FAILED", timestamp=T0 + h)
    with database.read() as conn:
        after = [insights.status_mix_as_of(conn, T0 + i * h).by_status for i in range(5)]
        moves = insights.transition_counts(conn, since=T0, until=T0 + 4 * h).results
        stays = insights.time_in_state(conn, since=T0, until=T0 + dt.timedelta(days=1)).results
        flagged = insights.disallowed_transitions(
            conn, since=T0, until=T0 + 4 * h, page_size=10, max_page_size=10
        ).results
    assert [(a["PENDING"], a["FAILED"], a["RUNNING"]) for a in after] == [
        (0, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (0, 1, 0),
        (0, 0, 1),
    ]
    assert {(m["from_status"], m["to_status"]): (m["count"], m["allowed"]) for m in moves} == {
        ("PENDING", "FAILED"): (1, False),
        ("FAILED", "RUNNING"): (1, False),
    }
    assert [(f["from_status"], f["to_status"]) for f in flagged] == [
        ("FAILED", "RUNNING"),
        ("PENDING", "FAILED"),
    ]
    # One stay each: its p50 is its own length, within a bucket's width (db/timeline.py).
    assert {s["status"]: (s["stays"], s["p50"]) for s in stays} == {
        "PENDING": (1, pytest.approx(3600, rel=0.19)),
        "FAILED": (1, pytest.approx(7200, rel=0.19)),
    }
    assert_history_matches(database, hours=(T0, T0 + 5 * h))


def test_progress_in_the_same_status_does_not_restart_status_since(database):
    with database.write() as conn:
        job = writes.create_job(conn, name="steady-1", timestamp=T0)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + M)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + 5 * M)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + 9 * M)
    with database.read() as conn:
        detail = insights.job_time_in_state(conn, job_id=job["id"], now=T0 + 10 * M)
    assert [(s["status"], s["since"], s["seconds"]) for s in detail["stays"]] == [
        ("PENDING", T0, 60.0),
        ("RUNNING", T0 + M, 540.0),
    ]
    assert_history_matches(database)


def test_concurrent_appends_to_one_job_in_random_order_keep_its_history_exact(database):
    """Writers race on the same few jobs with shuffled times (the late path reads the history after the
    lock, so no writer works from a stale neighbourhood)."""
    import threading

    with database.write() as conn:
        jobs = [writes.create_job(conn, name=f"race-{i}", timestamp=T0)["id"] for i in range(3)]
    barrier = threading.Barrier(6)
    errors = []

    def writer(seed):
        rnd = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(25):
                with database.write() as conn, contextlib.suppress(NotFound):
                    writes.append_status(
                        conn,
                        job_id=rnd.choice(jobs),
                        status=rnd.choice(STATUSES),
                        timestamp=T0 + rnd.randrange(0, 180) * M,
                    )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert invariant_violations(database) == []
    assert_history_matches(database, hours=(T0, T0 + dt.timedelta(hours=4)))


def test_a_rebuild_from_the_event_log_gives_the_same_rows(database):
    rnd = random.Random(7)
    with database.write() as conn:
        for name, events in random_histories(rnd, 15):
            job = writes.create_job(conn, name=name, status=events[0][0], timestamp=events[0][1])
            for status, at in events[1:]:
                writes.append_status(conn, job_id=job["id"], status=status, timestamp=at)
    with database.read() as conn:
        kept = {name: history.kept_rows(conn, name) for name in history.HISTORY_TABLES}
        flags = history.kept_flags(conn)
    with database.write() as conn:
        history.rebuild(conn, history.families.DEFAULT_RULES)
    with database.read() as conn:
        assert {name: history.kept_rows(conn, name) for name in history.HISTORY_TABLES} == kept
        assert history.kept_flags(conn) == flags
    with database.write() as conn:
        assert check.check(conn).problems == []


def test_the_check_finds_tampered_history_rows_and_repair_rebuilds_them(database):
    h = dt.timedelta(hours=1)
    with database.write() as conn:
        job = writes.create_job(conn, name="etl-1", timestamp=T0)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + h)
        writes.append_status(conn, job_id=job["id"], status="COMPLETED", timestamp=T0 + 2 * h)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + 3 * h)  # flagged
        if database.dialect == "postgresql":  # the appends' deltas into the rows tampered with next
            assert folding.fold_all(conn) == 3
        conn.execute(text("UPDATE job_transition_day SET transitions = transitions + 5"))
        conn.execute(text("DELETE FROM job_disallowed_transition"))
        conn.execute(text("UPDATE job SET status_since = created_at"))
    with database.write() as conn:
        problems = check.check(conn).problems
    assert any(p.startswith("drift: job_transition_day") for p in problems), problems
    assert any(p.startswith("drift: flag of event") for p in problems), problems
    assert any(p.startswith(f"status_since: job {job['id']} ") for p in problems), problems
    with database.write() as conn:
        check.repair(conn)
    with database.write() as conn:
        report = check.check(conn)
    assert report.problems == []
    assert [f for f in report.findings if f.startswith("transition:")] == [
        f"transition: job {job['id']} went COMPLETED -> RUNNING at {(T0 + 3 * h).isoformat()} "
        f"(event 4), which the lifecycle does not allow"
    ]
