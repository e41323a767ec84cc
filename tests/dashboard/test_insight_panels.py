"""The insight panels: the overview's "as of" control, the transitions heatmap and its flagged list, the
stuck panel, and the job page's comparison of each stay with its family."""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import Any

import pytest

from dashboard.figures import scale_color, transitions_heatmap_figure
from db import lifecycle
from db.errors import ValidationError
from tests.conftest import T0
from tests.dashboard.conftest import text
from tests.dashboard.dash_requests import post_callback

PAGE = "dashboard.pages.insight_panels"
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def overview(app: Any) -> ModuleType:
    import importlib

    return importlib.import_module("dashboard.pages.overview")


# ------------------------------------------------------------------------------------------- as of


def test_as_of_input_is_an_hour_in_the_past_or_now(page: ModuleType) -> None:
    now = dt.datetime(2026, 3, 4, 15, 42, tzinfo=dt.UTC)
    assert page.parse_as_of("", now=now) is None
    assert page.parse_as_of(None, now=now) is None
    assert page.parse_as_of("2026-03-01T03:00", now=now) == dt.datetime(2026, 3, 1, 3, tzinfo=dt.UTC)
    for bad, message in (
        ("2026-03-05T03:00", "must not be in the future"),
        ("yesterday", "must be a date and time"),
        (["2026-03-01T03:00"], "must be text"),
        ("1969-12-31T23:00", "must be after 1970"),
    ):
        with pytest.raises(ValidationError) as caught:
            page.parse_as_of(bad, now=now)
        assert caught.value.errors[0].field == "as_of" and message in caught.value.errors[0].message


def test_mix_title_names_the_hour(page: ModuleType) -> None:
    now = dt.datetime(2026, 3, 4, 15, 42, tzinfo=dt.UTC)
    assert page.mix_title("", now=now) == "Status mix, jobs created in the range"
    assert page.mix_title("2026-03-01T03:25", now=now) == "Status mix, all jobs as of 2026-03-01 03:00 UTC"
    assert page.mix_title("2027-01-01T00:00", now=now) == "Status mix, jobs created in the range"


