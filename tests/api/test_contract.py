"""Every endpoint's real responses, checked against the OpenAPI document the app serves."""

from __future__ import annotations

import datetime as dt

from openapi_spec_validator import validate

from tests.api.conftest import AUTH, assert_problem
from tests.conftest import T0

H = dt.timedelta(hours=1)


def test_the_document_is_valid_openapi_3_1_and_lists_every_endpoint(client):
    document = client.get("/api/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert {path: set(ops) for path, ops in document["paths"].items()} == {
        "/api/jobs/": {"get", "post"},
        "/api/jobs/export.csv": {"get"},
        "/api/jobs/{job_id}/": {"get", "delete"},
        "/api/jobs/{job_id}/history/": {"get"},
        "/api/jobs/{job_id}/status/": {"post"},
        "/api/stats/": {"get"},
        "/api/stats/timeseries/": {"get"},
        "/api/insights/transitions/": {"get"},
        "/api/insights/transitions/disallowed/": {"get"},
        "/api/insights/time-in-state/": {"get"},
        "/api/insights/stuck/": {"get"},
        "/api/insights/families/": {"get"},
        "/api/jobs/{job_id}/time-in-state/": {"get"},
        "/api/openapi.json": {"get"},
        "/livez": {"get"},
        "/readyz": {"get"},
    }
    writes = {
        ("/api/jobs/", "post"),
        ("/api/jobs/{job_id}/status/", "post"),
        ("/api/jobs/{job_id}/", "delete"),
    }
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert (op.get("security") == [{"bearerAuth": []}]) == ((path, method) in writes)
    parameters = {p["name"] for p in document["paths"]["/api/jobs/"]["get"]["parameters"]}
    assert parameters == {
        "status",
        "q",
        "created_after",
        "created_before",
        "family",
        "updated_after",
        "updated_before",
        "min_duration",
        "max_duration",
        "stuck",
        "ordering",
        "page_size",
        "cursor",
    }


def test_list(client, contract, job_factory):
    for i in range(3):
        job_factory(name=f"list{i}", created_at=T0 + i * H)
    first = contract(client.get("/api/jobs/?page_size=2&status=pending"))
    assert first.status_code == 200
    body = first.get_json()
    assert [job["name"] for job in body["results"]] == ["list2", "list1"]
    assert body["count"] == 3 and body["count_exact"] is True
    assert body["previous"] is None and body["next"].startswith("/api/jobs/?")
    second = contract(client.get(body["next"]))
    assert [job["name"] for job in second.get_json()["results"]] == ["list0"]


def test_detail(client, contract, job_factory):
    job = job_factory(history=(("RUNNING", T0 + H),))
    response = contract(client.get(f"/api/jobs/{job['id']}/"))
    assert response.get_json() == {
        "id": job["id"],
        "name": job["name"],
        "family": "job",
        "status": "RUNNING",
        "status_since": "2026-01-01T01:00:00+00:00",
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T01:00:00+00:00",
        "duration": None,
        "history_count": 2,
    }
    assert_problem(contract(client.get("/api/jobs/999999/")), 404)


def test_history(client, contract, job_factory):
    job = job_factory(history=(("RUNNING", T0 + H), ("COMPLETED", T0 + 2 * H)))
    response = contract(client.get(f"/api/jobs/{job['id']}/history/?page_size=2"))
    body = response.get_json()
    assert [e["status"] for e in body["results"]] == ["COMPLETED", "RUNNING"]
    assert body["next"].startswith(f"/api/jobs/{job['id']}/history/?") and body["previous"] is None
    last = contract(client.get(body["next"])).get_json()
    assert [e["status"] for e in last["results"]] == ["PENDING"] and last["next"] is None


