"""Resilience case 1: PostgreSQL restarted under a steady mix of reads and writes.

Fault: the app's PostgreSQL (a cluster of its own: initdb in a temporary directory, a free port) is
stopped for a few seconds and started again while clients read and write. The service must answer
503 problem+json with Retry-After while it is down (never another 5xx, never hang), /readyz 503, be
back to 200 soon after PostgreSQL returns, and keep every write it acknowledged with 201.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests.resilience.client import TOKEN, call, is_retryable_problem
from tests.resilience.servers import OwnPostgres, have_postgres_binaries, jobdash_serve, migrate, wait_until

pytestmark = [
    pytest.mark.resilience,
    pytest.mark.skipif(not have_postgres_binaries(), reason="needs PostgreSQL 15 binaries and runuser"),
]
POOL_TIMEOUT_S = 2
HANG = 5 * 5  # five times the longest configured timeout (pool and statement timeouts are <= 5 s)


@pytest.fixture
def postgres():
    server = OwnPostgres()
    server.init()
    server.start()
    yield server
    server.remove()


def test_a_postgresql_restart_costs_only_retryable_503s_and_no_acknowledged_write(tmp_path, postgres):
    url = postgres.url.replace("postgresql://", "postgresql+psycopg://")
    migrate(url)
    env = {
        "JOBDASH_DATABASE_URL": url,
        "JOBDASH_API_TOKENS": TOKEN,
        "JOBDASH_CACHE_TTL": "0",
        "JOBDASH_DB_POOL_TIMEOUT": str(POOL_TIMEOUT_S),
        "WEB_CONCURRENCY": "2",
    }
    answers: list[tuple[float, str, int, bool]] = []
    acknowledged: list[str] = []
    unexpected: list[str] = []
    stop = threading.Event()

    def client(worker: int, base: str) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            name = f"w{worker}-{i}"
            for method, path, body in (("POST", "/api/jobs/", {"name": name}), ("GET", "/api/jobs/", None)):
                try:
                    answer = call(base, method, path, body, timeout=HANG)
                except OSError as exc:
                    unexpected.append(f"{method} {path}: {exc}")
                    continue
                answers.append((time.monotonic(), method, answer.status, is_retryable_problem(answer)))
                if method == "POST" and answer.status == 201:
                    acknowledged.append(name)
                elif answer.status not in (200, 201) and not is_retryable_problem(answer):
                    unexpected.append(f"{method} {path}: {answer.status} {answer.body}")
            time.sleep(0.02)

    with jobdash_serve(env, tmp_path / "server.log") as (base, _):
        threads = [threading.Thread(target=client, args=(n, base)) for n in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        postgres.stop("fast")
        down_at = time.monotonic()
        time.sleep(3)
        ready = call(base, "GET", "/readyz", timeout=HANG)
        assert ready.status == 503 and is_retryable_problem(ready)
        back_at = time.monotonic()  # from here PostgreSQL is on its way back
        postgres.start()
        wait_until(lambda: call(base, "GET", "/readyz").status == 200, HANG, "ready again")
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(timeout=HANG)

    assert unexpected == []
    during = [a for a in answers if down_at <= a[0] < back_at]
    assert during and all(status == 503 for _, _, status, _ in during), [a for a in during if a[2] != 503]
    failures_after = [a[0] for a in answers if a[0] >= back_at and a[2] != 200 and a[2] != 201]
    recovered_in = (max(failures_after) - back_at) if failures_after else 0.0
    print(
        f"postgres restart: {len(answers)} answers, {len(during)} 503 while down, "
        f"last failure {recovered_in:.2f} s after the restart, {len(acknowledged)} writes acknowledged"
    )
    assert answers[-1][2] in (200, 201)
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT name FROM job")).scalars())
    engine.dispose()
    assert set(acknowledged) <= stored
