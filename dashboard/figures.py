"""Plotly figures built from already-aggregated rows (the SQL does the counting; these only draw), and the
charts that show them.

Figures are plain dicts (``{"data": [...], "layout": {...}}``), which is all ``dcc.Graph`` needs: building
``plotly.graph_objects`` would validate every property on every answer, which cost the overview most of
its time. They carry no plotly template (plotly's default one is ~7 KB per figure): ``THEME`` below is
the whole look, transparent backgrounds and a neutral grey for text and grid lines, so one figure reads
well in the light and in the dark theme without being rebuilt when the theme switches. Times are sent as
UTC text (``2026-01-31 14:05:09``), which is how plotly.js reads dates.

A :func:`chart` draws its figure in the browser as SVG (``assets/jobdash-charts.js``), from the same dict:
a page with charts then loads no plotly.js, whose download, parsing and first drawing kept the browser
busy for most of a second on every load. Bars, pies, scatter markers and lines and heatmaps are drawn
there, with their hover texts and a text alternative; a figure with another trace type is drawn by
plotly.js, loaded for it then. ``dcc.Graph(figure=...)`` still takes any of these figures as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dash import ClientsideFunction, Input, Output, dcc, html

from dashboard.components import STATUS_COLORS, format_duration, html_attributes, status_label
from dashboard.pages import PageCallbacks
from dashboard.timeline import Segment
from db.models import STATUSES
from db.queries import BUCKETS, Bucket

Figure = dict[str, Any]
NEUTRAL = "#8a94a6"
GRID = "rgba(138, 148, 166, 0.18)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
GRAPH_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "responsive": True}
CHART_HEIGHT = 320  # the overview's charts, in pixels
# The shared look of every figure (the layout keys a figure does not set itself).
THEME: dict[str, Any] = {
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": FONT, "color": NEUTRAL, "size": 12},
    "margin": {"l": 48, "r": 16, "t": 8, "b": 36},
    "hoverlabel": {"font": {"family": FONT}},
    "legend": {
        "orientation": "h",
        "x": 0,
        "y": 1.02,
        "xanchor": "left",
        "yanchor": "bottom",
        "traceorder": "normal",
    },
    "uirevision": "keep",
}
AXIS = {"gridcolor": GRID, "linecolor": GRID, "zeroline": False}


def figure_store(chart_id: str) -> str:
    """The id of the store holding chart ``chart_id``'s figure: a callback redraws the chart by answering
    ``Output(figure_store(chart_id), "data")`` with a figure."""
    return f"{chart_id}-figure"


def chart(chart_id: str, figure: Figure, *, label: str, height: int) -> html.Div:
    """A chart of ``figure`` drawn in the browser, ``height`` pixels tall from the start (nothing moves
    when it is drawn); ``label`` names it for screen readers, which also hear its figures."""
    return html.Div(
        [
            dcc.Store(id=figure_store(chart_id), data=figure),
            dcc.Store(id=f"{chart_id}-drawn"),
            html.Div(
                id=chart_id,
                className="chart",
                style={"height": f"{height}px"},
                **html_attributes(data_label=label),
            ),
        ]
    )


def chart_callback(callbacks: PageCallbacks, chart_id: str) -> None:
    """Record, for a page, the clientside callback drawing chart ``chart_id`` whenever its figure changes."""
    callbacks.clientside_callback(
        ClientsideFunction("charts", "draw"),
        Output(f"{chart_id}-drawn", "data"),
        Input(figure_store(chart_id), "data"),
    )


def plotly_time(value: dt.datetime) -> str:
    """An aware datetime as UTC text plotly.js reads as a date."""
    return value.astimezone(dt.UTC).isoformat(" ", "seconds")[:19]


def figure(data: list[dict[str, Any]], **layout: Any) -> Figure:
    """A figure of ``data`` in the shared look, ``layout`` on top of it."""
    return {"data": data, "layout": {**THEME, **layout}}


def empty_figure(message: str, *, height: int = CHART_HEIGHT) -> Figure:
    """A blank chart that says why it is blank."""
    note = {
        "text": message,
        "showarrow": False,
        "font": {"size": 14, "color": NEUTRAL},
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": 0.5,
    }
    return figure([], height=height, xaxis={"visible": False}, yaxis={"visible": False}, annotations=[note])


def created_over_time_figure(
    series: Iterable[Mapping[str, Any]], *, bucket: Bucket, since: dt.datetime, until: dt.datetime
) -> Figure:
    """Stacked bars of jobs created per bucket, one colour per (current) status."""
    by_status: dict[str, dict[dt.datetime, int]] = {s: {} for s in STATUSES}
    for row in series:
        if row["status"] in by_status:
            by_status[row["status"]][row["bucket"]] = int(row["count"])
    if not any(by_status.values()):
        return empty_figure("No jobs were created in this period")
    period_ms = BUCKETS[bucket].total_seconds() * 1000
    traces = []
    for status in STATUSES:
        points = sorted(by_status[status].items())
        if not points:
            continue
        traces.append(
            {
                "type": "bar",
                "x": [plotly_time(start) for start, _ in points],
                "y": [count for _, count in points],
                "name": status_label(status),
                "marker": {"color": STATUS_COLORS[status], "line": {"width": 0}},
                "xperiod": period_ms,
                "xperiodalignment": "middle",
                "hovertemplate": f"%{{y:,}} {status_label(status).lower()}<extra></extra>",
            }
        )
    return figure(
        traces,
        height=CHART_HEIGHT,
        barmode="stack",
        bargap=0.2,
        hovermode="x unified",
        xaxis={**AXIS, "type": "date", "range": [plotly_time(since), plotly_time(until)], "showgrid": False},
        yaxis={**AXIS, "title": {"text": f"jobs per {bucket}", "font": {"size": 11}}, "showgrid": True},
    )


def status_distribution_figure(by_status: Mapping[str, int]) -> Figure:
    """A donut of jobs per status, the total in its middle."""
    total = sum(by_status.get(s, 0) for s in STATUSES)
    if total == 0:
        return empty_figure("No jobs in this period")
    donut = {
        "type": "pie",
        "labels": [status_label(s) for s in STATUSES],
        "values": [by_status.get(s, 0) for s in STATUSES],
        "marker": {"colors": [STATUS_COLORS[s] for s in STATUSES], "line": {"width": 0}},
        "hole": 0.64,
        "sort": False,
        "direction": "clockwise",
        "textinfo": "none",
        "hovertemplate": "%{label}: %{value:,} (%{percent})<extra></extra>",
    }
    middle = {
        "text": f"<b>{total:,}</b><br>jobs",
        "showarrow": False,
        "font": {"size": 18, "color": NEUTRAL},
        "x": 0.5,
        "y": 0.5,
        "xref": "paper",
        "yref": "paper",
    }
    return figure(
        [donut],
        height=CHART_HEIGHT,
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        showlegend=True,
        legend={"orientation": "v", "x": 1, "xanchor": "left", "y": 0.5, "yanchor": "middle"},
        annotations=[middle],
    )


def timeline_height(segments: Sequence[Segment]) -> int:
    """The timeline's height in pixels: one lane per status the job has been in."""
    if not segments:
        return 220
    return 80 + 44 * len({segment.status for segment in segments})


