"""Resilience cases 3 and 4: the connection pool exhausted by slow statements, and a row lock held by
another session.

3. Fault: a pool of 2 (no overflow) whose both connections wait on a lock. Further requests must get a
   503 problem within the pool timeout, and everything must answer 200 again once the lock goes.
4. Fault: another session holds a job's row lock. A write to that job must end at the statement timeout
   with a 503 problem; the worker is not killed (same worker pids) and other requests keep answering.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import TEST_DATABASE_URL, scratch_postgres_database
from tests.resilience.client import TOKEN, call, is_retryable_problem
from tests.resilience.servers import jobdash_serve, migrate

pytestmark = [
    pytest.mark.resilience,
    pytest.mark.skipif(
        not TEST_DATABASE_URL.startswith("postgres"), reason="needs JOBDASH_TEST_DATABASE_URL"
    ),
]
STATEMENT_TIMEOUT_MS = 2000
POOL_TIMEOUT_S = 1
HANG = 5 * STATEMENT_TIMEOUT_MS / 1000


def worker_pids(master_pid):
    out = subprocess.run(["ps", "--ppid", str(master_pid), "-o", "pid="], capture_output=True, text=True)
    return sorted(int(pid) for pid in out.stdout.split())


@pytest.fixture
def served(tmp_path):
    with scratch_postgres_database("locks") as url:
        migrate(url)
        env = {
            "JOBDASH_DATABASE_URL": url,
            "JOBDASH_API_TOKENS": TOKEN,
            "JOBDASH_CACHE_TTL": "0",
            "JOBDASH_DB_POOL_SIZE": "2",
            "JOBDASH_DB_MAX_OVERFLOW": "0",
            "JOBDASH_DB_POOL_TIMEOUT": str(POOL_TIMEOUT_S),
            "JOBDASH_DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "WEB_CONCURRENCY": "1",
            "JOBDASH_THREADS": "8",
        }
        with jobdash_serve(env, tmp_path / "server.log") as (base, server):
            yield base, server, url


def test_a_held_lock_ends_at_the_statement_timeout_and_an_exhausted_pool_answers_503(served):
    base, server, url = served
    job_id = call(base, "POST", "/api/jobs/", {"name": "locked"}).body["id"]
    pids = worker_pids(server.pid)
    engine = create_engine(url)
    holder = engine.connect()
    transaction = holder.begin()
    holder.execute(text("SELECT id FROM job WHERE id = :id FOR UPDATE"), {"id": job_id})
    try:
        # Case 4: the write waits on the lock, then ends at the statement timeout.
        answer = call(base, "POST", f"/api/jobs/{job_id}/status/", {"status": "RUNNING"}, timeout=HANG)
        assert is_retryable_problem(answer), (answer.status, answer.body)
        print(f"lock: the write ended after {answer.seconds:.2f} s (timeout {STATEMENT_TIMEOUT_MS} ms)")
        assert call(base, "GET", "/livez").status == 200

        # Case 3: two blocked writes hold both pooled connections; a read waits the pool timeout, then 503.
        blocked = [
            threading.Thread(
                target=call, args=(base, "POST", f"/api/jobs/{job_id}/status/", {"status": "FAILED"}, HANG)
            )
            for _ in range(2)
        ]
        for thread in blocked:
            thread.start()
        time.sleep(0.3)
        starved = call(base, "GET", "/api/jobs/", timeout=HANG)
        assert is_retryable_problem(starved), (starved.status, starved.body)
        print(
            f"pool: a read waited {starved.seconds:.2f} s for a connection (pool timeout {POOL_TIMEOUT_S} s)"
        )
        for thread in blocked:
            thread.join(timeout=HANG)
    finally:
        transaction.rollback()
        holder.close()
        engine.dispose()
    assert call(base, "GET", "/api/jobs/").status == 200
    assert call(base, "POST", f"/api/jobs/{job_id}/status/", {"status": "RUNNING"}).status == 201
    assert worker_pids(server.pid) == pids  # no worker was killed or replaced
