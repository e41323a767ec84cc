"""The response cache under attack and after faults: unambiguous keys, generations that never go back,
fresh reads after a write that Redis missed, and an in-process cache bounded by bytes."""

import time

import pytest
import redis

from dashboard.cache import GENERATION_KEY
from tests.api.test_cache import cache_outcome
from tests.test_cache import REDIS_URL, cache, make_cache, requires_redis

__all__ = ["cache"]  # the fixture, over the in-process cache and Redis


def versions():
    """A compute function whose answer changes with every call (so a stale answer shows)."""
    calls = []

    def compute():
        calls.append(1)
        return f'{{"version":{len(calls)}}}'.encode()

    return compute


def test_a_value_holding_an_ampersand_is_not_another_parameter(cache):
    compute = versions()
    poisoned = cache.get_or_compute("jobs", [("q", "etl&status=FAILED")], compute)
    real = cache.get_or_compute("jobs", [("q", "etl"), ("status", "FAILED")], compute)
    assert poisoned[1] == "miss"
    assert real == (b'{"version":2}', "miss")


def test_a_lost_generation_never_brings_back_an_older_answer(cache):
    compute = versions()
    cache.bump_generation()
    assert cache.get_or_compute("stats", [], compute)[0] == b'{"version":1}'
    # The generation key disappears (Redis restarted or evicted it, or it expired) while entries live on.
    cache.cache.delete(GENERATION_KEY)
    assert cache.get_or_compute("stats", [], compute)[0] == b'{"version":2}'
    cache.bump_generation()  # a write
    assert cache.get_or_compute("stats", [], compute) == (b'{"version":3}', "miss")


def test_the_in_process_generation_does_not_expire_with_the_ttl():
    response_cache, context = make_cache(cache_ttl=2)
    try:
        compute = versions()
        time.sleep(1.1 - time.time() % 1)  # cachelib rounds expiries to whole seconds: start at x.1 s
        response_cache.bump_generation()  # a generation that expires with the TTL would go at 2.0 s
        time.sleep(1.0)
        assert response_cache.get_or_compute("stats", [], compute)[0] == b'{"version":1}'  # lives to 3 s
        time.sleep(1.0)  # past the 2 s, before the entry's 3 s
        response_cache.get_or_compute("stats", [], compute)  # a read that may restart a lost generation
        response_cache.bump_generation()  # a write
        body, outcome = response_cache.get_or_compute("stats", [], compute)
        assert outcome == "miss" and body != b'{"version":1}'
    finally:
        context.pop()


@requires_redis
def test_a_write_while_the_breaker_is_open_is_not_followed_by_a_stale_hit():
    redis.Redis.from_url(REDIS_URL).flushdb()
    response_cache, context = make_cache(cache_url=REDIS_URL, cache_ttl=60)
    try:
        compute = versions()
        assert response_cache.get_or_compute("jobs", [], compute) == (b'{"version":1}', "miss")
        response_cache._bypass_until = time.monotonic() + 60  # Redis just failed: the breaker is open
        response_cache.bump_generation()  # a write lands meanwhile
        response_cache._bypass_until = 0.0  # the breaker closes
        body, outcome = response_cache.get_or_compute("jobs", [], compute)
        assert body == b'{"version":2}' and outcome != "hit"
        # The pending bump lands in the background; cached mode then comes back, with fresh answers.
        deadline = time.monotonic() + 10  # a hang detector only
        while response_cache.get_or_compute("jobs", [], compute)[1] == "bypass":
            assert time.monotonic() < deadline, "the pending bump never landed"
            time.sleep(0.05)
        body, outcome = response_cache.get_or_compute("jobs", [], compute)
        assert outcome == "hit" and body != b'{"version":1}'
    finally:
        context.pop()


def test_the_in_process_cache_is_bounded_by_bytes():
    response_cache, context = make_cache(cache_ttl=60, cache_max_mb=1)
    try:
        body = b"x" * 31_000
        for i in range(100):  # about 3 MB of distinct answers
            response_cache.get_or_compute("jobs", [("q", str(i))], lambda: body)
        backend = response_cache.cache.cache
        assert backend.used_bytes <= 1024 * 1024
        assert response_cache.get_or_compute("jobs", [("q", "99")], lambda: body)[1] == "hit"
        assert response_cache.get_or_compute("jobs", [("q", "0")], lambda: body)[1] == "miss"
    finally:
        context.pop()


@pytest.fixture
def cached_app(make_app):
    return make_app(cache_ttl=60)


def test_an_encoded_parameter_does_not_poison_the_real_filter(cached_app, job_factory):
    job_factory(name="etl-1", status="FAILED")
    client = cached_app.server.test_client()
    poison = client.get("/api/jobs/?q=etl%26status%3DFAILED")
    assert poison.status_code == 200 and poison.get_json()["results"] == []
    real = client.get("/api/jobs/?q=etl&status=FAILED")
    assert cache_outcome(real) == "miss"
    assert [job["name"] for job in real.get_json()["results"]] == ["etl-1"]


def test_a_script_root_does_not_leak_into_other_clients_links(cached_app, job_factory):
    job_factory()
    job_factory()
    client = cached_app.server.test_client()
    evil = client.get("/api/jobs/?page_size=1", environ_overrides={"SCRIPT_NAME": "/evil"})
    assert evil.get_json()["next"].startswith("/evil/")
    plain = client.get("/api/jobs/?page_size=1")
    assert plain.get_json()["next"].startswith("/api/jobs/")


def test_gunicorn_does_not_take_script_name_from_a_client():
    from dashboard import gunicorn_conf

    assert gunicorn_conf.forwarder_headers == ""
