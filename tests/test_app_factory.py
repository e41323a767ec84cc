"""The app factory: each app has its own settings and database, serves the API and the dashboard, and
answers its health probes."""

from sqlalchemy.engine import make_url

from dashboard.database import database_of, get_database
from dashboard.settings import get_settings


def test_each_app_serves_the_api_and_dashboard_with_its_own_settings(make_app, job_factory, database_url):
    for _ in range(3):
        job_factory()
    small, large = make_app(default_page_size=1), make_app(default_page_size=2)
    for app, size in ((small, 1), (large, 2)):
        with app.server.app_context():
            assert get_settings().default_page_size == size
            assert get_database() is database_of(app.server)
        assert database_of(app.server).writer.url.database == make_url(database_url).database
        client = app.server.test_client()
        listed = client.get("/api/jobs/").get_json()
        assert (len(listed["results"]), listed["count"]) == (size, 3)
        page = client.get("/jobs")
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert client.get("/_dash-layout").status_code == 200
    assert database_of(small.server) is not database_of(large.server)


def test_livez_and_readyz(client):
    assert client.get("/livez").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


def test_readyz_is_503_problem_when_the_database_is_unreachable(make_app):
    broken = make_app(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = broken.server.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503 and "database" in body["detail"]
    assert client_is_still_alive(broken)


def client_is_still_alive(app):
    return app.server.test_client().get("/livez").status_code == 200


def test_readyz_reports_an_unreachable_redis_as_degraded_not_unready(make_app, job_factory):
    job_factory()
    down = make_app(cache_url="redis://127.0.0.1:1/0", cache_ttl=5)
    client = down.server.test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "checks": {"database": "ok", "cache": "degraded"}}
    assert client.get("/api/jobs/").status_code == 200  # served, uncached


def test_an_unreachable_read_replica_is_degraded_and_reads_fall_back_to_the_primary(make_app, job_factory):
    job = job_factory(name="on-the-primary")
    replica_down = make_app(read_database_url="postgresql+psycopg://nobody@127.0.0.1:1/x")
    client = replica_down.server.test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "read_database": "degraded"}
    listed = client.get("/api/jobs/")
    assert listed.status_code == 200
    assert [j["name"] for j in listed.get_json()["results"]] == ["on-the-primary"]
    assert client.get(f"/api/jobs/{job['id']}/").status_code == 200


def test_requests_echo_a_request_id_and_server_timing(client):
    response = client.get("/livez", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    assert "app;dur=" in response.headers["Server-Timing"]
    generated = client.get("/livez").headers["X-Request-ID"]
    assert len(generated) == 32
