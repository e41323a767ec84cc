"""One JSON log line per request, the request id echoed back, and database time in Server-Timing."""

from __future__ import annotations

import json
import logging
import re

from dashboard.jsonprovider import OrjsonProvider
from dashboard.logs import JsonFormatter


def request_records(caplog):
    return [r for r in caplog.records if r.name == "jobdash.request"]


def test_one_json_line_per_request_with_its_fields(client, caplog, job_factory):
    job_factory()
    job_factory()  # two jobs and a page of one: the page and its count are two queries
    with caplog.at_level(logging.INFO, logger="jobdash.request"):
        response = client.get("/api/jobs/?page_size=1", headers={"X-Request-ID": "abc-123"})
    [record] = request_records(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "GET" and line["path"] == "/api/jobs/" and line["status"] == 200
    assert line["request_id"] == "abc-123" == response.headers["X-Request-ID"]
    assert line["duration_ms"] >= line["db_ms"] > 0 and line["db_queries"] >= 2


def test_a_missing_or_unsafe_request_id_is_replaced(client):
    generated = client.get("/livez").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    for unsafe in ("a b", "x" * 200, "<script>", "é"):
        echoed = client.get("/livez", headers={"X-Request-ID": unsafe}).headers["X-Request-ID"]
        assert echoed != unsafe and re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_server_timing_reports_database_and_total_time(client):
    header = client.get("/api/stats/").headers["Server-Timing"]
    timings = dict(re.findall(r"(\w+);(?:[^,]*?)dur=([\d.]+)", header))
    assert set(timings) == {"db", "app"}
    assert 0 < float(timings["db"]) <= float(timings["app"])
    errors = client.get("/api/nope").headers["Server-Timing"]
    assert errors.startswith("db;dur=0.00")


def test_errors_are_logged_as_requests_too(client, caplog):
    with caplog.at_level(logging.INFO, logger="jobdash.request"):
        client.get("/api/jobs/?bad=1")
    assert [r.status for r in request_records(caplog)] == [400]


def test_json_is_orjson_with_iso_timestamps(app, job_factory):
    assert isinstance(app.server.json, OrjsonProvider)
    job = job_factory()
    with app.server.app_context():
        text = app.server.json.dumps({"at": job["created_at"], 1: "non-string key"})
    assert text == '{"at":"2026-01-01T00:00:00+00:00","1":"non-string key"}'
