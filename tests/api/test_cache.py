"""Cached list and stats answers over HTTP: hits show in Server-Timing, writes make reads fresh."""

import pytest
import redis

from tests.api.conftest import AUTH

REDIS_URL = "redis://127.0.0.1:6379/14"


def cache_outcome(response):
    timing = response.headers["Server-Timing"]
    return timing.split('cache;desc="', 1)[1].split('"', 1)[0] if "cache;desc" in timing else None


@pytest.fixture
def cached_client(make_app):
    return make_app(cache_ttl=60).server.test_client()


def test_a_repeated_list_is_a_hit_and_a_write_makes_it_fresh(cached_client, job_factory):
    job = job_factory(name="cached")
    first = cached_client.get("/api/jobs/?status=pending")
    again = cached_client.get("/api/jobs/?status=PENDING")  # the same query, spelled differently
    assert (cache_outcome(first), cache_outcome(again)) == ("miss", "hit")
    assert again.get_data() == first.get_data()
    moved = cached_client.post(f"/api/jobs/{job['id']}/status/", json={"status": "RUNNING"}, headers=AUTH)
    assert moved.status_code == 201
    after = cached_client.get("/api/jobs/?status=pending")
    assert cache_outcome(after) == "miss"
    assert after.get_json()["results"] == []


def test_stats_are_cached_until_a_write(cached_client, job_factory):
    job_factory()
    assert cache_outcome(cached_client.get("/api/stats/")) == "miss"
    assert cache_outcome(cached_client.get("/api/stats/")) == "hit"
    created = cached_client.post("/api/jobs/", json={"name": "another"}, headers=AUTH)
    assert created.status_code == 201
    fresh = cached_client.get("/api/stats/")
    assert cache_outcome(fresh) == "miss"
    assert fresh.get_json()["total"] == 2


def test_errors_are_not_cached(cached_client):
    assert cached_client.get("/api/jobs/?status=nope").status_code == 400
    assert cache_outcome(cached_client.get("/api/jobs/?status=nope")) is None


def test_caching_off_says_so(client):
    assert cache_outcome(client.get("/api/jobs/")) == "off"


def test_an_unreachable_redis_serves_uncached_answers(make_app, job_factory):
    job_factory()
    app = make_app(cache_ttl=60, cache_url="redis://127.0.0.1:1/0")
    client = app.server.test_client()
    for _ in range(3):
        response = client.get("/api/jobs/")
        assert response.status_code == 200
        assert cache_outcome(response) == "bypass"
    assert client.post("/api/jobs/", json={"name": "still writable"}, headers=AUTH).status_code == 201


def test_redis_shares_hits_and_freshness_between_workers(make_app, job_factory):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).flushdb()
    except redis.RedisError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    job_factory()
    workers = [make_app(cache_ttl=60, cache_url=REDIS_URL) for _ in range(2)]
    a, b = (w.server.test_client() for w in workers)
    assert cache_outcome(a.get("/api/jobs/")) == "miss"
    assert cache_outcome(b.get("/api/jobs/")) == "hit"
    assert b.post("/api/jobs/", json={"name": "via b"}, headers=AUTH).status_code == 201
    fresh = a.get("/api/jobs/")
    assert cache_outcome(fresh) == "miss" and fresh.get_json()["count"] == 2
