"""Plotly figures built from already-aggregated rows (the SQL does the counting; these only draw), and the
charts that show them.

Figures are plain dicts (``{"data": [...], "layout": {...}}``), which is all ``dcc.Graph`` needs: building
``plotly.graph_objects`` would validate every property on every answer, which cost the overview most of
its time. They carry no plotly template (plotly's default one is ~7 KB per figure): ``THEME`` below is
the whole look, transparent backgrounds and a neutral grey for text and grid lines, so one figure reads
well in the light and in the dark theme without being rebuilt when the theme switches. Times are sent as
wall-clock text (``2026-01-31 14:05:09``) in the zone the chart says it shows (UTC unless told), which
is how plotly.js reads dates: it has no time zones of its own.

A :func:`chart` draws its figure in the browser as SVG (``assets/jobdash-charts.js``), from the same dict:
a page with charts then loads no plotly.js, whose download, parsing and first drawing kept the browser
busy for most of a second on every load. Bars, pies, scatter markers and lines and heatmaps are drawn
there, with their hover texts and a text alternative; a figure with another trace type is drawn by
plotly.js, loaded for it then. ``dcc.Graph(figure=...)`` still takes any of these figures as it is.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dash import ClientsideFunction, Input, Output, dcc, html

from dashboard.components import STATUS_COLORS, format_duration, html_attributes, status_label
from dashboard.local_time import is_utc, zone_abbreviation
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


def plotly_time(value: dt.datetime, zone: dt.tzinfo = dt.UTC) -> str:
    """An aware datetime as text plotly.js reads as a date: its wall-clock time in ``zone``."""
    return value.astimezone(zone).isoformat(" ", "seconds")[:19]


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
    series: Iterable[Mapping[str, Any]],
    *,
    bucket: Bucket,
    since: dt.datetime,
    until: dt.datetime,
    zone: dt.tzinfo = dt.UTC,
) -> Figure:
    """Stacked bars of jobs created per bucket, one colour per (current) status.

    Hours are drawn in ``zone``; days are UTC days whatever the zone (the count tables hold UTC days), and
    the axis says which."""
    zone = zone if bucket == "hour" else dt.UTC
    axis_title = f"{bucket}s in {'UTC' if is_utc(zone) else zone}"
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
                "x": [plotly_time(start, zone) for start, _ in points],
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
        margin={**THEME["margin"], "b": 52},
        hovermode="x unified",
        xaxis={
            **AXIS,
            "type": "date",
            "range": [plotly_time(since, zone), plotly_time(until, zone)],
            "showgrid": False,
            "title": {"text": axis_title, "font": {"size": 11}, "standoff": 4},
        },
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


def status_timeline_figure(segments: Sequence[Segment], zone: dt.tzinfo = dt.UTC) -> Figure:
    """A swim-lane timeline: one lane per status, one bar per period the job spent in it, in ``zone``."""
    name = zone_abbreviation(zone)
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
                    "base": [plotly_time(seg.start, zone) for seg in periods],
                    "name": label,
                    "marker": {"color": STATUS_COLORS[status], "line": {"width": 0}},
                    "customdata": [[format_duration(seg.duration)] for seg in periods],
                    "hovertemplate": (
                        f"%{{y}}<br>from %{{base|%Y-%m-%d %H:%M:%S}} {name}"
                        "<br>for %{customdata[0]}<extra></extra>"
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
                    "x": [plotly_time(seg.start, zone) for seg in moments],
                    "y": [label] * len(moments),
                    "mode": "markers",
                    "marker": {"color": STATUS_COLORS[status], "symbol": "diamond", "size": 14},
                    "hovertemplate": f"%{{y}}<br>at %{{x|%Y-%m-%d %H:%M:%S}} {name}<extra></extra>",
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


# The transitions heatmap, drawn as a grid of square markers (the bundled plotly.js has no heatmap trace,
# and a 5 x 5 grid needs none): opaque blues, so each cell's text colour is chosen against its own fill
# in either theme; the colour on a log scale (progress events outnumber every other transition); the
# cells the lifecycle does not allow outlined in the failure colour.
HEATMAP_SCALE = ((0.0, (207, 226, 255)), (0.5, (110, 168, 254)), (1.0, (10, 61, 145)))
FLAG_COLOR = STATUS_COLORS["FAILED"]
HEATMAP_HEIGHT = 320
CELL_SIZE = 46  # pixels: five cells and their gaps fit the chart's height


def scale_color(fraction: float) -> tuple[str, str]:
    """The fill on HEATMAP_SCALE at ``fraction`` (0 to 1) and a text colour that reads on it."""
    fraction = min(1.0, max(0.0, fraction))
    for (low, a), (high, b) in itertools.pairwise(HEATMAP_SCALE):
        if fraction <= high:
            t = (fraction - low) / (high - low)
            rgb = tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
            break
    luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#10233f" if luminance > 0.6 else "#ffffff"


def transitions_heatmap_figure(counts: Mapping[tuple[str, str], int], allowed: Any) -> Figure:
    """Transitions from (rows) -> to (columns) between statuses, each cell its count; a transition the
    lifecycle does not allow (``allowed(from, to)`` is false) that happened is outlined and named so."""
    cells = sorted(((b, a), n) for (b, a), n in counts.items() if n and b in STATUSES and a in STATUSES)
    if not cells:
        return empty_figure("No transitions in this period", height=HEATMAP_HEIGHT)
    labels = [status_label(s) for s in STATUSES]
    top = math.log10(1 + max(n for _, n in cells))
    colors = [scale_color(math.log10(1 + n) / top if top else 1.0) for _, n in cells]
    grid: dict[str, Any] = {
        "type": "scatter",
        "mode": "markers+text",
        "x": [status_label(a) for (_, a), _ in cells],
        "y": [status_label(b) for (b, _), _ in cells],
        "text": [f"{n:,}" for _, n in cells],
        "textposition": "middle center",
        "textfont": {"color": [text for _, text in colors], "size": 11},
        "marker": {"symbol": "square", "size": CELL_SIZE, "color": [fill for fill, _ in colors]},
        "hovertemplate": "%{y} → %{x}: %{text}<extra></extra>",
        "showlegend": False,
        "cliponaxis": False,
    }
    # Every status on both axes, whichever transitions there were.
    frame: dict[str, Any] = {"type": "scatter", "mode": "markers", "x": labels, "y": labels}
    frame |= {"marker": {"opacity": 0}, "hoverinfo": "skip", "showlegend": False}
    flagged = [(pair, n) for pair, n in cells if not allowed(*pair)]
    traces = [frame, grid]
    if flagged:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [status_label(a) for (_, a), _ in flagged],
                "y": [status_label(b) for (b, _), _ in flagged],
                "marker": {
                    "symbol": "square-open",
                    "size": CELL_SIZE + 6,
                    "color": FLAG_COLOR,
                    "line": {"width": 3, "color": FLAG_COLOR},
                },
                "customdata": [f"{n:,}" for _, n in flagged],
                "hovertemplate": "%{y} → %{x}: %{customdata}, not allowed by the lifecycle<extra></extra>",
                "showlegend": False,
                "cliponaxis": False,
            }
        )
    axis = {**AXIS, "type": "category", "showgrid": False, "fixedrange": True, "showline": False}
    return figure(
        traces,
        height=HEATMAP_HEIGHT,
        margin={"l": 96, "r": 24, "t": 24, "b": 56},
        xaxis={
            **axis,
            "title": {"text": "to", "font": {"size": 11}},
            "categoryorder": "array",
            "categoryarray": labels,
            "range": [-0.5, len(labels) - 0.5],
            "side": "bottom",
        },
        yaxis={
            **axis,
            "title": {"text": "from", "font": {"size": 11}},
            "categoryorder": "array",
            "categoryarray": list(reversed(labels)),
            "range": [-0.5, len(labels) - 0.5],
        },
    )