def status_timeline_figure(segments: Sequence[Segment]) -> Figure:
    """A swim-lane timeline: one lane per status, one bar per period the job spent in it."""
    if not segments:
        return empty_figure("This job has no history yet", height=timeline_height(segments))
    lanes = [s for s in STATUSES if any(seg.status == s for seg in segments)]
    traces: list[dict[str, Any]] = []
    for status in lanes:
        label = status_label(status)
        periods = [seg for seg in segments if seg.status == status and seg.duration > dt.timedelta(0)]
        if periods:
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": [label] * len(periods),
                    "x": [seg.duration.total_seconds() * 1000 for seg in periods],
                    "base": [plotly_time(seg.start) for seg in periods],
                    "name": label,
                    "marker": {"color": STATUS_COLORS[status], "line": {"width": 0}},
                    "customdata": [[format_duration(seg.duration)] for seg in periods],
                    "hovertemplate": (
                        "%{y}<br>from %{base|%Y-%m-%d %H:%M:%S} UTC<br>for %{customdata[0]}<extra></extra>"
                    ),
                    "showlegend": False,
                }
            )
        # A final status (completed, failed, cancelled) has no length: mark the moment it was reached.
        moments = [seg for seg in segments if seg.status == status and seg.duration == dt.timedelta(0)]
        if moments:
            traces.append(
                {
                    "type": "scatter",
                    "x": [plotly_time(seg.start) for seg in moments],
                    "y": [label] * len(moments),
                    "mode": "markers",
                    "marker": {"color": STATUS_COLORS[status], "symbol": "diamond", "size": 14},
                    "hovertemplate": "%{y}<br>at %{x|%Y-%m-%d %H:%M:%S} UTC<extra></extra>",
                    "showlegend": False,
                }
            )
    return figure(
        traces,
        height=timeline_height(segments),
        barmode="overlay",
        bargap=0.3,
        margin={"l": 96, "r": 16, "t": 8, "b": 36},
        xaxis={**AXIS, "type": "date", "showgrid": True},
        yaxis={
            **AXIS,
            "categoryorder": "array",
            "categoryarray": [status_label(s) for s in reversed(lanes)],
            "showgrid": False,
        },
    )
