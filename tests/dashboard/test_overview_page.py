"""The overview: range choices, totals, charts and the latest failures, all from SQL aggregates."""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import Any

import pytest

from db.errors import ValidationError
from db.queries import BUCKETS, Totals
from tests.dashboard.conftest import text
from tests.dashboard.dash_requests import post_callback

PAGE = "dashboard.pages.overview"


def test_time_windows_are_aligned_and_within_the_bucket_limit(page: ModuleType) -> None:
    now = dt.datetime(2026, 3, 4, 15, 42, tzinfo=dt.UTC)
    since, until, bucket = page.time_window("24h", now=now)
    assert (since, until, bucket) == (
        dt.datetime(2026, 3, 3, 16, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 4, 16, tzinfo=dt.UTC),
        "hour",
    )
    for key, choice in page.RANGES.items():
        since, until, bucket = page.time_window(key, now=now)
        assert until > now and until - since == choice.span
        assert (until - since) / BUCKETS[bucket] <= 1000


@pytest.mark.parametrize("bad", ["10y", "", None, ["24h"], {"x": 1}, "24h' OR 1=1"])
def test_unknown_ranges_are_refused(page: ModuleType, bad: object) -> None:
    with pytest.raises(ValidationError):
        page.time_window(bad, now=dt.datetime.now(dt.UTC))


def test_kpis_show_the_range_and_all_time_totals(page: ModuleType) -> None:
    totals = Totals(by_status={"FAILED": 9000, "COMPLETED": 1000}, total=10000, exact=False)
    rendered = text(page.build_kpis({"FAILED": 3, "COMPLETED": 4}, totals))
    assert '"7"' in rendered and "≈ 10,000 all time" in rendered and "≈ 9,000 all time" in rendered


def test_failures_link_to_their_jobs_and_show_names_as_text(page: ModuleType) -> None:
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    rows = [{"id": 4, "name": "<b>x</b>", "updated_at": now - dt.timedelta(minutes=5)}]
    rendered = text(page.build_failures(rows, now=now))
    assert (
        '"href": "/jobs/4"' in rendered and '"children": "<b>x</b>"' in rendered and "5m 00s ago" in rendered
    )
    assert "No failures" in text(page.build_failures([], now=now))


def test_overview_callback_counts_the_chosen_range(app: Any, page: ModuleType, job_factory: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    recent = job_factory(name="recent-failure", status="FAILED", created_at=now - dt.timedelta(hours=2))
    job_factory(name="old-failure", status="FAILED", created_at=now - dt.timedelta(days=20))
    job_factory(name="recent-ok", status="COMPLETED", created_at=now - dt.timedelta(hours=1))
    with app.server.test_request_context():
        kpis, created, distribution, failures, as_of, error = page.update_overview("24h", None)
    assert error is None and "24 hours" in as_of
    assert distribution["data"][0]["values"] == [0, 0, 1, 1, 0]
    assert sum(sum(trace["y"]) for trace in created["data"]) == 2
    rendered = text(failures)
    assert f'"/jobs/{recent["id"]}"' in rendered and "old-failure" not in rendered
    assert "3 all time" in text(kpis)


def test_recent_failures_are_jobs_that_failed_in_the_range_whenever_created(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    old_job = now - dt.timedelta(days=40)
    failed_now = job_factory(
        name="old-job-failed-today", created_at=old_job, history=(("FAILED", now - dt.timedelta(hours=3)),)
    )
    job_factory(name="old-job-failed-long-ago", created_at=old_job, history=(("FAILED", old_job),))
    with app.server.test_request_context():
        kpis, _created, _distribution, failures, _as_of, error = page.update_overview("24h", None)
    assert error is None
    rendered = text(failures)
    assert f'"/jobs/{failed_now["id"]}"' in rendered and "long-ago" not in rendered
    assert "2 all time" in text(kpis)


def test_hostile_range_posted_to_the_callback_gets_a_message(client: Any) -> None:
    response = post_callback(
        client,
        "overview-kpis.children",
        {"overview-range.value": {"$where": "1"}},
        triggered=["overview-range.value"],
    )
    assert response.status_code == 200
    assert "That time range is not available" in response.get_data(as_text=True)