def test_create(client, contract):
    response = contract(
        client.post("/api/jobs/", json={"name": "  nightly  ", "status": "running"}, headers=AUTH)
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "nightly" and body["status"] == "RUNNING" and body["history_count"] == 1
    assert response.headers["Location"] == f"/api/jobs/{body['id']}/"
    assert client.get(response.headers["Location"]).get_json() == body


def test_append_status(client, contract, job_factory):
    job = job_factory()
    response = contract(
        client.post(
            f"/api/jobs/{job['id']}/status/",
            json={"status": "FAILED", "timestamp": "2026-01-01T03:00:00+01:00", "message": "boom"},
            headers=AUTH,
        )
    )
    assert response.status_code == 201
    assert response.get_json() | {"id": 0} == {
        "id": 0,
        "job_id": job["id"],
        "status": "FAILED",
        "timestamp": "2026-01-01T02:00:00+00:00",
        "message": "boom",
    }
    assert_problem(
        contract(client.post("/api/jobs/999999/status/", json={"status": "FAILED"}, headers=AUTH)), 404
    )


def test_delete(client, contract, job_factory):
    job = job_factory()
    response = contract(client.delete(f"/api/jobs/{job['id']}/", headers=AUTH))
    assert response.status_code == 204 and response.data == b""
    assert_problem(contract(client.delete(f"/api/jobs/{job['id']}/", headers=AUTH)), 404)


def test_stats(client, contract, job_factory):
    job_factory(status="FAILED")
    body = contract(client.get("/api/stats/")).get_json()
    assert body["by_status"]["FAILED"] == 1 and body["total"] == 1 and body["exact"] is True
    assert set(body["by_status"]) == {"PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}


def test_timeseries(client, contract, job_factory):
    job_factory(created_at=T0 + 90 * dt.timedelta(minutes=1))
    job_factory(created_at=T0 + 100 * dt.timedelta(minutes=1), status="FAILED")
    response = contract(
        client.get("/api/stats/timeseries/?bucket=hour&since=2026-01-01T00:00:00Z&until=2026-01-01T05:00:00Z")
    )
    assert response.get_json() == {
        "bucket": "hour",
        "since": "2026-01-01T00:00:00+00:00",
        "until": "2026-01-01T05:00:00+00:00",
        "results": [
            {"bucket": "2026-01-01T01:00:00+00:00", "status": "FAILED", "count": 1},
            {"bucket": "2026-01-01T01:00:00+00:00", "status": "PENDING", "count": 1},
        ],
    }
    default = contract(client.get("/api/stats/timeseries/")).get_json()
    assert default["bucket"] == "day"
    assert dt.datetime.fromisoformat(default["until"]) - dt.datetime.fromisoformat(
        default["since"]
    ) == dt.timedelta(days=30)


def test_health(client, contract):
    assert contract(client.get("/livez")).get_json() == {"status": "ok"}
    assert contract(client.get("/readyz")).get_json()["checks"]["database"] == "ok"


def test_error_responses_match_the_document(client, contract, job_factory):
    job = job_factory()
    cases = [
        (client.get("/api/jobs/?nope=1"), 400),
        (client.get(f"/api/jobs/{job['id']}/history/?cursor=zzz"), 400),
        (client.get("/api/stats/timeseries/?bucket=week"), 400),
        (client.post("/api/jobs/", json={"name": "x"}), 401),
        (client.post("/api/jobs/", json={"name": "x"}, headers={"Authorization": "Bearer wrong"}), 403),
        (client.post("/api/jobs/", data="name=x", headers=AUTH), 415),
        (client.post("/api/jobs/", json={"name": "x" * 70_000}, headers=AUTH), 413),
    ]
    for response, status in cases:
        assert_problem(contract(response), status)
    # Not an operation of the document, so only its shape can be checked.
    assert_problem(client.put("/api/jobs/"), 405)


def test_empty_optional_parameters_are_documented_and_mean_absent(client, job_factory):
    job_factory(name="only")
    document = client.get("/api/openapi.json").get_json()
    listing = document["paths"]["/api/jobs/"]["get"]["parameters"]
    assert all(p.get("allowEmptyValue") is True for p in listing if not p["required"])
    for name in (
        "status",
        "q",
        "created_after",
        "created_before",
        "family",
        "updated_after",
        "updated_before",
        "min_duration",
        "max_duration",
        "ordering",
        "page_size",
        "cursor",
    ):
        assert client.get(f"/api/jobs/?{name}=").get_json()["count"] == 1, name


def test_rules_beyond_the_schema_are_listed_with_the_400(client):
    # A request can satisfy every schema and still break one of these: clients read them here.
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path, method in [
        ("/api/jobs/", "get"),
        ("/api/jobs/export.csv", "get"),
        ("/api/jobs/{job_id}/history/", "get"),
        ("/api/jobs/", "post"),
        ("/api/jobs/{job_id}/status/", "post"),
        ("/api/stats/timeseries/", "get"),
        ("/api/stats/", "get"),
        ("/api/insights/transitions/", "get"),
        ("/api/insights/transitions/disallowed/", "get"),
        ("/api/insights/time-in-state/", "get"),
        ("/api/insights/stuck/", "get"),
    ]:
        operation = paths[path][method]
        assert operation["x-rules"], (path, method)
        assert all(rule in operation["responses"]["400"]["description"] for rule in operation["x-rules"])
    assert "x-rules" not in paths["/api/insights/families/"]["get"]
