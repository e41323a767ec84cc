"""Resilience case 5: Redis stopped, and Redis frozen (SIGSTOP), under `jobdash serve`.

Fault: the app's Redis (its own redis-server on a free port) stops, later it is frozen. The service must
keep answering reads within the Redis socket timeout plus a margin, accept writes, answer every read after
a write with fresh data, report the cache as degraded on /readyz (200), and go back to cached answers
when Redis returns.
"""

from __future__ import annotations

import shutil

import pytest

from dashboard.cache import REDIS_TIMEOUT_S
from tests.resilience.client import TOKEN, cache_outcome, call
from tests.resilience.servers import OwnRedis, jobdash_serve, migrate, wait_until

pytestmark = [
    pytest.mark.resilience,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]
HANG = 5 * 5  # seconds: five times the longest timeout involved (the 5 s breaker); a hang detector


@pytest.fixture
def redis_server():
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def served(tmp_path, redis_server):
    url = f"sqlite:///{tmp_path / 'redis-faults.db'}"
    migrate(url)
    env = {
        "JOBDASH_DATABASE_URL": url,
        "JOBDASH_CACHE_URL": redis_server.url,
        "JOBDASH_CACHE_TTL": "60",
        "JOBDASH_API_TOKENS": TOKEN,
        "WEB_CONCURRENCY": "2",
    }
    with jobdash_serve(env, tmp_path / "server.log") as (base, _):
        yield base


def names(base):
    answer = call(base, "GET", "/api/jobs/?page_size=200", timeout=HANG)
    assert answer.status == 200
    return answer, {job["name"] for job in answer.body["results"]}


def write_then_read_fresh(base, name):
    assert call(base, "POST", "/api/jobs/", {"name": name}, timeout=HANG).status == 201
    answer, seen = names(base)
    assert name in seen, f"a read after writing {name} did not show it"
    return answer


def cached_mode_is_back(base):
    names(base)
    return cache_outcome(names(base)[0]) == "hit"


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_redis_faults_degrade_to_uncached_fresh_answers(served, redis_server, fault, record_property):
    base = served
    write_then_read_fresh(base, "before")
    wait_until(lambda: cached_mode_is_back(base), HANG, "answers are cached")

    redis_server.stop() if fault == "stopped" else redis_server.freeze()
    slowest = 0.0
    for i in range(10):
        answer = write_then_read_fresh(base, f"during-{fault}-{i}")
        slowest = max(slowest, answer.seconds)
        assert answer.seconds < HANG
    ready = call(base, "GET", "/readyz", timeout=HANG)
    assert ready.status == 200 and ready.body["checks"]["cache"] == "degraded"
    record_property("slowest_read_s", round(slowest, 3))
    print(f"redis {fault}: slowest read {slowest:.3f} s (socket timeout {REDIS_TIMEOUT_S} s)")

    redis_server.start() if fault == "stopped" else redis_server.thaw()
    wait_until(lambda: cached_mode_is_back(base), HANG, "cached answers come back with Redis")
    write_then_read_fresh(base, f"after-{fault}")
    assert call(base, "GET", "/readyz").body["checks"]["cache"] == "ok"
