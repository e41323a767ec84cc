"""Figures are drawn from aggregated rows only, in the status colours, readable in both themes."""

from __future__ import annotations

import datetime as dt
import json

from dashboard.components import STATUS_COLORS
from dashboard.figures import (
    chart,
    created_over_time_figure,
    empty_figure,
    figure_store,
    status_distribution_figure,
    status_timeline_figure,
    timeline_height,
)
from dashboard.timeline import Segment

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_created_over_time_stacks_one_trace_per_status_in_its_colour() -> None:
    series = [
        {"bucket": T0, "status": "FAILED", "count": 2},
        {"bucket": T0, "status": "COMPLETED", "count": 5},
        {"bucket": T0 + dt.timedelta(days=1), "status": "COMPLETED", "count": 1},
    ]
    figure = created_over_time_figure(series, bucket="day", since=T0, until=T0 + dt.timedelta(days=2))
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert list(traces) == ["Completed", "Failed"]  # the status set's order, absent statuses left out
    assert traces["Completed"]["y"] == [5, 1]
    assert traces["Completed"]["x"] == ["2026-01-01 00:00:00", "2026-01-02 00:00:00"]  # UTC text
    assert traces["Failed"]["marker"]["color"] == STATUS_COLORS["FAILED"]
    assert figure["layout"]["barmode"] == "stack"
    assert figure["layout"]["paper_bgcolor"] == "rgba(0,0,0,0)"  # transparent: works on light and dark
    assert "template" not in figure["layout"]  # no plotly template repeated in every answer
    json.dumps(figure)  # plain JSON: nothing for plotly to build or validate


def test_empty_series_gives_a_chart_that_says_so() -> None:
    figure = created_over_time_figure([], bucket="hour", since=T0, until=T0 + dt.timedelta(hours=1))
    assert not figure["data"] and "No jobs" in figure["layout"]["annotations"][0]["text"]
    assert "nothing" in empty_figure("nothing")["layout"]["annotations"][0]["text"]


def test_distribution_is_a_donut_with_the_total_in_the_middle() -> None:
    figure = status_distribution_figure({"COMPLETED": 3, "FAILED": 1})
    assert figure["data"][0]["values"] == [0, 0, 3, 1, 0]
    assert "4" in figure["layout"]["annotations"][0]["text"]
    assert not status_distribution_figure({})["data"]


def test_timeline_has_bars_for_periods_and_a_marker_for_the_final_status() -> None:
    segments = [
        Segment("PENDING", T0, T0 + dt.timedelta(minutes=1), False),
        Segment("RUNNING", T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=9), False),
        Segment("FAILED", T0 + dt.timedelta(minutes=9), T0 + dt.timedelta(minutes=9), False),
    ]
    figure = status_timeline_figure(segments)
    kinds = [(trace["type"], trace["y"][0]) for trace in figure["data"]]
    assert kinds == [("bar", "Pending"), ("bar", "Running"), ("scatter", "Failed")]
    assert figure["data"][1]["x"][0] == 8 * 60 * 1000
    assert figure["layout"]["height"] == timeline_height(segments) == 80 + 44 * 3
    assert not status_timeline_figure([])["data"]


def test_a_chart_holds_its_figure_as_data_in_a_box_of_its_height() -> None:
    figure = empty_figure("Loading…", height=240)
    store, drawn, box = chart("c", figure, label="Jobs per day", height=240).children
    assert (store.id, store.data) == (figure_store("c"), figure)  # a callback answers the store's data
    assert drawn.id == "c-drawn"
    assert box.id == "c" and box.style == {"height": "240px"}  # reserved before the browser draws it
    assert box.to_plotly_json()["props"]["data-label"] == "Jobs per day"  # names the SVG for screen readers
