"""``/jobs/<id>``: one job, the time it spent in each status (and each stay beside its family's p50 and
p95, dashboard/pages/insight_panels.py), and its history newest first."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard.components import (
    empty_state,
    error_state,
    format_duration,
    html_attributes,
    pager,
    status_badge,
)
from dashboard.database import get_database
from dashboard.figures import chart, chart_callback, status_timeline_figure, timeline_height
from dashboard.live import live_parts
from dashboard.local_time import format_with_zone, viewer_zone
from dashboard.pages import PageCallbacks, database_error_state, insight_panels
from dashboard.settings import get_settings
from dashboard.tables import (
    HISTORY_COLUMNS,
    header_cell,
    paged_table,
    render_spec,
    renderer_callback,
    rows_data,
)
from dashboard.timeline import Segment, status_segments, time_in_status, total_duration
from db.errors import NotFound, ValidationError
from db.models import STATUSES
from db.queries import Page, get_job, job_history

log = logging.getLogger(__name__)
callbacks = PageCallbacks()

# The timeline reads at most this many of the newest events, so a job with a huge history stays cheap.
TIMELINE_EVENTS = 200
HISTORY_PAGE_SIZE = 20
HISTORY_SPEC = render_spec("job-history-rows", HISTORY_COLUMNS, row_class="history-row", row_key="eventId")
# The paging buttons by role, named as history_page's outputs name them.
PAGER_ROLES = {"first": "newest", "back": "newer", "forward": "older"}
_ID_PATTERN = re.compile(r"[1-9][0-9]{0,18}")


def parse_job_id(value: object) -> int | None:
    """The job id in a URL segment, or None when it is not a positive 64-bit whole number."""
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        return None
    number = int(value)
    return number if number <= 2**63 - 1 else None


def page_title(job_id: object = None, **_path: object) -> str:
    """The browser tab's title (never echoes an invalid id)."""
    number = parse_job_id(job_id)
    return f"Job #{number} · JobDash" if number else "Job not found · JobDash"


def _breadcrumb(job_id: int) -> html.Nav:
    """The way back to the job list: Jobs / #id."""
    return html.Nav(
        html.Ol(
            [
                html.Li(dcc.Link("Jobs", href="/jobs"), className="breadcrumb-item"),
                html.Li(f"#{job_id}", className="breadcrumb-item active"),
            ],
            className="breadcrumb mb-2",
        ),
        **html_attributes(aria_label="breadcrumb"),
    )


def _fact(label: str, value: str) -> dbc.Col:
    """One labelled fact about the job."""
    return dbc.Col(
        html.Div(
            [html.Div(label, className="fact-label"), html.Div(value, className="fact-value")],
            className="fact",
        ),
        xs=6,
        md=3,
    )


def build_job_header(job: Mapping[str, Any], *, now: dt.datetime, zone: dt.tzinfo = dt.UTC) -> html.Div:
    """Breadcrumb, name (as text) with its status, and the created/updated/duration facts (in ``zone``)."""
    duration, active = total_duration(job, now=now)
    facts = [
        _fact("Created", format_with_zone(job["created_at"], zone)),
        _fact("Updated", format_with_zone(job["updated_at"], zone)),
        _fact("Total duration", format_duration(duration) + (" so far" if active else "")),
        _fact("Events", f"{int(job.get('history_count', 0)):,}"),
    ]
    title_parts = [
        html.H1(job["name"], className="page-title job-name", id="job-name"),
        status_badge(job["status"]),
    ]
    if job.get("family"):
        title_parts.append(family_chip(str(job["family"])))
    title = html.Div(title_parts, className="d-flex flex-wrap align-items-center gap-3 mb-3")
    return html.Div(
        [_breadcrumb(int(job["id"])), title, dbc.Row(facts, className="g-3", id="job-facts")],
        className="mb-4",
    )


def family_chip(family: str) -> dcc.Link:
    """The job's family, linking to the list of its jobs."""
    return dcc.Link(
        [html.I(className="bi bi-diagram-3 me-1"), "Family ", html.Span(family, className="fw-semibold")],
        href="/jobs?" + urlencode({"family": family}),
        className="family-chip",
        id="job-family",
        title="Every job of this family",
    )


