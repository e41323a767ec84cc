"""The /jobs/<id> page: header, bounded timeline, paged history, friendly not-found."""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import T0
from tests.dashboard.conftest import text
from tests.dashboard.dash_requests import post_callback

PAGE = "dashboard.pages.job"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("0", None),
        ("-1", None),
        ("01", None),
        ("1.5", None),
        ("abc", None),
        ("<script>", None),
        ("", None),
        (None, None),
        (["1"], None),
        ("1" * 100, None),
    ],
)
def test_parse_job_id(page: ModuleType, raw: object, expected: int | None) -> None:
    assert page.parse_job_id(raw) == expected


def test_header_shows_name_as_text_status_and_duration(page: ModuleType) -> None:
    job = {
        "id": 3,
        "name": "<img src=x onerror=alert(1)>",
        "status": "COMPLETED",
        "created_at": T0,
        "updated_at": T0 + dt.timedelta(minutes=90),
        "history_count": 4,
    }
    header = page.build_job_header(job, now=T0 + dt.timedelta(days=2))
    rendered = text(header)
    assert '"children": "<img src=x onerror=alert(1)>"' in rendered
    assert "1h 30m" in rendered and "Completed" in rendered and "2026-01-01 00:00:00 UTC" in rendered


def test_timeline_note_says_when_events_were_left_out(page: ModuleType) -> None:
    assert page.build_timeline_note(shown=200, total=1234) == (
        "Built from the newest 200 of 1,234 events; older periods are not shown."
    )
    assert page.build_timeline_note(shown=1, total=1) == "Built from all 1 event."


def test_layout_reads_a_bounded_number_of_events(app: Any, page: ModuleType, job_factory: Any) -> None:
    history = tuple(("RUNNING" if i % 2 else "PENDING", T0 + dt.timedelta(minutes=i)) for i in range(1, 8))
    job = job_factory(name="many", history=history)
    page.TIMELINE_EVENTS, saved = 5, page.TIMELINE_EVENTS
    try:
        with app.server.test_request_context():
            rendered = text(page.layout(job_id=str(job["id"])))
    finally:
        page.TIMELINE_EVENTS = saved
    assert "Built from the newest 5 of 8 events" in rendered
    assert '"children": "many"' in rendered


@pytest.mark.parametrize("job_id", ["999999", "abc", "-3", "1/../../etc", None, "9" * 30])
def test_unknown_or_malformed_ids_get_a_friendly_not_found(
    app: Any, page: ModuleType, job_id: object
) -> None:
    with app.server.test_request_context():
        rendered = text(page.layout(job_id=job_id))
    assert "Job not found" in rendered and "Back to all jobs" in rendered


def test_history_pages_newest_first(app: Any, page: ModuleType, job_factory: Any) -> None:
    history = tuple(("RUNNING", T0 + dt.timedelta(minutes=i)) for i in range(1, 5))
    job = job_factory(history=history)
    page.HISTORY_PAGE_SIZE, saved = 2, page.HISTORY_PAGE_SIZE
    try:
        with app.server.test_request_context():
            first = page.history_page(None, {"job_id": job["id"]})
            older = page.history_page("job-history-older", first["data"])
            newer = page.history_page("job-history-newer", older["data"])
    finally:
        page.HISTORY_PAGE_SIZE = saved

    def event_ids(out: dict[str, Any]) -> list[int]:
        return [int(row["id"]) for row in out["data"]["rows"]]

    assert event_ids(first) == [5, 4]
    assert event_ids(older) == [3, 2]
    assert event_ids(newer) == [5, 4]
    assert first["newer_disabled"] and not first["older_disabled"] and first["newest_disabled"]
    assert not older["newest_disabled"]


@pytest.mark.parametrize(
    "state",
    [
        {"job_id": "1; DROP TABLE job"},
        {"job_id": -1},
        {"job_id": 10**30},
        {"job_id": True},
        {"job_id": 999},
        "garbage",
        None,
    ],
)
def test_history_with_hostile_state_gets_a_message(app: Any, page: ModuleType, state: object) -> None:
    with app.server.test_request_context():
        out = page.history_page(None, state)
    assert "This history page is not available" in text(out["notice"]) and out["data"]["rows"] == []


def test_history_with_a_forged_cursor_gets_a_message(app: Any, page: ModuleType, job_factory: Any) -> None:
    job = job_factory()
    with app.server.test_request_context():
        for cursor in ("forged", 42, {"x": 1}):
            out = page.history_page("job-history-older", {"job_id": job["id"], "next": cursor})
            assert "cursor" in text(out["notice"])


def test_hostile_history_post_is_answered_in_the_page(client: Any) -> None:
    response = post_callback(
        client,
        "job-history-data.data",
        {"job-history-data.data": {"job_id": {"$gt": 0}, "next": ["x"]}},
        triggered=["job-history-older.n_clicks"],
    )
    assert response.status_code == 200
    assert "not available" in response.get_data(as_text=True)
