"""GET /api/jobs/: filters, ordering, page sizes, counts and the errors of each parameter."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from db import search
from tests.api.conftest import field_errors
from tests.conftest import T0

H = dt.timedelta(hours=1)


def names(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [job["name"] for job in response.get_json()["results"]]


@pytest.fixture
def three_jobs(job_factory):
    job_factory(name="Alpha build", created_at=T0, history=(("RUNNING", T0 + H),))
    job_factory(name="beta deploy", created_at=T0 + H, status="FAILED")
    job_factory(name="ÉCOLE alpha", created_at=T0 + 2 * H, status="COMPLETED")


def test_default_order_is_newest_first(client, three_jobs):
    assert names(client.get("/api/jobs/")) == ["ÉCOLE alpha", "beta deploy", "Alpha build"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=running", ["Alpha build"]),
        ("status=FAILED&status=completed", ["ÉCOLE alpha", "beta deploy"]),
        ("status=failed,%20Completed", ["ÉCOLE alpha", "beta deploy"]),
        ("q=ALPHA", ["ÉCOLE alpha", "Alpha build"]),
        ("q=%C3%A9cole", ["ÉCOLE alpha"]),
        ("q=%25", []),
        ("created_after=2026-01-01T01:00:00%2B00:00", ["ÉCOLE alpha", "beta deploy"]),
        ("created_before=2026-01-01T03:00:00%2B02:00", ["Alpha build"]),
        (
            "created_after=2026-01-01T00:00:00Z&created_before=2026-01-01T02:00:00Z",
            ["beta deploy", "Alpha build"],
        ),
        ("ordering=name", ["Alpha build", "beta deploy", "ÉCOLE alpha"]),
        ("ordering=updated_at", ["Alpha build", "beta deploy", "ÉCOLE alpha"]),
        ("ordering=-updated_at&status=running,completed", ["ÉCOLE alpha", "Alpha build"]),
    ],
)
def test_filters_and_orderings(client, three_jobs, query, expected):
    if query == "ordering=name":
        # Collations differ on case; compare as a set of the names, order checked by the walk tests.
        assert sorted(names(client.get(f"/api/jobs/?{query}"))) == sorted(expected)
    else:
        assert names(client.get(f"/api/jobs/?{query}")) == expected


def test_blank_values_mean_absent(client, three_jobs):
    assert len(names(client.get("/api/jobs/?q=&cursor=&page_size="))) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=ten", "page_size"),
        ("status=DONE", "status"),
        ("ordering=id", "ordering"),
        ("q=" + "x" * 101, "q"),
        ("created_after=2026-01-01T00:00:00", "created_after"),
        ("created_after=yesterday", "created_after"),
        # Lax pydantic reads a number as Unix seconds: a time here is ISO 8601 text only.
        ("created_before=0.5", "created_before"),
        ("created_after=1700000000", "created_after"),
        ("created_after=2026-01-02T00:00:00Z&created_before=2026-01-01T00:00:00Z", "created_before"),
        ("cursor=not-a-cursor", "cursor"),
        ("ordering=name&ordering=-name", "ordering"),
        ("limit=5", "limit"),
        ("offset=5", "offset"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(client, query, field):
    assert field in field_errors(client.get(f"/api/jobs/?{query}"))


def test_several_unknown_parameters_are_all_named(client):
    assert {"foo", "bar"} <= set(field_errors(client.get("/api/jobs/?foo=1&bar=2")))


def test_page_size_is_never_clamped_and_default_comes_from_settings(client, job_factory):
    for _ in range(3):
        job_factory()
    body = client.get("/api/jobs/?page_size=2").get_json()
    assert len(body["results"]) == 2 and "page_size=2" in body["next"]
    assert len(client.get("/api/jobs/?page_size=200").get_json()["results"]) == 3


def test_a_cursor_from_another_list_is_refused(client, job_factory):
    for _ in range(3):
        job_factory()
    next_url = client.get("/api/jobs/?page_size=1&status=PENDING").get_json()["next"]
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]
    assert "cursor" in field_errors(client.get(f"/api/jobs/?page_size=1&cursor={cursor}"))
    assert "cursor" in field_errors(
        client.get(f"/api/jobs/?page_size=1&status=PENDING&ordering=name&cursor={cursor}")
    )
    # Same filters written differently are the same list, so its cursor is honoured.
    assert client.get(f"/api/jobs/?page_size=1&status=pending&cursor={cursor}").status_code == 200


def test_links_keep_the_query_and_are_root_relative(client, job_factory):
    for i in range(3):
        job_factory(name=f"keep{i}", created_at=T0 + i * H)
    body = client.get(
        "/api/jobs/?page_size=1&q=keep&ordering=name&created_after=2025-12-31T19:00:00-05:00"
    ).get_json()
    link = urlsplit(body["next"])
    assert link.scheme == "" and link.netloc == "" and link.path == "/api/jobs/"
    params = parse_qs(link.query)
    assert params["q"] == ["keep"] and params["ordering"] == ["name"] and params["page_size"] == ["1"]
    assert params["created_after"] == ["2026-01-01T00:00:00+00:00"]
    assert body["count"] == 3


def test_count_is_exact_without_a_search_and_honest_with_one(client, database, monkeypatch, job_factory):
    for _ in range(5):
        job_factory()
    exact = {
        "results": [],
        "next": None,
        "previous": None,
        "count": 5,
        "count_exact": True,
        "partial": False,
        "searched": None,
    }
    assert client.get("/api/jobs/").get_json() | {"results": []} == exact
    # Without a search the count comes from the count tables: exact on any page.
    assert client.get("/api/jobs/?page_size=2").get_json() | {"results": [], "next": None} == exact
    # A search is counted within its budget, and honest beyond it (a lower bound).
    original = search.count_matches
    monkeypatch.setattr(search, "count_matches", lambda conn, **kw: original(conn, **{**kw, "budget": 3}))
    body = client.get("/api/jobs/?page_size=2&q=job").get_json()
    assert body["count_exact"] is False and 0 < body["count"] < 5  # "more than N", N below the truth


def test_the_stuck_filter_is_the_stuck_read_as_a_list(client, job_factory):
    now = dt.datetime.now(dt.UTC)
    hour = dt.timedelta(hours=1)
    stuck = [
        job_factory(name="stalled-1", created_at=now - 5 * hour, history=(("RUNNING", now - 4 * hour),)),
        job_factory(name="stalled-2", created_at=now - 3 * hour),
        job_factory(name="waiting-1", created_at=now - 2 * hour),
    ]
    job_factory(name="fresh-1", created_at=now - dt.timedelta(minutes=5))
    job_factory(name="done-1", status="COMPLETED", created_at=now - 9 * hour)
    expected = [job["id"] for job in client.get("/api/insights/stuck/").get_json()["results"]]
    assert sorted(expected) == sorted(job["id"] for job in stuck)
    body = client.get("/api/jobs/?stuck=true").get_json()
    assert [job["id"] for job in body["results"]] == expected
    assert (body["count"], body["count_exact"]) == (3, True)
    assert set(body["results"][0]) == {
        "id",
        "name",
        "family",
        "status",
        "created_at",
        "updated_at",
        "duration",
    }
    assert {job["duration"] for job in body["results"]} == {None}  # stuck jobs are unfinished
    # Paged by the stuck read's cursor, one job a page, with an exact count on every page.
    seen, url = [], "/api/jobs/?stuck=true&page_size=1"
    while url:
        page = client.get(url).get_json()
        assert page["count"] == 3
        seen.extend(job["id"] for job in page["results"])
        url = page["next"]
    assert seen == expected
    assert "stuck=true" in client.get("/api/jobs/?stuck=1&page_size=1").get_json()["next"]
    running = client.get("/api/jobs/?stuck=true&status=running&family=stalled").get_json()
    assert [job["id"] for job in running["results"]] == [stuck[0]["id"]]
    assert len(client.get("/api/jobs/?stuck=false").get_json()["results"]) == 5
    for query, field in (
        ("stuck=maybe", "stuck"),
        ("stuck=true&q=stalled", "q"),
        ("stuck=true&created_after=2026-01-01T00:00:00Z", "created_after"),
        ("stuck=true&ordering=name", "ordering"),
        ("stuck=true&status=COMPLETED", "status"),
    ):
        assert field in field_errors(client.get(f"/api/jobs/?{query}")), query
