"""Live lists: which refreshes may be applied without moving a row, how many jobs are newer, and what the
/jobs and job pages' refresh callbacks answer."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest

from dashboard.live import Refresh, changed_text, new_rows_text, newer_jobs, parse_as_of, plan_refresh
from db.engine import Database
from db.queries import Count, JobFilter


def rows(*ids: int, status: str = "PENDING") -> list[dict[str, Any]]:
    return [{"id": job_id, "status": status} for job_id in ids]


def test_the_same_rows_in_the_same_order_are_applied_even_when_cells_changed() -> None:
    assert plan_refresh(rows(3, 2, 1), rows(3, 2, 1, status="FAILED"), grows_at_top=False) == Refresh(True)
    assert plan_refresh(rows(), rows(), grows_at_top=True) == Refresh(True)


def test_new_rows_at_the_top_of_a_growing_list_are_applied_and_named() -> None:
    assert plan_refresh(rows(3, 2, 1), rows(5, 4, 3), grows_at_top=True) == Refresh(True, (5, 4))
    assert plan_refresh(rows(), rows(2, 1), grows_at_top=True) == Refresh(True, (2, 1))
    # Anywhere else, a new row would move the others: held back.
    assert plan_refresh(rows(3, 2, 1), rows(5, 4, 3), grows_at_top=False) == Refresh(False)


def test_a_row_leaving_or_entering_in_the_middle_is_held_back() -> None:
    assert plan_refresh(rows(3, 2, 1), rows(3, 1), grows_at_top=True) == Refresh(False)
    assert plan_refresh(rows(3, 2, 1), rows(4, 3, 1), grows_at_top=True) == Refresh(False)
    assert plan_refresh(rows(3, 2, 1), rows(3, 9, 2), grows_at_top=True) == Refresh(False)
    assert plan_refresh(rows(3, 2, 1), rows(2, 3, 1), grows_at_top=True) == Refresh(False)


def test_a_refresh_the_reader_asked_for_is_applied_whatever_moved() -> None:
    assert plan_refresh(rows(3, 2, 1), rows(3, 9, 2), grows_at_top=False, forced=True) == Refresh(True, (9,))
    assert plan_refresh(rows(3, 2, 1), rows(1, 2), grows_at_top=True, forced=True) == Refresh(True)


def test_the_banner_says_how_many_newer_jobs_where_known() -> None:
    assert changed_text(None) == "This list has changed since it was shown."
    assert changed_text(Count(0, "exact")) == "This list has changed since it was shown."
    assert changed_text(Count(3, "exact")) == "3 newer jobs since this list was shown."
    assert changed_text(Count(1, "exact"), noun="event") == "1 newer event since this list was shown."
    assert changed_text(Count(1000, "at_least")).startswith("More than 1,000 newer jobs")
    assert new_rows_text(0) == "" and new_rows_text(2) == "2 new jobs at the top"


def test_a_table_read_time_is_parsed_or_ignored() -> None:
    at = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert parse_as_of(at.isoformat()) == at
    assert parse_as_of("2026-03-01T12:00:00") is None  # no zone: not ours
    assert parse_as_of("yesterday") is None and parse_as_of(5) is None and parse_as_of("9" * 50) is None


def test_newer_jobs_counts_those_created_since_matching_the_filters(
    database: Database, job_factory: Any
) -> None:
    since = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    job_factory(status="FAILED", created_at=since - dt.timedelta(minutes=1))
    job_factory(status="FAILED", created_at=since + dt.timedelta(minutes=1))
    job_factory(status="FAILED", created_at=since + dt.timedelta(hours=3))
    job_factory(status="RUNNING", created_at=since + dt.timedelta(minutes=2))
    with database.read() as conn:
        assert newer_jobs(conn, JobFilter(), since=since) == Count(3, "exact")
        assert newer_jobs(conn, JobFilter(statuses=("FAILED",)), since=since) == Count(2, "exact")
        later = JobFilter(created_after=since + dt.timedelta(hours=1))
        assert newer_jobs(conn, later, since=since) == Count(1, "exact")
        ended = JobFilter(created_before=since)
        assert newer_jobs(conn, ended, since=since) == Count(0, "exact")


@pytest.fixture
def jobs_live(app: Any) -> Any:
    return importlib.import_module("dashboard.pages.jobs_live")


def shown_view(app: Any, search: str) -> dict[str, Any]:
    jobs = importlib.import_module("dashboard.pages.jobs")
    with app.server.test_request_context():
        data: dict[str, Any] = jobs.update_view("jobs-url", search=search, controls={})["data"]
    return data


def test_a_new_job_is_added_at_the_top_of_the_first_newest_first_page(
    app: Any, jobs_live: Any, job_factory: Any
) -> None:
    old = [job_factory(created_at=dt.datetime(2026, 1, 1, hour, tzinfo=dt.UTC))["id"] for hour in (1, 2)]
    shown = shown_view(app, "")
    new = job_factory(created_at=dt.datetime.now(dt.UTC))["id"]
    with app.server.test_request_context():
        live = jobs_live.refresh_jobs("", shown, forced=False)
    assert live["apply"] and live["data"]["fresh"] == [new] and live["banner"] is None
    assert [row["id"] for row in live["data"]["rows"]] == [new, *reversed(old)]
    assert live["count"] == "3 jobs" and live["announce"] == "1 new job at the top"
    assert live["from"] == shown["as_of"] and live["as_of"] > shown["as_of"]  # the baseline moved


def test_on_another_page_the_rows_stay_and_the_banner_counts_newer_jobs(
    app: Any, jobs_live: Any, job_factory: Any
) -> None:
    for hour in (1, 2, 3):
        job_factory(created_at=dt.datetime(2026, 1, 1, hour, tzinfo=dt.UTC))
    first = shown_view(app, "?page_size=2")
    second_search = (
        first["search"] + f"&cursor={first['next']}" if first["search"] else f"?cursor={first['next']}"
    )
    shown = shown_view(app, second_search)
    for _ in range(2):
        job_factory(created_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    with app.server.test_request_context():
        live = jobs_live.refresh_jobs(second_search, shown, forced=False)
        forced = jobs_live.refresh_jobs(second_search, shown, forced=True)
    # The keyset page itself did not change: it is applied as it is, the banner says 2 newer jobs.
    assert live["data"]["rows"] == shown["rows"] and live["data"]["fresh"] == []
    assert live["banner"] == "2 newer jobs since this list was shown."
    assert live["as_of"] == shown["as_of"]  # counted from the same time until the reader refreshes
    assert forced["apply"] and forced["banner"] is None and forced["as_of"] > shown["as_of"]


def test_a_sorted_list_whose_order_changed_is_held_back(
    app: Any, jobs_live: Any, job_factory: Any, database: Database
) -> None:
    from db.writes import append_status

    jobs = [job_factory(created_at=dt.datetime(2026, 1, 1, hour, tzinfo=dt.UTC))["id"] for hour in (1, 2, 3)]
    shown = shown_view(app, "?ordering=-updated_at")
    with database.write() as conn:
        append_status(
            conn, job_id=jobs[0], status="RUNNING", timestamp=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
        )
    with app.server.test_request_context():
        live = jobs_live.refresh_jobs("?ordering=-updated_at", shown, forced=False)
    assert not live["apply"] and live["banner"] == "This list has changed since it was shown."
    assert [row["id"] for row in shown["rows"]] == list(reversed(jobs))


def test_an_older_history_page_stays_and_the_banner_counts_newer_events(app: Any, job_factory: Any) -> None:
    job_live = importlib.import_module("dashboard.pages.job_live")
    job = job_factory(
        history=tuple(("RUNNING", dt.datetime(2026, 1, 1, 1, n, tzinfo=dt.UTC)) for n in range(3))
    )
    older = {"job_id": job["id"], "rows": rows(999), "next": None, "previous": "cursor"}
    with app.server.test_request_context():
        held = job_live.refresh_history(older, 6, 4, forced=False)
        quiet = job_live.refresh_history(older, 4, 4, forced=False)
        forced = job_live.refresh_history(older, 4, 4, forced=True)
    assert held == {"apply": False, "banner": "2 newer events since this list was shown.", "events": 4}
    assert quiet["banner"] is None and not quiet["apply"]
    # The banner's button shows the newest page, every event on it new to this view.
    assert forced["apply"] and forced["data"]["previous"] is None and len(forced["data"]["fresh"]) == 4
