"""POST and DELETE bodies: what is accepted, and each way a body can be refused."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.api.conftest import AUTH, assert_problem, field_errors


def test_create_defaults_to_pending_now(client):
    body = client.post("/api/jobs/", json={"name": "defaults"}, headers=AUTH).get_json()
    assert body["status"] == "PENDING" and body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("+00:00")


def test_create_converts_the_timestamp_to_utc(client):
    body = client.post(
        "/api/jobs/", json={"name": "tz", "timestamp": "2026-03-01T12:00:00-05:00"}, headers=AUTH
    ).get_json()
    assert body["created_at"] == "2026-03-01T17:00:00+00:00"


def test_a_late_event_goes_into_history_without_changing_the_status(client):
    job = client.post(
        "/api/jobs/", json={"name": "late", "timestamp": "2026-01-01T10:00:00Z"}, headers=AUTH
    ).get_json()
    url = f"/api/jobs/{job['id']}/status/"
    client.post(url, json={"status": "RUNNING", "timestamp": "2026-01-01T11:00:00Z"}, headers=AUTH)
    late = client.post(url, json={"status": "FAILED", "timestamp": "2026-01-01T09:00:00Z"}, headers=AUTH)
    assert late.status_code == 201
    detail = client.get(f"/api/jobs/{job['id']}/").get_json()
    assert detail["status"] == "RUNNING" and detail["history_count"] == 3
    history = client.get(f"/api/jobs/{job['id']}/history/").get_json()["results"]
    assert [e["status"] for e in history] == ["RUNNING", "PENDING", "FAILED"]


def test_delete_takes_the_history_with_it(client, job_factory):
    job = job_factory(history=(("RUNNING", job_factory()["created_at"]),))
    assert client.delete(f"/api/jobs/{job['id']}/", headers=AUTH).status_code == 204
    assert_problem(client.get(f"/api/jobs/{job['id']}/history/"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        # Found by schemathesis: 256 characters as sent (the schema's limit) that trim to 255.
        ({"name": " " + "x" * 255}, "name"),
        ({"name": 7}, "name"),
        ({"name": ["x"]}, "name"),
        ({"name": "x", "status": "DONE"}, "status"),
        ({"name": "x", "status": None}, "status"),
        ({"name": "x", "timestamp": "2026-01-01T00:00:00"}, "timestamp"),
        ({"name": "x", "timestamp": 1767225600}, "timestamp"),
        ({"name": "x", "timestamp": "0"}, "timestamp"),  # found by schemathesis: Unix seconds as text
        ({"name": "x", "timestamp": "1767225600"}, "timestamp"),
        ({"name": "x", "timestamp": "1969-12-31T00:00:00Z"}, "timestamp"),
        ({"name": "x", "id": 5}, "id"),
        ({"name": "x", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"name": "x", "message": "not on create"}, "message"),
        ({"name": "x\u0000y"}, "name"),
    ],
)
def test_create_refuses_bad_bodies_naming_the_field(client, body, field):
    assert field in field_errors(client.post("/api/jobs/", json=body, headers=AUTH))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "status"),
        ({"status": "running", "message": "x" * 4097}, "message"),
        ({"status": "running", "message": 5}, "message"),
        ({"status": "running", "job_id": 9}, "job_id"),
        ({"status": "running", "timestamp": "tomorrow"}, "timestamp"),
        ({"status": "running", "timestamp": "0.5"}, "timestamp"),
    ],
)
def test_append_refuses_bad_bodies_naming_the_field(client, job_factory, body, field):
    job = job_factory()
    assert field in field_errors(client.post(f"/api/jobs/{job['id']}/status/", json=body, headers=AUTH))


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"name": "x"}', "text/plain", 415),
        (b'{"name": "x"}', None, 415),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b'{"name": "x"', "application/json", 400),
        (b"", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'"x"', "application/json", 400),
        (b'{"name": NaN}', "application/json", 400),
        (b'{"name": "\\ud800"}', "application/json", 400),
        (b'{"name": "\xff"}', "application/json", 400),
        (b"[" * 10_000, "application/json", 400),
        (b'{"name": "' + b"x" * 65_536 + b'"}', "application/json", 413),
    ],
)
def test_bodies_that_are_not_a_small_json_object_are_refused(client, data, content_type, status):
    headers = dict(AUTH) | ({"Content-Type": content_type} if content_type else {})
    assert_problem(client.post("/api/jobs/", data=data, headers=headers), status)


def test_a_chunked_body_over_the_limit_is_413(app):
    # No Content-Length: the server has to count while it reads (gunicorn marks such input terminated).
    environ = EnvironBuilder(
        path="/api/jobs/",
        method="POST",
        data=b"[" + b" " * 100_000 + b"]",
        headers=AUTH,
        content_type="application/json",
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    body, status, headers = run_wsgi_app(app.server.wsgi_app, environ, buffered=True)
    assert status.startswith("413"), b"".join(body)
    assert headers["Content-Type"] == "application/problem+json"


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        headers = AUTH | {"Content-Type": content_type}
        assert client.post("/api/jobs/", data=b'{"name": "ok"}', headers=headers).status_code == 201
