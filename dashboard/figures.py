"""Plotly figures built from already-aggregated rows (the SQL does the counting; these only draw).

Figures use transparent backgrounds and a neutral grey for text and grid lines, so that one figure reads
well in the light and in the dark theme without being rebuilt when the theme switches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from dash import dcc

from dashboard.components import STATUS_COLORS, format_duration, status_label
from dashboard.timeline import Segment
from db.models import STATUSES

NEUTRAL = "#8a94a6"
GRID = "rgba(138, 148, 166, 0.18)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
GRAPH_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "responsive": True}
BUCKET_LENGTHS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def _base_layout(**overrides: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "color": NEUTRAL, "size": 12},
        "margin": {"l": 48, "r": 16, "t": 8, "b": 36},
        "hoverlabel": {"font": {"family": FONT}},
        "xaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False, "showgrid": False},
        "yaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
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
    layout.update(overrides)
    return layout


def empty_figure(message: str, *, height: int = 320) -> go.Figure:
    """A blank chart that says why it is blank."""
    figure = go.Figure()
    figure.update_layout(
        _base_layout(
            height=height,
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[
                {
                    "text": message,
                    "showarrow": False,
                    "font": {"size": 14, "color": NEUTRAL},
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                }
            ],
        )
    )
    return figure


def created_over_time_figure(
    series: Iterable[Mapping[str, Any]], *, bucket: str, since: dt.datetime, until: dt.datetime
) -> go.Figure:
    """Stacked bars of jobs created per bucket, one colour per (current) status."""
    by_status: dict[str, dict[dt.datetime, int]] = {s: {} for s in STATUSES}
    for row in series:
        if row["status"] in by_status:
            by_status[row["status"]][row["bucket"]] = int(row["count"])
    if not any(by_status.values()):
        return empty_figure("No jobs were created in this period")
    period_ms = BUCKET_LENGTHS[bucket].total_seconds() * 1000
    figure = go.Figure()
    for status in STATUSES:
        points = sorted(by_status[status].items())
        if not points:
            continue
        figure.add_trace(
            go.Bar(
                x=[start for start, _ in points],
                y=[count for _, count in points],
                name=status_label(status),
                marker={"color": STATUS_COLORS[status], "line": {"width": 0}},
                xperiod=period_ms,
                xperiodalignment="middle",
                hovertemplate=f"%{{y:,}} {status_label(status).lower()}<extra></extra>",
            )
        )
    figure.update_layout(_base_layout(height=320, barmode="stack", bargap=0.2, hovermode="x unified"))
    figure.update_xaxes(type="date", range=[since, until])
    figure.update_yaxes(title={"text": f"jobs per {bucket}", "font": {"size": 11}}, showgrid=True)
    return figure


def status_distribution_figure(by_status: Mapping[str, int]) -> go.Figure:
    """A donut of jobs per status, the total in its middle."""
    total = sum(by_status.get(s, 0) for s in STATUSES)
    if total == 0:
        return empty_figure("No jobs in this period")
    figure = go.Figure(
        go.Pie(
            labels=[status_label(s) for s in STATUSES],
            values=[by_status.get(s, 0) for s in STATUSES],
            marker={"colors": [STATUS_COLORS[s] for s in STATUSES], "line": {"width": 0}},
            hole=0.64,
            sort=False,
            direction="clockwise",
            textinfo="none",
            hovertemplate="%{label}: %{value:,} (%{percent})<extra></extra>",
        )
    )
    figure.update_layout(
        _base_layout(
            height=320,
            margin={"l": 8, "r": 8, "t": 8, "b": 8},
            showlegend=True,
            legend={"orientation": "v", "x": 1, "xanchor": "left", "y": 0.5, "yanchor": "middle"},
            annotations=[
                {
                    "text": f"<b>{total:,}</b><br>jobs",
                    "showarrow": False,
                    "font": {"size": 18, "color": NEUTRAL},
                    "x": 0.5,
                    "y": 0.5,
                    "xref": "paper",
                    "yref": "paper",
                }
            ],
        )
    )
    return figure


def status_timeline_figure(segments: Sequence[Segment]) -> go.Figure:
    """A swim-lane timeline: one lane per status, one bar per period the job spent in it."""
    if not segments:
        return empty_figure("This job has no history yet", height=220)
    lanes = [s for s in STATUSES if any(seg.status == s for seg in segments)]
    figure = go.Figure()
    for status in lanes:
        periods = [seg for seg in segments if seg.status == status and seg.duration > dt.timedelta(0)]
        if periods:
            figure.add_trace(
                go.Bar(
                    orientation="h",
                    y=[status_label(status)] * len(periods),
                    x=[seg.duration.total_seconds() * 1000 for seg in periods],
                    base=[seg.start for seg in periods],
                    name=status_label(status),
                    marker={"color": STATUS_COLORS[status], "line": {"width": 0}},
                    customdata=[[format_duration(seg.duration)] for seg in periods],
                    hovertemplate=(
                        "%{y}<br>from %{base|%Y-%m-%d %H:%M:%S} UTC<br>for %{customdata[0]}<extra></extra>"
                    ),
                    showlegend=False,
                )
            )
        # A final status (completed, failed, cancelled) has no length: mark the moment it was reached.
        moments = [seg for seg in segments if seg.status == status and seg.duration == dt.timedelta(0)]
        if moments:
            figure.add_trace(
                go.Scatter(
                    x=[seg.start for seg in moments],
                    y=[status_label(status)] * len(moments),
                    mode="markers",
                    marker={"color": STATUS_COLORS[status], "symbol": "diamond", "size": 14},
                    hovertemplate="%{y}<br>at %{x|%Y-%m-%d %H:%M:%S} UTC<extra></extra>",
                    showlegend=False,
                )
            )
    figure.update_layout(
        _base_layout(
            height=80 + 44 * len(lanes),
            barmode="overlay",
            bargap=0.3,
            margin={"l": 96, "r": 16, "t": 8, "b": 36},
        )
    )
    figure.update_xaxes(type="date", showgrid=True)
    figure.update_yaxes(
        categoryorder="array", categoryarray=[status_label(s) for s in reversed(lanes)], showgrid=False
    )
    return figure
