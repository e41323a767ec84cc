"""What responses give away: security headers on every answer, no Host echoed into the page, ASCII-only
job ids, and no passwords in start-up errors."""

import pytest

from dashboard.settings import Settings, SettingsError
from tests.api.conftest import assert_problem


@pytest.mark.parametrize("path", ["/", "/jobs", "/api/jobs/", "/api/stats/", "/api/nope", "/livez"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'sha256-" in csp
    assert "'unsafe-eval'" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/api/jobs/", "/api/stats/", "/api/nope", "/readyz"])
def test_api_answers_are_not_stored_by_caches(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_the_request_host_is_not_copied_into_the_page(client):
    page = client.get("/jobs", headers={"Host": "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in page


def test_the_inline_theme_script_is_allowed_by_its_hash(client):
    from dashboard.security import script_hashes
    from dashboard.shell import _INDEX

    [theme_hash] = script_hashes(_INDEX)
    assert theme_hash in client.get("/").headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/api/jobs/\uff11/", "/api/jobs/\uff11/history/", "/api/jobs/\u0663/"])
def test_a_job_id_in_non_ascii_digits_is_not_a_job(client, job_factory, path):
    job_factory()
    assert_problem(client.get(path), 404)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOBDASH_DATABASE_URL", "mysql://admin:s3cret-pw@db.internal/jobs"),
        ("JOBDASH_READ_DATABASE_URL", "oracle://admin:s3cret-pw@db.internal/jobs"),
        ("JOBDASH_CACHE_URL", "http://:s3cret-pw@cache.internal:6379/0"),
    ],
)
def test_start_up_errors_do_not_print_passwords(variable, value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    message = str(raised.value)
    assert variable in message and ":***@" in message
    assert "s3cret-pw" not in message
