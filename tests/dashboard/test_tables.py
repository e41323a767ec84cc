"""Paged tables' rows as data: what the browser is sent for each row, and how it is told to draw them."""

from __future__ import annotations

import datetime as dt

import pytest
from dash import html

from dashboard.components import STATUS_COLORS, pager
from dashboard.tables import (
    HISTORY_COLUMNS,
    JOB_COLUMNS,
    Column,
    duration_cell,
    header_cell,
    paged_table,
    render_spec,
    rows_data,
)

T0 = dt.datetime(2026, 1, 31, 14, 5, 9, 123456, tzinfo=dt.UTC)


def test_job_rows_are_plain_json_keyed_by_id_with_utc_times() -> None:
    rows = [
        {
            "id": 7,
            "name": "<b>etl</b>",
            "status": "FAILED",
            "created_at": T0,
            "updated_at": T0.astimezone(dt.timezone(dt.timedelta(hours=2))),
            "duration": 3723.5,
            "ignored": "not a column",
        }
    ]
    assert rows_data(rows, JOB_COLUMNS) == [
        {
            "id": 7,
            "name": "<b>etl</b>",  # text: the browser sets it with textContent, never as HTML
            "status": "FAILED",
            "created_at": "2026-01-31T14:05:09.123456+00:00",
            "updated_at": "2026-01-31T14:05:09.123456+00:00",
            "duration": {"text": "1h 02m", "running": False},
        }
    ]


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (0.0, "0s"),
        (0.423, "0.42s"),
        (12.34, "12.3s"),
        (725, "12m 05s"),
        (11_520, "3h 12m"),
        (187_200, "2d 4h"),
    ],
)
def test_a_finished_job_shows_its_duration_for_people(duration, text) -> None:
    assert duration_cell({"duration": duration, "created_at": T0}) == {"text": text, "running": False}


@pytest.mark.parametrize(
    ("elapsed", "text"),
    [
        (dt.timedelta(seconds=20), "running < 1m"),
        (dt.timedelta(minutes=12, seconds=59), "running 12m"),
        (dt.timedelta(hours=3, minutes=12, seconds=5), "running 3h 12m"),
        (dt.timedelta(days=2, hours=4, minutes=1), "running 2d 4h"),
        (dt.timedelta(hours=-1), "running < 1m"),  # created "in the future" by a skewed clock
    ],
)
def test_an_unfinished_job_shows_its_running_time_so_far(elapsed, text) -> None:
    row = {"duration": None, "created_at": T0}
    assert duration_cell(row, now=T0 + elapsed) == {"text": text, "running": True}


def test_history_rows_keep_a_blank_message_for_the_browser_to_mark() -> None:
    events = [{"id": 3, "status": "RUNNING", "timestamp": T0, "message": None}]
    assert rows_data(events, HISTORY_COLUMNS) == [
        {"id": 3, "status": "RUNNING", "timestamp": "2026-01-31T14:05:09.123456+00:00", "message": None}
    ]


def test_the_spec_says_how_each_column_is_drawn() -> None:
    spec = render_spec("jobs-rows", JOB_COLUMNS, row_class="job-row", row_key="jobId")
    assert spec["body"] == "jobs-rows" and spec["rowClass"] == "job-row" and spec["rowKey"] == "jobId"
    kinds = [(column["key"], column["kind"]) for column in spec["columns"]]
    assert kinds == [
        ("id", "id"),
        ("name", "link"),
        ("status", "status"),
        ("created_at", "time"),
        ("updated_at", "time"),
        ("duration", "duration"),
    ]
    assert spec["columns"][1]["href"] == "/jobs/{id}"
    assert spec["statuses"]["FAILED"] == {
        "color": STATUS_COLORS["FAILED"],
        "icon": "bi-x-octagon",
        "label": "Failed",
    }
    message = render_spec("h", HISTORY_COLUMNS, row_class="history-row", row_key="eventId")["columns"][2]
    assert message["empty"] == "—" and message["emptyClass"] == "text-body-secondary"


def test_a_column_kind_the_browser_cannot_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown column kind"):
        Column("duration", "Duration", "sparkline")


def test_a_paged_table_draws_its_rows_from_its_data_store_and_has_the_pager_below() -> None:
    footer = pager(first=("f", "First"), back=("b", "Back"), forward=("n", "Next"))
    spec = render_spec("t-rows", JOB_COLUMNS, row_class="job-row", row_key="jobId")
    data = {"rows": [{"id": 1}], "next": None, "previous": None}
    card = paged_table(
        prefix="t",
        headers=[header_cell(column) for column in JOB_COLUMNS],
        spec=spec,
        data=data,
        notice=html.Span("nothing here"),
        table_class="table",
        footer=footer,
    )
    body, card_footer = card.children
    loading = body.children
    assert loading.target_components == {"t-data": "data"}  # only the table dims while a page loads
    store, spec_store, rendered, table_box, notice = loading.children.children
    assert (store.id, store.data) == ("t-data", data)
    assert (spec_store.id, spec_store.data) == ("t-spec", spec) and rendered.id == "t-rendered"
    head, rows = table_box.children.children
    cells = head.children.children
    titles = [th.children if isinstance(th.children, str) else th.children[0] for th in cells]
    assert titles == [column.header for column in JOB_COLUMNS]
    # A time column names the zone its times are shown in (UTC without the browser's cookie).
    assert [th.children[1].children for th in cells[3:5]] == ["(UTC)", "(UTC)"]
    assert cells[5].children == "Duration"  # a duration has no zone
    assert rows.id == "t-rows" and getattr(rows, "children", None) is None  # drawn by the browser
    assert notice.id == "t-notice" and notice.children.children == "nothing here"
    assert card_footer.children is footer
