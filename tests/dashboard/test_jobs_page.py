"""The /jobs callback, called directly and through /_dash-update-component, with good and hostile input."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from dash import no_update

from tests.dashboard.conftest import text
from tests.dashboard.dash_requests import post_callback

PAGE = "dashboard.pages.jobs"

CONTROLS = {
    "status": [],
    "q": "",
    "family": "",
    "created_after": "",
    "created_before": "",
    "updated_after": "",
    "updated_before": "",
    "min_duration": None,
    "max_duration": None,
    "stuck": False,
    "page_size": "50",
}


def job_ids(view: dict[str, Any]) -> list[int]:
    """The ids of the rows a view sends the browser."""
    return [int(row["id"]) for row in view["data"]["rows"]]


def test_rows_are_data_with_names_as_text_and_links_by_id(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    job_factory(name="<script>alert(1)</script>", status="FAILED")
    job_factory(name="javascript:alert(1)", status="RUNNING")
    with app.server.test_request_context():
        out = page.update_view("jobs-url", search="", controls=CONTROLS)
    rows = out["data"]["rows"]
    assert [row["name"] for row in rows] == ["javascript:alert(1)", "<script>alert(1)</script>"]
    assert set(rows[0]) == {"id", "name", "status", "created_at", "updated_at", "duration"}
    # The browser sets names with textContent and builds each link from the id, never from the name.
    link = next(column for column in page.JOBS_SPEC["columns"] if column["key"] == "name")
    assert link["kind"] == "link" and link["href"] == "/jobs/{id}"


def test_sort_labels_mark_the_active_column(page: ModuleType) -> None:
    labels = page.build_sort_labels("name")
    assert "bi-sort-up" in text(labels["name"]) and "bi-sort-up" not in text(labels["created"])
    assert "bi-sort-down" in text(page.build_sort_labels("-updated_at")["updated"])


def test_url_view_renders_one_page_and_shows_the_filters(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    for index in range(5):
        job_factory(name=f"etl-{index}", status="FAILED" if index % 2 else "COMPLETED")
    with app.server.test_request_context():
        out = page.update_view("jobs-url", search="?status=FAILED&page_size=1", controls=CONTROLS)
    assert out["controls"]["status"] == ["FAILED"] and out["controls"]["page_size"] == "1"
    assert out["search"] is no_update  # the URL is what we just read
    assert len(job_ids(out)) == 1
    assert out["count"] == "2 jobs"
    assert out["next_disabled"] is False and out["prev_disabled"] is True and out["first_disabled"] is True


def test_a_control_change_writes_the_url_and_starts_at_page_one(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    job_factory(name="alpha", status="RUNNING")
    job_factory(name="beta", status="FAILED")
    controls = {**CONTROLS, "status": ["RUNNING"], "q": "alp"}
    with app.server.test_request_context():
        out = page.update_view("jobs-status", search="?ordering=name&cursor=stale", controls=controls)
    assert out["search"] == "?status=RUNNING&q=alp&ordering=name"
    assert set(out["controls"].values()) == {no_update}  # never overwrite what the user is editing
    assert "alpha" in text(out["data"]) and "beta" not in text(out["data"])


def test_paging_forward_and_back_uses_the_keyset_cursors(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    for _ in range(5):
        job_factory()
    with app.server.test_request_context():
        first = page.update_view("jobs-url", search="?page_size=2", controls=CONTROLS)
        second = page.update_view("jobs-next", search="?page_size=2", controls=CONTROLS, shown=first["data"])
        assert "cursor=" in second["search"]
        back = page.update_view("jobs-prev", search=second["search"], controls=CONTROLS, shown=second["data"])
    assert job_ids(first) == [5, 4]
    assert job_ids(second) == [3, 2]
    assert job_ids(back) == [5, 4]
    assert second["first_disabled"] is False


def test_a_partial_search_says_how_far_it_got_and_next_continues(
    app: Any, page: ModuleType, job_factory: Any, monkeypatch: Any
) -> None:
    from db import search

    monkeypatch.setattr(search, "BUDGET_PER_ROW", 2)  # 2 rows a page: 4 jobs read per page
    for index in range(9):
        job_factory(name="needle" if index == 0 else f"hay-{index}")
    controls, search_text = {**CONTROLS, "q": "needle", "page_size": "2"}, "?q=needle&page_size=2"
    with app.server.test_request_context():
        first = page.update_view("jobs-url", search=search_text, controls=controls)
        assert "searched 4 of 9 jobs here" in first["count"] and "Next continues" in first["count"]
        assert "No match in this stretch" in text(first["notice"]) and first["next_disabled"] is False
        pages = [first]
        while not pages[-1]["next_disabled"]:
            search_text = pages[-1]["search"] if isinstance(pages[-1]["search"], str) else search_text
            pages.append(
                page.update_view(
                    "jobs-next",
                    search=search_text,
                    controls=controls,
                    shown=pages[-1]["data"],
                )
            )
            assert len(pages) < 10
    assert [job_ids(p) for p in pages if job_ids(p)] == [[1]]  # the oldest, found last
    assert "searched" not in pages[-1]["count"]


def test_sorting_by_a_header(app: Any, page: ModuleType, job_factory: Any) -> None:
    for name in ("b", "c", "a"):
        job_factory(name=name)
    with app.server.test_request_context():
        out = page.update_view("jobs-sort-name", search="", controls=CONTROLS)
    assert out["search"] == "?ordering=name"
    assert job_ids(out) == [3, 1, 2]


def test_empty_result_is_a_designed_state(app: Any, page: ModuleType) -> None:
    with app.server.test_request_context():
        out = page.update_view("jobs-url", search="?q=nothing-matches", controls=CONTROLS)
    assert (
        '"data-state": "empty"' in text(out["notice"])
        and out["data"]["rows"] == []
        and out["count"] == "0 jobs"
    )


@pytest.mark.parametrize(
    "search",
    [
        "?status=BOGUS",
        "?page_size=100000",
        "?ordering=id%3B%20DROP%20TABLE%20job",
        "?cursor=not-a-cursor",
        "?created_after=2026-02-01T00:00:00%2B00:00&created_before=2026-01-01T00:00:00%2B00:00",
        "?unknown=1",
    ],
)
def test_bad_urls_get_a_message_in_the_page(app: Any, page: ModuleType, search: str) -> None:
    with app.server.test_request_context():
        out = page.update_view("jobs-url", search=search, controls=CONTROLS)
    assert '"data-state": "error"' in text(out["notice"])
    assert out["data"]["rows"] == [] and out["data"]["next"] is None and out["next_disabled"] is True


@pytest.mark.parametrize(
    ("trigger", "controls", "shown", "jump"),
    [
        ("jobs-q", {**CONTROLS, "q": "x" * 101}, None, None),
        ("jobs-status", {**CONTROLS, "status": ["NOPE"]}, None, None),
        ("jobs-page-size", {**CONTROLS, "page_size": "-1"}, None, None),
        ("jobs-created-after", {**CONTROLS, "created_after": "2026-99-99T00:00"}, None, None),
        ("jobs-next", CONTROLS, {"next": 12345}, None),
        ("jobs-next", CONTROLS, "garbage", None),
        ("jobs-jump", CONTROLS, None, "not a date"),
        ("evil-component", CONTROLS, None, None),
    ],
)
def test_bad_control_values_get_a_message_and_leave_the_url(
    app: Any, page: ModuleType, trigger: str, controls: dict[str, Any], shown: Any, jump: Any
) -> None:
    with app.server.test_request_context():
        out = page.update_view(trigger, search="", controls=controls, shown=shown, jump_date=jump)
    assert out["search"] is no_update and out["data"] is no_update
    assert "Some filters are not valid" in text(out["filter_error"])


def test_a_forged_cursor_posted_for_next_is_refused_in_the_page(app: Any, page: ModuleType) -> None:
    with app.server.test_request_context():
        out = page.update_view("jobs-next", search="", controls=CONTROLS, shown={"next": "eyJ4Ijox"})
    assert "no longer valid" in text(out["notice"])


def test_the_callback_ignores_other_pages_and_unset_urls(client: Any) -> None:
    response = post_callback(
        client, "jobs-data.data", {"jobs-url.search": "", "jobs-url.pathname": "/jobs/5"}, triggered=[]
    )
    assert response.status_code == 204  # PreventUpdate


@pytest.mark.parametrize(
    ("values", "triggered"),
    [
        ({"jobs-url.search": {"$ne": None}}, ["jobs-url.search"]),
        ({"jobs-url.search": "?page_size=999999999"}, ["jobs-url.search"]),
        ({"jobs-url.search": "", "jobs-q.value": ["a"] * 1000}, ["jobs-q.value"]),
        ({"jobs-url.search": "", "jobs-status.value": "FAILED' OR 1=1 --"}, ["jobs-status.value"]),
        ({"jobs-url.search": "", "jobs-page-size.value": "1e9"}, ["jobs-page-size.value"]),
        ({"jobs-url.search": "", "jobs-data.data": {"next": "x" * 5000}}, ["jobs-next.n_clicks"]),
    ],
)
def test_hostile_posts_get_a_message_never_a_traceback(
    client: Any, values: dict[str, Any], triggered: list[str]
) -> None:
    values = {"jobs-url.pathname": "/jobs", **values}
    response = post_callback(client, "jobs-data.data", values, triggered=triggered)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert "Traceback" not in body
    assert "not valid" in body or "cannot use" in body


def test_layout_shows_the_url_filters_and_survives_a_bad_url(app: Any, page: ModuleType) -> None:
    with app.server.test_request_context():
        good = text(page.layout(status="FAILED", q="etl"))
        bad = text(page.layout(status="BOGUS", page_size=["1", "2"]))
    assert '"value": ["FAILED"]' in good and '"value": "etl"' in good
    assert "cannot use" in bad and '"data-state": "error"' in bad  # the layout explains what is wrong


def test_jumping_to_a_date_filters_the_created_range_and_shows_it(app: Any, page: ModuleType) -> None:
    with app.server.test_request_context():
        out = page.update_view(
            "jobs-jump", search="?ordering=name", controls=CONTROLS, jump_date="2026-01-05"
        )
    assert out["search"] == "?created_before=2026-01-06T00:00:00+00:00".replace("+", "%2B")
    # Only what the jump changed is shown: the end of the range (the sort is a header, not a control).
    assert out["controls"] == {**dict.fromkeys(CONTROLS, no_update), "created_before": "2026-01-06T00:00:00"}
    with app.server.test_request_context():
        later_start = page.update_view(
            "jobs-jump",
            search="?status=FAILED&created_after=2026-02-01T00:00:00%2B00:00",
            controls=CONTROLS,
            jump_date="2026-01-05",
        )
    # A start after the new end cannot stay: it is cleared in the URL and in its control; the status stays.
    assert later_start["search"] == "?status=FAILED&created_before=2026-01-06T00:00:00%2B00:00"
    assert later_start["controls"]["created_after"] == "" and later_start["controls"]["status"] is no_update


def test_the_url_the_layout_already_shows_is_not_read_again(app: Any, page: ModuleType, client: Any) -> None:
    with app.server.test_request_context():
        shown = page.update_view(None, search="?status=FAILED", controls=CONTROLS)["data"]
    assert shown["search"] == "?status=FAILED"
    assert page.same_query("?status=FAILED", shown) and page.same_query("status=FAILED", shown)
    assert not page.same_query("?status=RUNNING", shown) and not page.same_query("", {"rows": []})
    values = {"jobs-url.pathname": "/jobs", "jobs-url.search": "?status=FAILED", "jobs-data.data": shown}
    same = post_callback(client, "jobs-data.data", values, triggered=["jobs-url.search"])
    assert same.status_code == 204  # nothing to do: the page already shows it
    values["jobs-url.search"] = "?status=RUNNING"
    other = post_callback(client, "jobs-data.data", values, triggered=["jobs-url.search"])
    assert other.status_code == 200 and '"search":"?status=RUNNING"' in other.get_data(as_text=True)


def test_the_stuck_switch_lists_stuck_jobs_most_overdue_first(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    hour = dt.timedelta(hours=1)
    older = job_factory(name="stalled-1", created_at=now - 5 * hour, history=(("RUNNING", now - 4 * hour),))
    newer = job_factory(name="stalled-2", created_at=now - 3 * hour)
    job_factory(name="fresh-1", created_at=now - dt.timedelta(minutes=5))
    job_factory(name="done-1", status="COMPLETED", created_at=now - 9 * hour)
    controls = {**CONTROLS, "stuck": True}
    with app.server.test_request_context():
        # Switched on while sorted by name: the stuck list takes its own order.
        out = page.update_view("jobs-stuck", search="?ordering=name", controls=controls)
        shown = page.update_view("jobs-url", search="?stuck=true&family=stalled", controls=CONTROLS)
        sorted_stuck = page.update_view("jobs-url", search="?stuck=true&ordering=name", controls=CONTROLS)
    assert out["search"] == "?stuck=true"
    assert job_ids(out) == [older["id"], newer["id"]] and out["count"] == "2 jobs"
    assert shown["controls"]["stuck"] is True and shown["controls"]["family"] == "stalled"
    assert job_ids(shown) == [older["id"], newer["id"]]
    assert "most overdue first" in text(sorted_stuck["notice"])
