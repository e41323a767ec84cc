"""Bearer tokens for writes (401 / 403), writes with no tokens configured, and optional basic auth."""

from __future__ import annotations

import base64

import pytest

from dashboard.security import access_of
from tests.api.conftest import AUTH, assert_problem


@pytest.fixture
def write_requests(job_factory):
    """Each write endpoint, as a function of the headers to send."""
    job = job_factory()
    other = job_factory()
    return {
        "create": lambda h: ("post", "/api/jobs/", {"json": {"name": "auth"}, "headers": h}),
        "append": lambda h: (
            "post",
            f"/api/jobs/{job['id']}/status/",
            {"json": {"status": "RUNNING"}, "headers": h},
        ),
        "delete": lambda h: ("delete", f"/api/jobs/{other['id']}/", {"headers": h}),
    }


def send(client, request):
    method, url, kwargs = request
    return getattr(client, method)(url, **kwargs)


@pytest.fixture
def make_client(make_app):
    """A client for an app built with some settings changed."""
    return lambda **changes: make_app(**changes).server.test_client()


@pytest.mark.parametrize("endpoint", ["create", "append", "delete"])
def test_without_a_token_is_401_with_a_challenge(client, write_requests, endpoint):
    response = send(client, write_requests[endpoint]({}))
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("endpoint", ["create", "append", "delete"])
@pytest.mark.parametrize(
    "authorization", ["Bearer wrong", "Bearer test-token2", "Bearer TEST-TOKEN", "Bearer test-toke"]
)
def test_with_a_wrong_token_is_403(client, write_requests, endpoint, authorization):
    assert_problem(send(client, write_requests[endpoint]({"Authorization": authorization})), 403)


@pytest.mark.parametrize("endpoint", ["create", "append", "delete"])
def test_with_the_right_token_it_writes(client, write_requests, endpoint):
    assert send(client, write_requests[endpoint](AUTH)).status_code in (201, 204)


@pytest.mark.parametrize("endpoint", ["create", "append", "delete"])
def test_any_configured_token_works(make_client, write_requests, endpoint):
    client = make_client(api_tokens=("first", "second"))
    assert send(client, write_requests[endpoint]({"Authorization": "Bearer second"})).status_code in (
        201,
        204,
    )


def test_auth_is_checked_before_the_body(client):
    assert_problem(client.post("/api/jobs/", data=b"{not json", content_type="application/json"), 401)


def test_with_no_tokens_configured_writes_are_refused_with_how_to_configure(make_client):
    client = make_client(api_tokens=())
    for headers in ({}, AUTH):
        body = assert_problem(client.post("/api/jobs/", json={"name": "x"}, headers=headers), 403)
        assert "JOBDASH_API_TOKENS" in body["detail"]


def test_anonymous_writes_when_allowed(make_client):
    client = make_client(api_tokens=(), allow_anonymous_writes=True)
    assert client.post("/api/jobs/", json={"name": "anon"}).status_code == 201


def test_reads_need_no_token(client):
    assert client.get("/api/jobs/").status_code == 200


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_guards_everything_but_the_health_probes(make_client):
    client = make_client(basic_auth=("admin", "s3cret"))
    for path in (
        "/api/jobs/",
        "/api/stats/",
        "/api/openapi.json",
        "/",
        "/jobs",
        "/api/nope",
        "/_dash-layout",
    ):
        response = client.get(path)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert_problem(client.get(path, headers=basic("admin", "wrong")), 401)
        assert_problem(client.get(path, headers=basic("Admin", "s3cret")), 401)
    assert client.get("/api/jobs/", headers=basic("admin", "s3cret")).status_code == 200
    assert client.get("/", headers=basic("admin", "s3cret")).status_code == 200
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert_problem(client.post("/livez"), 405)  # a public path stays open whatever the method


def test_every_api_route_that_changes_data_asks_for_a_write_token(app):
    server = app.server
    writes = [
        rule
        for rule in server.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    ]
    assert len(writes) == 3
    for rule in writes:
        assert access_of(server.view_functions[rule.endpoint]) == "write", rule.rule


def test_with_basic_auth_a_write_token_stands_for_the_password_on_the_api(make_client):
    client = make_client(basic_auth=("admin", "s3cret"))
    assert client.post("/api/jobs/", json={"name": "x"}, headers=AUTH).status_code == 201
    assert client.get("/api/jobs/", headers=AUTH).status_code == 200
    assert_problem(client.get("/api/jobs/", headers={"Authorization": "Bearer nope"}), 403)
    # The password alone reads, but writing still needs a token.
    assert_problem(client.post("/api/jobs/", json={"name": "x"}, headers=basic("admin", "s3cret")), 401)
    # A token is no key to the dashboard pages.
    assert_problem(client.get("/", headers=AUTH), 401)
