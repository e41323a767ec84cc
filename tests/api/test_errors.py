"""Errors are problems everywhere under /api/: unknown routes, wrong methods, crashes, a lost database."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from db import queries
from tests.api.conftest import assert_problem, field_errors


@pytest.mark.parametrize(
    "path",
    [
        "/api",
        "/api/",
        "/api/nope",
        "/api/jobs/abc/",
        "/api/jobs/1/nope/",
        "/api/openapi.json/",
        "/api/jobs/-1/",
    ],
)
def test_unknown_api_routes_are_404_problems_not_the_dashboard(client, path):
    for method in ("get", "post", "put", "delete"):
        assert_problem(getattr(client, method)(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/jobs/", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("patch", "/api/jobs/1/", {"GET", "HEAD", "OPTIONS", "DELETE"}),
        ("get", "/api/jobs/1/status/", {"OPTIONS", "POST"}),
        ("delete", "/api/stats/", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_methods_are_405_problems_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_problem(response, 405)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/jobs/", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/api/jobs/1/status/", {"OPTIONS", "POST"}),
        ("/api/jobs/1/", {"GET", "HEAD", "OPTIONS", "DELETE"}),
    ],
)
def test_options_lists_exactly_the_api_methods(client, path, allowed):
    # Dash's catch-all page route also matches these paths (GET); it must not leak into Allow.
    response = client.options(path)
    assert response.status_code == 200 and response.data == b""
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_a_missing_trailing_slash_redirects_without_html(client):
    response = client.get("/api/jobs?status=FAILED")
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/jobs/?status=FAILED"
    assert response.data == b"" and "html" not in response.headers.get("Content-Type", "")
    assert client.get("/api/jobs?status=FAILED", follow_redirects=True).status_code == 200


def test_a_crash_is_a_logged_500_problem_with_the_request_id(client, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "list_jobs", explode)
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/jobs/", headers={"X-Request-ID": "crash-1"})
    body = assert_problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert "crash-1" in body["detail"]
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_a_database_that_does_not_answer_is_a_503_problem(client, monkeypatch):
    def unavailable(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(queries, "status_totals", unavailable)
    response = client.get("/api/stats/")
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"


def test_unknown_parameters_on_endpoints_without_any_are_400(client, job_factory):
    job = job_factory()
    for path in (f"/api/jobs/{job['id']}/", "/api/stats/", "/api/openapi.json"):
        body = assert_problem(client.get(f"{path}?verbose=1"), 400)
        assert body["errors"] == [{"field": "verbose", "message": "is not a known parameter"}]


def test_a_timeseries_until_out_of_range_is_a_400_not_an_overflow(client):
    """Found by hypothesis: the default `since` was computed before `until` was range-checked."""
    response = client.get("/api/stats/timeseries/?until=0001-01-01T00:00:00-0000")
    assert field_errors(response)["until"]


def test_a_timeseries_time_must_be_iso_text_not_a_number(client):
    """Found by schemathesis: lax pydantic took ``since=0.5`` as half a second after the Unix epoch."""
    assert field_errors(client.get("/api/stats/timeseries/?since=0.5"))["since"].startswith("must be an ISO")
    assert field_errors(client.get("/api/stats/timeseries/?until=1700000000"))["until"]