def build_timeline_note(*, shown: int, total: int) -> str:
    """Says which events the timeline is built from, and when it is not all of them."""
    if total > shown:
        return f"Built from the newest {shown:,} of {total:,} events; older periods are not shown."
    return f"Built from all {total:,} event{'s' if total != 1 else ''}."


def build_time_breakdown(segments: list[Segment]) -> html.Div:
    """Total time per status with its share of the whole; a final status says so instead of "0s"."""
    totals = time_in_status(segments)
    whole = sum(totals.values(), dt.timedelta()).total_seconds()
    final = segments[-1].status if segments and not segments[-1].ongoing else None
    items = []
    for status in STATUSES:
        if status not in totals:
            continue
        if status == final and totals[status] == dt.timedelta(0):
            amount, share = "final status", ""
        else:
            amount = format_duration(totals[status]) + (
                " so far" if segments[-1].status == status and segments[-1].ongoing else ""
            )
            share = f"{totals[status].total_seconds() / whole:.0%}" if whole else ""
        items.append(
            html.Div(
                [
                    status_badge(status),
                    html.Span(amount, className="ms-auto fw-semibold"),
                    html.Span(share, className="text-body-secondary ms-2 share"),
                ],
                className="d-flex align-items-center py-2 breakdown-item",
            )
        )
    return html.Div(items, className="time-breakdown")


def not_found(detail: str) -> html.Div:
    """The friendly answer for an unknown or malformed job id."""
    return html.Div(
        empty_state(
            "Job not found",
            detail,
            icon="bi-question-circle",
            action=dcc.Link("Back to all jobs", href="/jobs", className="btn btn-primary"),
            page_title=True,
        ),
        className="card shadow-sm",
        id="job-not-found",
    )


def _timeline_card(segments: list[Segment], *, note: str, zone: dt.tzinfo) -> dbc.Card:
    """The swim-lane timeline beside the time spent in each status (its height reserved, so nothing moves
    when it draws)."""
    graph = chart(
        "job-timeline",
        status_timeline_figure(segments, zone),
        label="Time in each status",
        height=timeline_height(segments),
    )
    header = dbc.CardHeader(
        [
            html.Span("Time in each status"),
            html.Span(note, className="small text-body-secondary fw-normal", id="job-timeline-note"),
        ],
        className="d-flex flex-wrap justify-content-between align-items-center gap-2",
    )
    body = dbc.Row(
        [dbc.Col(graph, lg=8), dbc.Col(build_time_breakdown(segments), lg=4)],
        className="g-3 align-items-center",
    )
    return dbc.Card([header, dbc.CardBody(body)], className="shadow-sm mb-4")


def _history_card(view: dict[str, Any]) -> dbc.Card:
    """The job's events, newest first, one page at a time: ``view`` is the first page's (see
    :func:`history_page`), the paging buttons' callback answers the others."""
    header = dbc.CardHeader(
        [
            html.Span("History, newest first"),
            html.Span(
                view["caption"], id="job-history-caption", className="small text-body-secondary fw-normal"
            ),
        ],
        className="d-flex justify-content-between align-items-center",
    )
    enabled = {role for role in ("first", "back", "forward") if not view[f"{PAGER_ROLES[role]}_disabled"]}
    paging = pager(
        first=("job-history-newest", "Newest"),
        back=("job-history-newer", "Newer"),
        forward=("job-history-older", "Older"),
        enabled=enabled,
    )
    return paged_table(
        prefix="job-history",
        headers=[header_cell(column) for column in HISTORY_COLUMNS],
        spec=HISTORY_SPEC,
        data=view["data"],
        notice=view["notice"],
        table_class="table align-middle mb-0 history-table",
        footer=paging,
        footer_class="d-flex justify-content-end",
        header=header,
    )


def read_job(conn: Connection, number: int) -> tuple[dict[str, Any], Page]:
    """The job and its newest events (those the timeline draws), as the page and its refreshes show them;
    NotFound when there is no such job."""
    max_page_size = get_settings().max_page_size
    job = get_job(conn, job_id=number)
    newest = job_history(
        conn, job_id=number, page_size=min(TIMELINE_EVENTS, max_page_size), max_page_size=max_page_size
    )
    return job, newest


