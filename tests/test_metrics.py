"""/metrics: what each request records, read back through the Prometheus text format, in one process and
under `jobdash serve` with two workers sharing their files (prometheus-client multiprocess mode)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from dashboard.database import database_of
from db import folding
from tests.api.conftest import AUTH
from tests.resilience.servers import free_port, jobdash_serve, wait_until


def scrape(client: Any, **kwargs: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` as {(name, sorted labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(samples: dict[Any, float], route: str, status: str, method: str = "GET") -> float:
    return value(
        samples, "jobdash_http_request_duration_seconds_count", method=method, route=route, status=status
    )


def test_requests_are_counted_by_route_template_and_status(client, job_factory):
    job = job_factory()
    assert client.get(f"/api/jobs/{job['id']}/").status_code == 200
    assert client.get(f"/api/jobs/{job['id'] + 1000}/").status_code == 404
    assert client.get("/api/jobs/?bad=1").status_code == 400
    samples = scrape(client)
    assert requests_of(samples, "/api/jobs/<int:job_id>/", "200") == 1
    assert requests_of(samples, "/api/jobs/<int:job_id>/", "404") == 1
    assert requests_of(samples, "/api/jobs/", "400") == 1
    # Never one series per path: job ids do not reach the labels.
    routes = {dict(labels).get("route") for (_, labels) in samples}
    assert not any(str(job["id"]) in (route or "") for route in routes)
    buckets = [
        v
        for (name, labels), v in samples.items()
        if name == "jobdash_http_request_duration_seconds_bucket"
        and dict(labels)["route"] == "/api/jobs/<int:job_id>/"
        and dict(labels)["status"] == "200"
    ]
    assert buckets and max(buckets) == 1  # cumulative buckets end at the count


def test_database_time_is_recorded_per_route(client, job_factory):
    job_factory()
    client.get("/api/stats/")
    client.get("/livez")
    samples = scrape(client)
    assert value(samples, "jobdash_http_request_db_seconds_count", route="/api/stats/") == 1
    assert value(samples, "jobdash_http_request_db_seconds_sum", route="/api/stats/") > 0
    assert value(samples, "jobdash_http_request_db_seconds_sum", route="/livez") == 0


def test_cache_outcomes_and_appended_events_are_counted(make_app, job_factory):
    app = make_app(cache_ttl=60)
    client = app.server.test_client()
    client.get("/api/stats/")
    client.get("/api/stats/")  # the same answer, from the cache
    created = client.post("/api/jobs/", json={"name": "counted"}, headers=AUTH)
    job_id = created.get_json()["id"]
    assert client.post(f"/api/jobs/{job_id}/status/", json={"status": "RUNNING"}, headers=AUTH).status_code
    missing = client.post("/api/jobs/999999/status/", json={"status": "RUNNING"}, headers=AUTH)
    assert missing.status_code == 404
    refused = client.post("/api/jobs/", json={"name": "no token"})
    assert refused.status_code == 401
    samples = scrape(client)
    assert value(samples, "jobdash_cache_requests_total", outcome="miss") == 1
    assert value(samples, "jobdash_cache_requests_total", outcome="hit") == 1
    # The created job's first event and the appended one; nothing for the 404 and the 401.
    assert value(samples, "jobdash_events_appended_total") == 2


def test_jobs_per_status_come_from_the_count_tables(client, job_factory):
    for status in ("FAILED", "FAILED", "RUNNING"):
        job_factory(status=status)
    samples = scrape(client)
    assert value(samples, "jobdash_jobs", status="FAILED") == 2
    assert value(samples, "jobdash_jobs", status="RUNNING") == 1
    assert value(samples, "jobdash_jobs", status="COMPLETED") == 0


def test_stuck_jobs_per_family_are_a_gauge(client, job_factory):
    now = dt.datetime.now(dt.UTC)
    job_factory(name="etl-1", status="RUNNING", created_at=now - dt.timedelta(hours=3))  # past the floor
    job_factory(name="etl-2", status="RUNNING", created_at=now - dt.timedelta(minutes=5))
    job_factory(name="sync-1", status="PENDING", created_at=now - dt.timedelta(hours=2))
    samples = scrape(client)
    assert value(samples, "jobdash_stuck_jobs", family="etl", status="RUNNING") == 1
    assert value(samples, "jobdash_stuck_jobs", family="sync", status="PENDING") == 1
    assert ("jobdash_stuck_jobs", (("family", "etl"), ("status", "PENDING"))) not in samples


def test_appends_waiting_for_a_fold_are_a_gauge(app, client, job_factory):
    job = job_factory(status="PENDING")
    for status in ("RUNNING", "COMPLETED"):
        assert (
            client.post(f"/api/jobs/{job['id']}/status/", json={"status": status}, headers=AUTH).status_code
            == 201
        )
    database = database_of(app.server)
    # PostgreSQL: each append logged its history changes, folded every 300 writes; SQLite logs nothing.
    expected = 2 if database.dialect == "postgresql" else 0
    assert value(scrape(client), "jobdash_history_deltas_unfolded") == expected
    if expected:
        with database.write() as conn:
            folding.fold_all(conn)
        assert value(scrape(client), "jobdash_history_deltas_unfolded") == 0


def test_connections_in_use_follow_the_pool(app, client):
    database = database_of(app.server)
    assert value(scrape(client), "jobdash_db_pool_connections_in_use", database="primary") == 0
    with database.writer.connect():
        assert value(scrape(client), "jobdash_db_pool_connections_in_use", database="primary") == 1
    assert value(scrape(client), "jobdash_db_pool_connections_in_use", database="primary") == 0


def test_requests_failing_on_the_database_are_counted_and_hold_no_connection(make_app):
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/jobdash"
    app = make_app(database_url=closed, db_connect_timeout=2)
    client = app.server.test_client()
    for _ in range(3):
        assert client.get("/api/jobs/").status_code == 503
    samples = scrape(client)
    assert value(samples, "jobdash_db_pool_connections_in_use", database="primary") == 0
    assert requests_of(samples, "/api/jobs/", "503") == 3


def test_metrics_ask_for_basic_auth_when_it_is_set(make_app):
    app = make_app(basic_auth=("ops", "s3cret"))
    client = app.server.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
    good = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert "jobdash_jobs" in {name for (name, _) in scrape(client, headers={"Authorization": good})}


def test_metrics_can_be_turned_off(make_app):
    app = make_app(metrics=False)
    client = app.server.test_client()
    response = client.get("/metrics")
    # No metrics route: the path is one more unknown page of the dashboard.
    assert not response.content_type.startswith("text/plain")
    assert b"jobdash_" not in response.get_data()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_two_gunicorn_workers_report_one_sum_and_a_dead_worker_keeps_its_counts(tmp_path):
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    env = {**os.environ, "JOBDASH_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    env.update(
        {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "JOBDASH_LOG_FORMAT": "json"}
    )
    log_path = tmp_path / "server.log"
    with jobdash_serve(env, log_path) as (base, server):
        assert not (metrics_dir / "counter_999999.db").exists()  # emptied before the workers started

        def pids_with_requests() -> set[str]:
            return {p.stem.split("_")[-1] for p in metrics_dir.glob("histogram_*.db")}

        sent = 0
        # New connections are spread over the workers by the kernel: send until both have served some.
        while len(pids_with_requests()) < 2:
            assert sent < 500, "one worker took every connection"
            assert _get(base + "/api/jobs/")[0] == 200
            sent += 1
        for _ in range(6):  # scrapes land on either worker: each reports the sum of both
            samples = parse(_get(base + "/metrics")[1].decode())
            assert requests_of(samples, "/api/jobs/", "200") == sent

        victim = sorted(pids_with_requests())[0]
        os.kill(int(victim), signal.SIGKILL)
        wait_until(
            lambda: not list(metrics_dir.glob(f"gauge_livesum_{victim}.db")),
            30,
            "child_exit drops its gauges",
        )
        wait_until(lambda: _get(base + "/livez")[0] == 200, 30, "a new worker serves")
        samples = parse(_get(base + "/metrics")[1].decode())
        assert requests_of(samples, "/api/jobs/", "200") == sent  # the dead worker's requests still count
        assert value(samples, "jobdash_db_pool_connections_in_use", database="primary") == 0
    code = server.returncode
    assert code == 0
    # gunicorn's own lines (boot, the killed worker) are JSON objects like the app's.
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    gunicorn = [r for r in records if r["logger"] == "gunicorn.error"]
    assert any("Booting worker" in r["msg"] for r in gunicorn)
    assert any(victim in r["msg"] and r["level"] in {"ERROR", "WARNING"} for r in gunicorn), gunicorn
    assert {"ts", "level", "logger", "msg"} <= set(gunicorn[0])
    assert Path(metrics_dir).is_dir()  # a configured directory is left (emptied at the next start)
