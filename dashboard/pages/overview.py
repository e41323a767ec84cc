"""``/``: totals per status, jobs created over time by status, the status mix and the latest failures;
the all-time totals and the status mix as of a past hour, the transitions heatmap and the stuck jobs
(dashboard/pages/insight_panels.py).

Every figure comes from the count tables (db/aggregates.py) and the history aggregates (db/history.py):
the callbacks cost the same at any size."""

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
    html_attributes,
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
from dashboard.local_time import bucket_description, format_with_zone, viewer_zone, zone_abbreviation
from dashboard.pages import PageCallbacks, database_error_state, insight_panels
from db.errors import ValidationError
from db.models import STATUSES
from db.queries import Bucket, Totals, bucket_end, created_timeseries, recent_failures

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


def build_kpis(
    in_range: Mapping[str, int], totals: Totals | None, *, as_of: dt.datetime | None = None
) -> dbc.Row:
    """One card for everything created in the range, one per status; all-time totals underneath (as of
    the hour holding ``as_of`` when given: the cards' own figures, jobs created in the range, stay).

    Without ``totals`` (before the first answer) the cards are placeholders of the same size, so that
    nothing below them moves when the figures arrive.
    """
    words = insight_panels.totals_caption(as_of if as_of is None or totals is None else totals.as_of)

    def figures(count: int, total: int) -> tuple[str, str]:
        if totals is None:
            return "…", "\u00a0"
        return f"{count:,}", f"{describe_total(total, exact=totals.exact)} {words}"

    value, caption = figures(sum(in_range.values()), totals.total if totals else 0)
    cards = [stat_card("All jobs", value, caption=caption)]
    for status in STATUSES:
        value, caption = figures(in_range.get(status, 0), totals.by_status.get(status, 0) if totals else 0)
        cards.append(stat_card(status_label(status), value, caption=caption, status=status))
    return dbc.Row([dbc.Col(card, xs=6, md=4, xl=2) for card in cards], className="g-3")


def build_failures(
    rows: Iterable[Mapping[str, Any]], *, now: dt.datetime, zone: dt.tzinfo = dt.UTC
) -> html.Div:
    """The latest failures, each linking to its job (names are shown as text, never as HTML); each row is
    keyed by its job, so a refresh that changes one row leaves the others' elements alone."""
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
                    title=format_with_zone(row["updated_at"], zone),
                    className="time-cell text-end",
                ),
            ],
            className="failure-row",
            key=str(int(row["id"])),
            **html_attributes(data_job_id=str(int(row["id"]))),
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
    return html.Div(
        [insight_panels.as_of_control(), range_picker, refresh],
        className="d-flex flex-wrap align-items-center gap-1",
    )


def _chart_card(title: str, chart_id: str, figure: dict[str, Any], *, width: int) -> dbc.Col:
    """A titled chart (its height reserved, so nothing moves when the browser draws it); its title is
    ``<chart_id>-title``, which a callback may retitle."""
    graph = chart(chart_id, figure, label=title, height=CHART_HEIGHT)
    header = dbc.CardHeader(html.Span(title, id=f"{chart_id}-title", className="text-truncate d-block"))
    card = dbc.Card([header, dbc.CardBody(graph)], className="h-100 shadow-sm")
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
    return dbc.Card([header, body], className="shadow-sm h-100")


def layout(**_query: object) -> html.Div:
    """The overview of the default range, read here so that it is drawn with the page; the callback
    redraws it for another range (or one remembered from earlier in the session) and on refresh."""
    kpis, created, distribution, failures, as_of_text, error = update_overview(DEFAULT_RANGE, None)
    as_of = html.Div(as_of_text or "\u00a0", id="overview-as-of", className="text-body-secondary small")
    charts = [
        _chart_card("Jobs created, by current status", "overview-created", created, width=8),
        _chart_card(insight_panels.MIX_TITLE, "overview-distribution", distribution, width=4),
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
            insight_panels.transitions_card(),
            dbc.Row(
                [dbc.Col(insight_panels.stuck_card(), lg=7), dbc.Col(_failures_card(failures), lg=5)],
                className="g-3",
            ),
        ],
        id="overview-page",
    )


def update_overview(
    range_key: object, _refresh: object, _tick: object = None, as_of_input: object = None
) -> tuple[Any, ...]:
    """Read the range's series, the totals (now, or as of the chosen hour) and the latest failures, and
    draw them. The status mix is of the jobs created in the range, or with an hour chosen, of every job
    at that hour."""
    now = dt.datetime.now(dt.UTC)
    zone = viewer_zone()
    unavailable = empty_figure("No data")
    try:
        since, until, bucket = time_window(range_key, now=now)
        as_of = insight_panels.parse_as_of(as_of_input, now=now)
        with get_database().read() as conn:
            series = created_timeseries(conn, bucket=bucket, since=since, until=until)
            totals = insight_panels.read_totals(conn, as_of)
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
    mix = in_range
    subtitle = (
        f"Jobs created in the last {label}, by {bucket_description(bucket, zone)}"
        f" · as of {now.astimezone(zone):%H:%M:%S} {zone_abbreviation(zone, at=now)}"
    )
    if as_of is not None:
        mix = totals.by_status
        subtitle += f" · all-time figures as of {insight_panels.hour_text(totals.as_of)}"
    return (
        build_kpis(in_range, totals, as_of=as_of),
        created_over_time_figure(series, bucket=bucket, since=since, until=until, zone=zone),
        status_distribution_figure(mix),
        build_failures(failures, now=now, zone=zone),
        subtitle,
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
    Input("shell-tick", "data"),  # auto-refresh (dashboard/live.py)
    Input("overview-as-of-time", "value"),
    prevent_initial_call=True,  # the layout shows the default range
)
def on_overview(range_key: object, refresh: object, tick: object, as_of_input: object) -> tuple[Any, ...]:
    """Redraw the overview for the range chosen, on refresh, on an auto-refresh tick or another hour."""
    return update_overview(range_key, refresh, tick, as_of_input)


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
insight_panels.register_overview(callbacks)


dash.register_page(
    __name__,
    path="/",
    title="Overview · JobDash",
    name="Overview",
    order=0,
    layout=layout,
    nav_icon="bi-speedometer2",
)
