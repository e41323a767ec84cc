"""GET /api/jobs/: the duration field, the duration orderings and filters, the last-update range, and
their errors; links carry them to the next page."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import field_errors
from tests.conftest import T0

M = dt.timedelta(minutes=1)


@pytest.fixture
def jobs(job_factory):
    job_factory(name="quick", created_at=T0, history=(("RUNNING", T0 + M), ("COMPLETED", T0 + 2 * M)))
    job_factory(name="slow", created_at=T0 + M, history=(("RUNNING", T0 + 2 * M), ("FAILED", T0 + 61 * M)))
    job_factory(name="running", created_at=T0 + 2 * M, history=(("RUNNING", T0 + 3 * M),))
    job_factory(
        name="retried",
        created_at=T0 + 3 * M,
        history=(("RUNNING", T0 + 4 * M), ("FAILED", T0 + 5 * M), ("PENDING", T0 + 6 * M)),
    )
    job_factory(name="cancelled", created_at=T0 + 4 * M, history=(("CANCELLED", T0 + 14 * M),))


def listed(client, query):
    response = client.get(f"/api/jobs/?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_each_job_has_its_duration_in_seconds_or_null(client, jobs):
    body = listed(client, "ordering=created_at")
    assert {job["name"]: job["duration"] for job in body["results"]} == {
        "quick": 120.0,
        "slow": 3600.0,
        "running": None,
        "retried": None,
        "cancelled": 600.0,
    }
    one = client.get(f"/api/jobs/{body['results'][0]['id']}/").get_json()
    assert one["duration"] == 120.0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ordering=duration", ["quick", "cancelled", "slow", "running", "retried"]),
        ("ordering=-duration", ["slow", "cancelled", "quick", "retried", "running"]),
        ("min_duration=300", ["cancelled", "slow"]),
        ("max_duration=600&ordering=duration", ["quick", "cancelled"]),
        ("min_duration=120&max_duration=120", ["quick"]),
        ("min_duration=0&status=FAILED,RUNNING", ["slow"]),
        ("updated_after=2026-01-01T00:14:00Z", ["cancelled", "slow"]),
        ("updated_before=2026-01-01T00:05:00Z&ordering=name", ["quick", "running"]),
        (
            "updated_after=2026-01-01T00:03:00Z&updated_before=2026-01-01T01:00:00Z&ordering=-duration",
            ["cancelled", "retried", "running"],
        ),
    ],
)
def test_duration_and_update_filters_and_orderings(client, jobs, query, expected):
    body = listed(client, query)
    assert [job["name"] for job in body["results"]] == expected
    assert body["count"] == len(expected) and body["count_exact"]


def test_paging_by_duration_crosses_into_the_unfinished_jobs_and_back(client, jobs):
    for ordering, expected in (
        ("duration", ["quick", "cancelled", "slow", "running", "retried"]),
        ("-duration", ["slow", "cancelled", "quick", "retried", "running"]),
    ):
        seen, url, pages = [], f"/api/jobs/?ordering={ordering}&page_size=2", []
        while url:
            body = client.get(url).get_json()
            pages.append(body)
            seen += [job["name"] for job in body["results"]]
            url = body["next"]
        assert seen == expected
        assert f"ordering={ordering.replace('-', '-')}" in pages[0]["next"]
        back = client.get(pages[-1]["previous"]).get_json()
        assert [job["name"] for job in back["results"]] == expected[2:4]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("updated_after=yesterday", "updated_after"),
        ("updated_before=2026-01-01T00:00:00", "updated_before"),
        ("updated_after=1700000000", "updated_after"),
        ("updated_after=2026-01-02T00:00:00Z&updated_before=2026-01-01T00:00:00Z", "updated_before"),
        ("updated_after=2026-01-01T00:00:00Z&updated_before=2026-01-01T00:00:00Z", "updated_before"),
        ("min_duration=-1", "min_duration"),
        ("max_duration=ten", "max_duration"),
        ("min_duration=nan", "min_duration"),
        ("max_duration=inf", "max_duration"),
        ("min_duration=10&max_duration=5", "max_duration"),
        ("min_duration=1e12", "min_duration"),
        ("ordering=-id", "ordering"),
    ],
)
def test_bad_ranges_are_400_naming_the_field(client, query, field):
    assert field in field_errors(client.get(f"/api/jobs/?{query}"))


def test_the_openapi_document_describes_the_new_parameters_and_field(client):
    document = client.get("/api/openapi.json").get_json()
    parameters = {p["name"] for p in document["paths"]["/api/jobs/"]["get"]["parameters"]}
    assert {"updated_after", "updated_before", "min_duration", "max_duration"} <= parameters
    job = document["components"]["schemas"]["Job"]
    assert "duration" in job["properties"] and "duration" in job.get("required", [])
    ordering = next(
        p for p in document["paths"]["/api/jobs/"]["get"]["parameters"] if p["name"] == "ordering"
    )
    assert {"duration", "-duration"} <= set(ordering["schema"]["enum"])
