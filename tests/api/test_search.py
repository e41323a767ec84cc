"""GET /api/jobs/?q=…: partial pages of a name search say how far they got, and their links continue."""

from __future__ import annotations

import datetime as dt

import pytest

from db import search
from tests.api.conftest import assert_problem
from tests.conftest import T0


@pytest.fixture
def jobs(job_factory, monkeypatch):
    # 4 entries per row: with page_size=2 a page reads 8 jobs. Caching off, so every request reads.
    monkeypatch.setattr(search, "BUDGET_PER_ROW", 4)
    for i in range(30):
        name = f"needle-{i}" if i in (3, 17, 18, 29) else f"hay-{i}"
        job_factory(name=name, created_at=T0 + dt.timedelta(minutes=i))


def test_partial_pages_say_how_far_they_got_and_continue(client, jobs):
    url, seen, partial = "/api/jobs/?q=needle&ordering=created_at&page_size=2", [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        seen += [job["name"] for job in body["results"]]
        if body["partial"]:
            partial.append(body)
            assert body["searched"]["scanned"] == 8 and body["searched"]["key"] == "created_at"
            assert body["next"], "a partial page always continues"
        else:
            assert body["searched"] is None
        url = body["next"]
    assert seen == ["needle-3", "needle-17", "needle-18", "needle-29"]
    assert partial  # 30 jobs, 8 per page, 4 matches: some pages ran out of budget
    first = client.get("/api/jobs/?q=needle&ordering=created_at&page_size=2").get_json()
    assert first["count_exact"] is False or first["count"] == 4


def test_the_openapi_document_describes_the_search_fields(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert {"partial", "searched"} <= schemas["JobList"]["properties"].keys()
    assert {"scanned", "key", "value", "id"} <= schemas["SearchProgress"]["properties"].keys()


def test_a_tampered_continuation_cursor_is_a_400(client, jobs):
    body = client.get("/api/jobs/?q=nothing-here&page_size=2").get_json()
    assert body["partial"] and body["next"]
    cursor = body["next"].split("cursor=")[1]
    for url in (
        f"/api/jobs/?q=nothing-her&page_size=2&cursor={cursor}",  # another term
        f"/api/jobs/?q=nothing-here&page_size=2&ordering=name&cursor={cursor}",
        f"/api/jobs/?q=nothing-here&page_size=2&cursor={cursor[:-2]}",
    ):
        assert_problem(client.get(url), 400)