def test_overview_as_of_moves_the_all_time_totals_not_the_range(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    day = now - dt.timedelta(days=3)
    job_factory(name="etl-1", created_at=day, history=(("RUNNING", day + H), ("COMPLETED", day + 5 * H)))
    job_factory(name="etl-2", created_at=day + 3 * H, history=(("RUNNING", day + 4 * H),))
    job_factory(name="etl-3", created_at=now - H)
    at = (day + 2 * H).replace(minute=0, second=0, microsecond=0) + H  # inside etl-1's run, after etl-1 began
    with app.server.test_request_context():
        kpis, _created, distribution, _failures, subtitle, error = overview(app).update_overview(
            "7d", None, as_of_input=f"{at:%Y-%m-%dT%H:%M}"
        )
        now_kpis, *_rest = overview(app).update_overview("7d", None, as_of_input="")
    assert error is None
    rendered = text(kpis)
    # The cards' figures (jobs created in the 7 days) stay: 3; the totals are those of that hour.
    assert '"3"' in rendered
    hour = f"as of {at:%Y-%m-%d %H}:00 UTC"
    assert f"1 all time, {hour}" in rendered  # all jobs then: etl-1 only (etl-2 came later)
    assert distribution["data"][0]["values"] == [0, 1, 0, 0, 0]
    assert f"all-time figures {hour}" in subtitle
    assert "3 all time" in text(now_kpis) and "as of" not in text(now_kpis)


def test_as_of_in_the_future_is_refused_in_the_page(client: Any) -> None:
    response = post_callback(
        client,
        "overview-kpis.children",
        {"overview-range.value": "7d", "overview-as-of-time.value": "2999-01-01T00:00"},
        triggered=["overview-as-of-time.value"],
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "as_of" in body and "must not be in the future" in body


def test_now_button_clears_the_as_of_time(client: Any) -> None:
    response = post_callback(
        client,
        "overview-as-of-time.value",
        {"overview-as-of-now.n_clicks": 1},
        triggered=["overview-as-of-now.n_clicks"],
    )
    assert response.status_code == 200
    assert response.get_json()["response"]["overview-as-of-time"]["value"] == ""


# ------------------------------------------------------------------------------------- transitions


def test_heatmap_cells_counts_and_flags() -> None:
    counts = {("PENDING", "RUNNING"): 10, ("RUNNING", "COMPLETED"): 1000, ("COMPLETED", "RUNNING"): 2}
    fig = transitions_heatmap_figure(counts, lifecycle.allowed)
    frame, grid, flags = fig["data"]
    assert frame["x"] == ["Pending", "Running", "Completed", "Failed", "Cancelled"]
    cells = dict(zip(zip(grid["y"], grid["x"], strict=True), grid["text"], strict=True))
    assert cells == {
        ("Pending", "Running"): "10",
        ("Running", "Completed"): "1,000",
        ("Completed", "Running"): "2",
    }
    assert (flags["y"], flags["x"], flags["customdata"]) == (["Completed"], ["Running"], ["2"])
    assert "not allowed" in flags["hovertemplate"]
    # The biggest count gets the darkest fill and white text.
    biggest = grid["text"].index("1,000")
    assert grid["marker"]["color"][biggest] == "#0a3d91" and grid["textfont"]["color"][biggest] == "#ffffff"
    assert len(transitions_heatmap_figure({("PENDING", "RUNNING"): 3}, lifecycle.allowed)["data"]) == 2
    empty = transitions_heatmap_figure({}, lifecycle.allowed)
    assert empty["layout"]["annotations"][0]["text"] == "No transitions in this period"


def test_scale_colors_read_on_their_fill() -> None:
    assert scale_color(0) == ("#cfe2ff", "#10233f")
    assert scale_color(1) == ("#0a3d91", "#ffffff")
    assert scale_color(2) == scale_color(1) and scale_color(-1) == scale_color(0)


def test_transitions_callback_sums_families_and_lists_the_flagged(
    app: Any, page: ModuleType, job_factory: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=2)
    job_factory(
        name="etl-1", created_at=start, history=(("RUNNING", start + H), ("COMPLETED", start + 2 * H))
    )
    job_factory(name="sync-1", created_at=start, history=(("RUNNING", start + H),))
    bad = job_factory(
        name="sync-2",
        status="RUNNING",
        created_at=start,
        history=(("COMPLETED", start + H), ("RUNNING", start + 2 * H)),
    )
    with app.server.test_request_context():
        fig, listing, options, note = page.update_transitions("7d", "", None)
        only, only_listing, _options, _note = page.update_transitions("7d", "etl", None)
    grid = fig["data"][1]
    cells = dict(zip(zip(grid["y"], grid["x"], strict=True), grid["text"], strict=True))
    assert (
        cells[("Pending", "Running")] == "2"
        and cells[("Running", "Completed")] == "2"
        and cells[("Completed", "Running")] == "1"
    )
    assert fig["data"][2]["y"] == ["Completed"]
    rendered = text(listing)
    assert f'"href": "/jobs/{bad["id"]}"' in rendered and "Completed → Running" in rendered
    assert "/api/insights/transitions/disallowed/?since=" in rendered
    assert [o["value"] for o in options] == ["", "etl", "sync", "other"]
    assert "Up to 1,000 families are tracked" in note
    assert len(only["data"]) == 2  # etl alone: nothing flagged
    assert "No disallowed transitions" in text(only_listing)


def test_transitions_callback_refuses_bad_input(app: Any, page: ModuleType) -> None:
    with app.server.test_request_context():
        fig, alert, _options, _note = page.update_transitions({"$where": 1}, "", None)
        _fig, long_family, _options, _note = page.update_transitions("7d", "x" * 300, None)
    assert "These transitions are not available" in text(alert)
    assert fig["layout"]["annotations"][0]["text"] == "No data"
    assert "family" in text(long_family)


# ------------------------------------------------------------------------------------------- stuck


def test_stuck_panel_shows_overrun_and_links(app: Any, page: ModuleType, job_factory: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    stuck = job_factory(name="stalled-7", created_at=now - 3 * H, history=(("RUNNING", now - 2 * H),))
    job_factory(name="fresh-1", created_at=now - 10 * M)
    with app.server.test_request_context():
        panel = page.update_stuck(None)
    rendered = text(panel)
    assert f'"href": "/jobs/{stuck["id"]}"' in rendered and "stalled-7" in rendered
    assert '"/jobs?family=stalled&stuck=true"' in rendered
    assert '"+1h 00m"' in rendered or '"+59m' in rendered  # 2 h running against the one-hour floor
    assert '"1h 00m"' in rendered and "fresh-1" not in rendered
    assert "The 1 most overdue." in rendered


def test_stuck_panel_when_nothing_is_stuck(page: ModuleType) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert "Nothing is stuck" in text(page.build_stuck([], now=now, more=False, cap=10))
    row = {
        "id": 5,
        "name": "<b>x</b>",
        "family": "x",
        "status": "PENDING",
        "status_since": now - 3 * H,
        "threshold": H,
        "overrun": 2 * H,
    }
    rendered = text(page.build_stuck([row], now=now, more=True, cap=10))
    assert '"children": "<b>x</b>"' in rendered and '"+2h 00m"' in rendered and '"3h 00m"' in rendered
    assert "more in the full list" in rendered and "Up to 10 families" in rendered


# ---------------------------------------------------------------------------------------- job page


def event(number: int, status: str, at: dt.datetime) -> dict[str, Any]:
    return {"id": number, "status": status, "timestamp": at}


def test_job_stays_merge_progress_and_leave_out_the_final_status(page: ModuleType) -> None:
    events = [
        event(4, "COMPLETED", T0 + 5 * H),
        event(1, "PENDING", T0),
        event(3, "RUNNING", T0 + 3 * H),  # progress: the same stay
        event(2, "RUNNING", T0 + H),
    ]
    stays = page.job_stays(events, now=T0 + 10 * H)
    assert [(s["status"], s["seconds"], s["ongoing"]) for s in stays] == [
        ("PENDING", 3600, False),
        ("RUNNING", 4 * 3600, False),
    ]
    ongoing = page.job_stays(events[1:], now=T0 + 10 * H)
    assert ongoing[-1] == {"status": "RUNNING", "since": T0 + H, "seconds": 9 * 3600, "ongoing": True}
    retried = page.job_stays([event(1, "FAILED", T0), event(2, "PENDING", T0 + M)], now=T0 + H)
    assert [s["status"] for s in retried] == ["FAILED", "PENDING"]


@pytest.mark.parametrize(
    ("seconds", "verdict"), [(10, "typical"), (50, "typical"), (60, "above"), (120, "slow")]
)
def test_compare_with_the_family(page: ModuleType, seconds: float, verdict: str) -> None:
    assert page.compare(seconds, 50, 100) == verdict
    assert page.compare(seconds, None, None) == "unknown"


def test_family_comparison_card(page: ModuleType) -> None:
    stays = [
        {"status": "PENDING", "since": T0, "seconds": 30, "ongoing": False},
        {"status": "RUNNING", "since": T0, "seconds": 900, "ongoing": True},
    ]
    percentiles = {"PENDING": {"p50": 60, "p95": 120}, "RUNNING": {"p50": 120, "p95": 300}}
    window = (T0, T0 + dt.timedelta(days=35))
    rendered = text(page.build_family_comparison(stays, percentiles, family="etl", window=window, cap=5))
    assert '"href": "/jobs?family=etl"' in rendered and "Slower than 95 % of its family" in rendered
    assert (
        "15m 00s so far" in rendered
        and "Within the usual" in rendered
        and "2026-01-01 to 2026-02-04" in rendered
    )
    assert "Up to 5 families" not in rendered
    other = text(page.build_family_comparison([], {}, family="other", window=window, cap=5))
    assert "Up to 5 families are tracked" in other and "No stays to compare" in other


def test_job_page_shows_its_family_and_the_comparison(app: Any, job_factory: Any) -> None:
    import importlib

    job_page = importlib.import_module("dashboard.pages.job")
    now = dt.datetime.now(dt.UTC)
    for i in range(3):
        job_factory(
            name=f"etl-{i}",
            created_at=now - 5 * H,
            history=(("RUNNING", now - 5 * H + M), ("COMPLETED", now - 4 * H)),
        )
    job = job_factory(name="etl-9", created_at=now - 3 * H, history=(("RUNNING", now - 3 * H + M),))
    with app.server.test_request_context():
        rendered = text(job_page.layout(job_id=str(job["id"])))
    assert '"id": "job-family"' in rendered and '"href": "/jobs?family=etl"' in rendered
    assert '"id": "job-family-comparison"' in rendered
    # Running for about three hours against the family's runs of about an hour.
    assert "Slower than 95 % of its family" in rendered and "so far" in rendered
