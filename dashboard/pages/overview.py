"""``/``: totals per status, jobs created over time by status, the status mix and the latest failures.

Every figure comes from the count tables (db/aggregates.py): the callback costs the same at any size."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from dashboard.components import (
    describe_total,
    empty_state,
    error_state,
    format_duration,
    format_timestamp,
    page_header,
    stat_card,
    status_label,
)
from dashboard.database import get_database
from dashboard.figures import (
    CHART_HEIGHT,
    chart,
    chart_callback,
    created_over_time_figure,
    empty_figure,
    figure_store,
    status_distribution_figure,
)
from dashboard.pages import PageCallbacks, database_error_state
from db.errors import ValidationError
from db.models import STATUSES
from db.queries import Bucket, Totals, bucket_end, created_timeseries, recent_failures, status_totals

log = logging.getLogger(__name__)
callbacks = PageCallbacks()

FAILURES_SHOWN = 10


class TimeRange(NamedTuple):
    """A choice of the range selector: how far back, and the bucket that gives a readable chart."""

    label: str
    span: dt.timedelta
    bucket: Bucket


RANGES: dict[str, TimeRange] = {
    "24h": TimeRange("24 hours", dt.timedelta(hours=24), "hour"),
    "7d": TimeRange("7 days", dt.timedelta(days=7), "hour"),
    "30d": TimeRange("30 days", dt.timedelta(days=30), "day"),
    "90d": TimeRange("90 days", dt.timedelta(days=90), "day"),
    "1y": TimeRange("1 year", dt.timedelta(days=365), "day"),
}
DEFAULT_RANGE = "30d"


def time_window(range_key: object, *, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, Bucket]:
    """``(since, until, bucket)`` for a range choice, aligned to whole buckets and ending after ``now``."""
    if not isinstance(range_key, str) or range_key not in RANGES:
        raise ValidationError.single("range", f"must be one of {', '.join(RANGES)}")
    choice = RANGES[range_key]
    until = bucket_end(now, choice.bucket)
    return until - choice.span, until, choice.bucket


def counts_by_status(series: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Jobs per status summed over a created-over-time series."""
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for row in series:
        counts[row["status"]] = counts.get(row["status"], 0) + int(row["count"])
    return counts


def build_kpis(in_range: Mapping[str, int], totals: Totals | None) -> dbc.Row:
    """One card for everything created in the range, one per status; all-time totals underneath.

    Without ``totals`` (before the first answer) the cards are placeholders of the same size, so that
    nothing below them moves when the figures arrive.
    """

    def figures(count: int, total: int) -> tuple[str, str]:
        if totals is None:
            return "…", "\u00a0"
        return f"{count:,}", f"{describe_total(total, exact=totals.exact)} all time"

    value, caption = figures(sum(in_range.values()), totals.total if totals else 0)
    cards = [stat_card("All jobs", value, caption=caption)]
    for status in STATUSES:
        value, caption = figures(in_range.get(status, 0), totals.by_status.get(status, 0) if totals else 0)
        cards.append(stat_card(status_label(status), value, caption=caption, status=status))
    return dbc.Row([dbc.Col(card, xs=6, md=4, xl=2) for card in cards], className="g-3")


def build_failures(rows: Iterable[Mapping[str, Any]], *, now: dt.datetime) -> html.Div:
    """The latest failures, each linking to its job (names are shown as text, never as HTML)."""
    items = [
        html.Tr(
            [
                html.Td(
                    [
                        dcc.Link(
                            row["name"], href=f"/jobs/{int(row['id'])}", className="job-link stretched-link"
                        ),
                        html.Span(
                            f"#{int(row['id'])}", className="text-body-secondary font-monospace small ms-2"
                        ),
                    ],
                    className="name-cell",
                ),
                html.Td(
                    f"failed {format_duration(now - row['updated_at'])} ago",
                    title=f"{format_timestamp(row['updated_at'])} UTC",
                    className="time-cell text-end",
                ),
            ],
            className="failure-row",
        )
        for row in rows
    ]
    if not items:
        return empty_state("No failures", "No job failed in this period.", icon="bi-emoji-smile")
    return html.Div(
        html.Table(html.Tbody(items), className="table table-hover align-middle mb-0 failures-table"),
        className="table-responsive",
    )


def _range_controls() -> html.Div:
    """The range choices (remembered for the browser session) and a refresh button."""
    range_picker = dbc.RadioItems(
        id="overview-range",
        options=[{"label": key, "value": key} for key in RANGES],
        value=DEFAULT_RANGE,
        inline=True,
        className="btn-group segmented",
        input_class_name="btn-check",
        label_class_name="btn btn-outline-secondary btn-sm",
        label_checked_class_name="active",
        persistence=True,
        persistence_type="session",
    )
    refresh = dbc.Button(
        html.I(className="bi bi-arrow-clockwise"),
        id="overview-refresh",
        color="secondary",
        outline=True,
        size="sm",
        title="Refresh",
        className="ms-2",
    )
    return html.Div([range_picker, refresh], className="d-flex align-items-center")


