"""Resilience cases 2 and 6: the app's connections killed under load, and writers racing deletes.

2. Fault: `pg_terminate_backend` on every connection of the app, once a second, under reads and writes.
   Only requests in flight on a killed connection may fail (a 503 problem the client may retry): no
   more failures than connections killed, every 201 stored.
6. Fault: many HTTP clients append events with shuffled timestamps to the same jobs while others delete
   some of them. The invariant (each job's status is its newest event's) holds, no event outlives its
   job, and appends to a deleted job get 404.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.engine import Database
from tests.conftest import TEST_DATABASE_URL, scratch_postgres_database
from tests.invariant import invariant_violations
from tests.resilience.client import TOKEN, call, is_retryable_problem
from tests.resilience.servers import jobdash_serve, migrate

pytestmark = [
    pytest.mark.resilience,
    pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgres"), reason="needs PostgreSQL"),
]
HANG = 25  # five times the 5 s statement and pool timeouts


@pytest.fixture
def served(tmp_path):
    with scratch_postgres_database("races") as url:
        migrate(url)
        env = {"JOBDASH_DATABASE_URL": url, "JOBDASH_API_TOKENS": TOKEN, "JOBDASH_CACHE_TTL": "0"}
        with jobdash_serve(env, tmp_path / "server.log") as (base, _):
            yield base, url


def run_clients(count, target, seconds):
    stop = threading.Event()
    threads = [threading.Thread(target=target, args=(n, stop)) for n in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=HANG)


def test_killed_connections_fail_only_their_in_flight_requests(served):
    base, url = served
    answers, acknowledged = [], []

    def client(n, stop):
        i = 0
        while not stop.is_set():
            i += 1
            name = f"c{n}-{i}"
            created = call(base, "POST", "/api/jobs/", {"name": name}, timeout=HANG)
            answers.append(created)
            if created.status == 201:
                acknowledged.append(name)
            answers.append(call(base, "GET", "/api/jobs/?status=PENDING", timeout=HANG))

    killed = 0
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    database_name = make_url(url).database

    def killer(n, stop):
        nonlocal killed
        with admin.connect() as conn:
            while not stop.wait(1.0):
                killed += len(
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :db AND application_name = 'jobdash' AND pid <> pg_backend_pid()"
                        ),
                        {"db": database_name},
                    ).all()
                )

    stop = threading.Event()
    kill_thread = threading.Thread(target=killer, args=(0, stop))
    kill_thread.start()
    run_clients(4, client, 5)
    stop.set()
    kill_thread.join(timeout=HANG)
    failed = [a for a in answers if a.status not in (200, 201)]
    print(f"terminate: {killed} connections killed, {len(failed)} of {len(answers)} requests failed")
    assert all(is_retryable_problem(a) for a in failed)
    assert len(failed) <= killed
    with admin.connect() as conn:
        stored = set(conn.execute(text("SELECT name FROM job")).scalars())
    admin.dispose()
    assert acknowledged and set(acknowledged) <= stored


def test_appends_with_shuffled_timestamps_racing_deletes_keep_the_invariant(served):
    base, url = served
    job_ids = [call(base, "POST", "/api/jobs/", {"name": f"race-{i}"}).body["id"] for i in range(20)]
    doomed = set(job_ids[:5])
    deleted: set[int] = set()
    unexpected = []
    statuses = ["RUNNING", "COMPLETED", "FAILED", "CANCELLED", "PENDING"]
    now = dt.datetime.now(dt.UTC)

    def appender(n, stop):
        rng = random.Random(n)
        while not stop.is_set():
            job_id = rng.choice(job_ids)
            at = now - dt.timedelta(seconds=rng.randint(0, 86_400))
            body = {"status": rng.choice(statuses), "timestamp": at.isoformat()}
            answer = call(base, "POST", f"/api/jobs/{job_id}/status/", body, timeout=HANG)
            if answer.status == 404 and job_id in doomed:
                continue
            if answer.status != 201:
                unexpected.append((job_id, answer.status, answer.body))

    def deleter():
        for job_id in sorted(doomed):
            time.sleep(0.4)
            assert call(base, "DELETE", f"/api/jobs/{job_id}/", timeout=HANG).status == 204
            deleted.add(job_id)

    def both(n, stop):
        deleter() if n == 0 else appender(n, stop)

    run_clients(9, both, 4)
    assert unexpected == []
    assert deleted == doomed
    for job_id in doomed:
        late = call(base, "POST", f"/api/jobs/{job_id}/status/", {"status": "RUNNING"})
        assert late.status == 404
    database = Database.connect(url)
    try:
        assert invariant_violations(database) == []
        with database.read() as conn:
            orphans = conn.execute(
                text(
                    "SELECT count(*) FROM job_status s "
                    "WHERE NOT EXISTS (SELECT 1 FROM job j WHERE j.id = s.job_id)"
                )
            ).scalar_one()
            events = conn.execute(text("SELECT count(*) FROM job_status")).scalar_one()
    finally:
        database.dispose()
    print(f"races: {events} events on {len(job_ids) - len(doomed)} jobs, {len(doomed)} deleted mid-run")
    assert orphans == 0