def layout(job_id: object = None, **_query: object) -> html.Div:
    """The job's header and timeline (read here), and its history (paged by the callback)."""
    number = parse_job_id(job_id)
    if number is None:
        shown = str(job_id)[:40] if isinstance(job_id, str) else ""
        return not_found(f"“{shown}” is not a job id: ids are positive whole numbers.")
    try:
        with get_database().read() as conn:
            job, newest = read_job(conn, number)
            now = dt.datetime.now(dt.UTC)
            comparison = insight_panels.family_comparison(conn, job, newest.results, now=now)
    except NotFound:
        return not_found(f"There is no job #{number}. It may have been deleted.")
    except SQLAlchemyError:
        return database_error_state(log, "job page", reset_href=f"/jobs/{number}")
    zone = viewer_zone()
    note = build_timeline_note(shown=len(newest.results), total=int(job["history_count"]))
    return html.Div(
        [
            html.Div(build_job_header(job, now=now, zone=zone), id="job-header"),
            _timeline_card(status_segments(newest.results, now=now), note=note, zone=zone),
            comparison,
            _history_card(history_page(None, {"job_id": number})),
            *live_parts("job-history", {"events": int(job["history_count"])}),
        ],
        id="job-page",
    )


def _read_history(state: dict[str, Any], cursor: object) -> Page:
    """One page of the job's history from ``cursor`` (None: the newest)."""
    if cursor is not None and not isinstance(cursor, str):
        raise ValidationError.single("cursor", "is not a valid cursor for this list; start from page one")
    settings = get_settings()
    with get_database().read() as conn:
        return job_history(
            conn,
            job_id=state.get("job_id"),  # type: ignore[arg-type]  # validated by the data layer
            page_size=min(HISTORY_PAGE_SIZE, settings.max_page_size),
            max_page_size=settings.max_page_size,
            cursor=cursor,
        )


def _history_outputs(page: Page, job_id: object, *, first: bool) -> dict[str, Any]:
    """The callback's outputs for a page of history that was read: its rows as data for the browser."""
    shown = len(page.results)
    return {
        "data": {
            "job_id": job_id,
            "rows": rows_data(page.results, HISTORY_COLUMNS),
            "next": page.next_cursor,
            "previous": page.previous_cursor,
        },
        "notice": None if shown else empty_state("No events", "This job has no history."),
        "caption": f"{shown} event{'s' if shown != 1 else ''} on this page",
        "newest_disabled": first,
        "newer_disabled": page.previous_cursor is None,
        "older_disabled": page.next_cursor is None,
    }


def history_page(trigger: object, state: object) -> dict[str, Any]:
    """The history page asked for by a paging button (or the first page), as the callback's outputs."""
    state = state if isinstance(state, dict) else {}
    cursor = {"job-history-older": state.get("next"), "job-history-newer": state.get("previous")}.get(
        str(trigger)
    )
    try:
        page = _read_history(state, cursor)
    except (ValidationError, NotFound) as exc:
        errors = exc.errors if isinstance(exc, ValidationError) else []
        detail = None if errors else "This job no longer exists."
        alert = error_state("This history page is not available", errors=errors, detail=detail)
    except SQLAlchemyError:
        alert = database_error_state(log, "job history")
    else:
        return _history_outputs(page, state.get("job_id"), first=cursor is None)
    return {
        "data": {**state, "rows": []},
        "notice": alert,
        "caption": "",
        "newest_disabled": True,
        "newer_disabled": True,
        "older_disabled": True,
    }


@callbacks.callback(
    output={
        "data": Output("job-history-data", "data"),
        "notice": Output("job-history-notice", "children"),
        "caption": Output("job-history-caption", "children"),
        "newest_disabled": Output("job-history-newest", "disabled"),
        "newer_disabled": Output("job-history-newer", "disabled"),
        "older_disabled": Output("job-history-older", "disabled"),
    },
    inputs={
        "clicks": [
            Input("job-history-newest", "n_clicks"),
            Input("job-history-newer", "n_clicks"),
            Input("job-history-older", "n_clicks"),
        ]
    },
    state={"state": State("job-history-data", "data")},
    prevent_initial_call=True,  # the newest page is part of the layout
)
def on_history_page(clicks: object, state: object) -> dict[str, Any]:
    """Show the page a paging button asks for."""
    return history_page(ctx.triggered_id, state)


renderer_callback(callbacks, "job-history")
chart_callback(callbacks, "job-timeline")


dash.register_page(
    __name__, path_template="/jobs/<job_id>", title=page_title, name="Job", order=2, layout=layout
)
