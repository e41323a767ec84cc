"""The response cache: hits, freshness after writes, single flight, JSON not pickle, Redis failures."""

import os
import socket
import threading
import time

import pytest
import redis
from flask import Flask

from dashboard.cache import GENERATION_KEY, REDIS_KEY_PREFIX, init_cache
from dashboard.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_available():
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


requires_redis = pytest.mark.skipif(
    not redis_available() and os.environ.get("CI") != "true", reason="needs Redis on 127.0.0.1:6379"
)


def make_cache(**settings):
    server = Flask(__name__)
    response_cache = init_cache(server, Settings.from_env({}, **settings))
    context = server.app_context()
    context.push()
    return response_cache, context


@pytest.fixture(params=["memory", pytest.param("redis", marks=requires_redis)])
def cache(request):
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
        response_cache, context = make_cache(cache_url=REDIS_URL, cache_ttl=30)
    else:
        response_cache, context = make_cache(cache_ttl=30)
    yield response_cache
    context.pop()


def counting(body=b'{"results":[]}', delay=0.0):
    calls = []

    def compute():
        calls.append(1)
        time.sleep(delay)
        return body

    return compute, calls


def test_a_second_read_is_a_hit_and_a_write_makes_it_fresh(cache):
    compute, calls = counting()
    params = [("status", "FAILED"), ("ordering", "name")]
    assert cache.get_or_compute("jobs", params, compute) == (b'{"results":[]}', "miss")
    assert cache.get_or_compute("jobs", list(reversed(params)), compute) == (b'{"results":[]}', "hit")
    assert cache.get_or_compute("jobs", [("status", "RUNNING")], compute)[1] == "miss"
    cache.bump_generation()
    assert cache.get_or_compute("jobs", params, compute)[1] == "miss"
    assert len(calls) == 3


def test_concurrent_misses_compute_once(cache):
    compute, calls = counting(delay=0.2)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("stats", [], compute)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calls) == 1
    assert [body for body, _ in results] == [b'{"results":[]}'] * 8


def test_errors_of_the_computation_are_not_swallowed(cache):
    def broken():
        raise ValueError("bad query")

    with pytest.raises(ValueError, match="bad query"):
        cache.get_or_compute("jobs", [], broken)
    compute, _ = counting()
    assert cache.get_or_compute("jobs", [], compute)[1] == "miss"  # nothing was stored, no lock left


def test_ttl_zero_turns_caching_off():
    response_cache, context = make_cache(cache_ttl=0)
    compute, calls = counting()
    assert response_cache.get_or_compute("jobs", [], compute)[1] == "off"
    assert response_cache.get_or_compute("jobs", [], compute)[1] == "off"
    response_cache.bump_generation()
    assert len(calls) == 2
    context.pop()


def test_values_are_stored_as_json_bytes_not_pickles():
    response_cache, context = make_cache(cache_ttl=30)
    response_cache.get_or_compute("jobs", [], counting(b'{"a":1}')[0])
    stored = [value for _, value, _ in response_cache.cache.cache._entries.values()]
    assert b'{"a":1}' in stored
    with pytest.raises(TypeError):
        response_cache.cache.set("x", {"not": "bytes"})
    context.pop()


@requires_redis
def test_redis_holds_the_raw_json_and_shares_it_between_workers():
    redis.Redis.from_url(REDIS_URL).flushdb()
    worker_a, context_a = make_cache(cache_url=REDIS_URL, cache_ttl=30)
    worker_a.get_or_compute("jobs", [("q", "etl")], counting(b'{"b":2}')[0])
    raw = redis.Redis.from_url(REDIS_URL)
    values = [raw.get(key) for key in raw.keys(REDIS_KEY_PREFIX + "jobs:*")]
    assert values == [b'{"b":2}']
    context_a.pop()
    worker_b, context_b = make_cache(cache_url=REDIS_URL, cache_ttl=30)
    compute, _ = counting()
    assert worker_b.get_or_compute("jobs", [("q", "etl")], compute) == (b'{"b":2}', "hit")
    before = int(raw.get(REDIS_KEY_PREFIX + GENERATION_KEY))
    worker_b.bump_generation()  # a write in worker B ...
    assert int(raw.get(REDIS_KEY_PREFIX + GENERATION_KEY)) > before
    context_b.pop()
    worker_a, context_a = make_cache(cache_url=REDIS_URL, cache_ttl=30)
    assert worker_a.get_or_compute("jobs", [("q", "etl")], compute)[1] == "miss"  # ... is seen by A
    context_a.pop()


def test_redis_down_serves_uncached_and_backs_off(caplog):
    response_cache, context = make_cache(cache_url="redis://127.0.0.1:1/0", cache_ttl=30)
    compute, calls = counting()
    assert response_cache.get_or_compute("jobs", [], compute) == (b'{"results":[]}', "bypass")
    assert response_cache.get_or_compute("jobs", [], compute)[1] == "bypass"
    response_cache.bump_generation()  # a write is not failed by the cache
    assert len(calls) == 2
    warnings = [r for r in caplog.records if r.getMessage() == "cache unavailable; serving uncached"]
    assert len(warnings) == 1  # the breaker stops a log line (and a timeout) per request
    context.pop()


def test_a_hung_redis_is_bypassed_after_its_short_timeout():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    port = silent.getsockname()[1]
    try:
        response_cache, context = make_cache(cache_url=f"redis://127.0.0.1:{port}/0", cache_ttl=30)
        compute, calls = counting()
        assert response_cache.get_or_compute("jobs", [], compute)[1] == "bypass"
        assert response_cache.get_or_compute("jobs", [], compute)[1] == "bypass"
        assert len(calls) == 2
        context.pop()
    finally:
        silent.close()
