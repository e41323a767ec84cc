"""Events in the far future are refused (they would stay the newest forever and freeze their job)."""

import datetime as dt

import pytest

from tests.api.conftest import AUTH, field_errors


def later(seconds):
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize("timestamp", ["9999-01-01T00:00:00Z", "2999-06-01T00:00:00+02:00", later(3600)])
def test_a_far_future_event_is_refused_naming_the_field(client, job_factory, timestamp):
    job = job_factory()
    appended = client.post(
        f"/api/jobs/{job['id']}/status/", json={"status": "FAILED", "timestamp": timestamp}, headers=AUTH
    )
    assert field_errors(appended) == {"timestamp": "must not be more than 300 seconds in the future"}
    created = client.post(
        "/api/jobs/", json={"name": "from-the-future", "timestamp": timestamp}, headers=AUTH
    )
    assert field_errors(created) == {"timestamp": "must not be more than 300 seconds in the future"}
    # The job can still move on: nothing was written.
    moved = client.post(f"/api/jobs/{job['id']}/status/", json={"status": "RUNNING"}, headers=AUTH)
    assert moved.status_code == 201
    assert client.get(f"/api/jobs/{job['id']}/").get_json()["status"] == "RUNNING"


def test_an_event_within_the_clock_skew_is_accepted(client, job_factory):
    job = job_factory()
    appended = client.post(
        f"/api/jobs/{job['id']}/status/", json={"status": "RUNNING", "timestamp": later(60)}, headers=AUTH
    )
    assert appended.status_code == 201


def test_the_skew_is_a_setting(make_app):
    strict = make_app(max_future_skew_s=0).server.test_client()
    created = strict.post("/api/jobs/", json={"name": "a", "timestamp": later(30)}, headers=AUTH)
    assert field_errors(created) == {"timestamp": "must not be more than 0 seconds in the future"}