def _chart_card(title: str, chart_id: str, figure: dict[str, Any], *, width: int) -> dbc.Col:
    """A titled chart (its height reserved, so nothing moves when the browser draws it)."""
    graph = chart(chart_id, figure, label=title, height=CHART_HEIGHT)
    card = dbc.Card([dbc.CardHeader(title), dbc.CardBody(graph)], className="h-100 shadow-sm")
    return dbc.Col(card, lg=width)


def _failures_card(failures: Any) -> dbc.Card:
    """The latest failures, with a link to all of them."""
    all_failures = dcc.Link(
        ["All failures ", html.I(className="bi bi-arrow-right")],
        href="/jobs?status=FAILED&ordering=-updated_at",
        className="small",
        id="overview-all-failures",
    )
    header = dbc.CardHeader(
        [html.Span("Most recent failures"), all_failures],
        className="d-flex justify-content-between align-items-center",
    )
    body = dbc.CardBody(failures, id="overview-failures", className="p-0")
    return dbc.Card([header, body], className="shadow-sm")


def layout(**_query: object) -> html.Div:
    """The overview of the default range, read here so that it is drawn with the page; the callback
    redraws it for another range (or one remembered from earlier in the session) and on refresh."""
    kpis, created, distribution, failures, as_of_text, error = update_overview(DEFAULT_RANGE, None)
    as_of = html.Div(as_of_text or "\u00a0", id="overview-as-of", className="text-body-secondary small")
    charts = [
        _chart_card("Jobs created, by current status", "overview-created", created, width=8),
        _chart_card("Status mix", "overview-distribution", distribution, width=4),
    ]
    return html.Div(
        [
            page_header("Overview", as_of, _range_controls(), spacing="mb-4"),
            html.Div(error, id="overview-error"),
            dcc.Store(id="overview-shown", data=DEFAULT_RANGE),
            dcc.Loading(
                html.Div(kpis or build_kpis({}, None), id="overview-kpis", className="mb-4"),
                type="dot",
                delay_show=300,
                overlay_style={"visibility": "visible", "opacity": 0.5},
            ),
            dbc.Row(charts, className="g-3 mb-4"),
            _failures_card(failures),
        ],
        id="overview-page",
    )


def update_overview(range_key: object, _refresh: object) -> tuple[Any, ...]:
    """Read the range's series, the totals and the latest failures, and draw them."""
    now = dt.datetime.now(dt.UTC)
    unavailable = empty_figure("No data")
    try:
        since, until, bucket = time_window(range_key, now=now)
        with get_database().read() as conn:
            series = created_timeseries(conn, bucket=bucket, since=since, until=until)
            totals = status_totals(conn)
            # Jobs that failed in the range (their last update), whenever they were created.
            failures = recent_failures(conn, since=since, until=until, limit=FAILURES_SHOWN)
    except ValidationError as exc:
        alert = error_state("That time range is not available", errors=exc.errors, reset_href="/")
        return None, unavailable, unavailable, None, "", alert
    except SQLAlchemyError:
        alert = database_error_state(log, "overview", reset_href="/", reset_label="Retry")
        return None, unavailable, unavailable, None, "", alert
    in_range = counts_by_status(series)
    label = RANGES[str(range_key)].label
    return (
        build_kpis(in_range, totals),
        created_over_time_figure(series, bucket=bucket, since=since, until=until),
        status_distribution_figure(in_range),
        build_failures(failures, now=now),
        f"Jobs created in the last {label}, by {bucket} (UTC) · as of {now:%H:%M:%S} UTC",
        None,
    )


@callbacks.callback(
    Output("overview-kpis", "children"),
    Output(figure_store("overview-created"), "data"),
    Output(figure_store("overview-distribution"), "data"),
    Output("overview-failures", "children"),
    Output("overview-as-of", "children"),
    Output("overview-error", "children"),
    Input("overview-range", "value"),
    Input("overview-refresh", "n_clicks"),
    prevent_initial_call=True,  # the layout shows the default range
)
def on_overview(range_key: object, refresh: object) -> tuple[Any, ...]:
    """Redraw the overview for the range chosen, or on refresh."""
    return update_overview(range_key, refresh)


# A range remembered from earlier in the session is set before the page shows: ask for its figures then.
callbacks.clientside_callback(
    ClientsideFunction("jobdash", "refreshForRememberedChoice"),
    Output("overview-refresh", "n_clicks"),
    Input("overview-range", "value"),
    State("overview-shown", "data"),
    State("overview-refresh", "n_clicks"),
)
chart_callback(callbacks, "overview-created")
chart_callback(callbacks, "overview-distribution")


dash.register_page(
    __name__,
    path="/",
    title="Overview · JobDash",
    name="Overview",
    order=0,
    layout=layout,
    nav_icon="bi-speedometer2",
)
