"""``/jobs``: the server-side paged, sorted and filtered job table, its state kept in the URL.

One callback owns the view. It is triggered either by the URL (first load, back/forward, a link) and then
shows the URL's query in the controls, or by a control and then writes the new query to the URL; either way
it renders exactly one keyset page. The page's own ``dcc.Location`` uses ``refresh=False``, so writing the
URL pushes a history entry without making Dash Pages rebuild the page (the search box keeps its focus).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard.components import (
    describe_count,
    empty_state,
    error_state,
    format_timestamp,
    html_attributes,
    page_header,
    paged_table,
    pager,
    status_badge,
    status_options,
)
from dashboard.database import get_database
from dashboard.list_state import (
    ControlValues,
    args_from_controls,
    args_from_page_query,
    args_from_search,
    controls_from_query,
    jump_to_date,
    page_size_options,
    parse_view,
    search_from_query,
    toggle_ordering,
    with_cursor,
)
from dashboard.pages import PageCallbacks
from dashboard.params import JobListQuery
from dashboard.settings import get_settings
from db.errors import ValidationError
from db.queries import JobFilter, Page, count_jobs, list_jobs
from db.search import SearchPage
from db.validation import Q_MAX_LENGTH

log = logging.getLogger(__name__)
callbacks = PageCallbacks()

COLUMNS = 5
AUTO_REFRESH_MS = 10_000
SORT_BUTTONS = {"jobs-sort-name": "name", "jobs-sort-created": "created", "jobs-sort-updated": "updated"}
SORT_LABELS = {"name": "Name", "created": "Created (UTC)", "updated": "Updated (UTC)"}
CONTROL_TRIGGERS = {"jobs-status", "jobs-q", "jobs-created-after", "jobs-created-before", "jobs-page-size"}
URL_TRIGGERS = {None, "jobs-url", "jobs-interval"}


def build_job_rows(rows: Iterable[Mapping[str, Any]]) -> list[html.Tr]:
    """One table row per job; the name links to the job (client-side navigation, text only)."""
    return [
        html.Tr(
            [
                html.Td(f"#{int(row['id'])}", className="text-body-secondary font-monospace small id-cell"),
                html.Td(
                    dcc.Link(
                        row["name"], href=f"/jobs/{int(row['id'])}", className="job-link stretched-link"
                    ),
                    className="name-cell",
                ),
                html.Td(status_badge(row["status"])),
                html.Td(format_timestamp(row["created_at"]), className="time-cell"),
                html.Td(format_timestamp(row["updated_at"]), className="time-cell"),
            ],
            className="job-row",
            **html_attributes(data_job_id=str(int(row["id"]))),
        )
        for row in rows
    ]


def build_state_row(content: Any) -> list[html.Tr]:
    """A whole-width row holding an empty or error state, so the table keeps its shape."""
    return [html.Tr(html.Td(content, colSpan=COLUMNS, className="p-0 border-0"), className="state-row")]


def build_sort_labels(ordering: str) -> dict[str, list[Any]]:
    """Header button contents: the column name, and an arrow on the column the list is sorted by."""
    key = ordering.lstrip("-")
    active = {"name": "name", "created_at": "created", "updated_at": "updated"}[key]
    labels = {}
    for column, label in SORT_LABELS.items():
        if column == active:
            arrow = "bi-sort-down" if ordering.startswith("-") else "bi-sort-up"
            labels[column] = [label, html.I(className=f"bi {arrow} ms-1 sort-arrow active")]
        else:
            labels[column] = [label, html.I(className="bi bi-arrow-down-up ms-1 sort-arrow")]
    return labels


def _sort_header(column: str, button_id: str, ordering: str) -> html.Th:
    return html.Th(
        html.Button(build_sort_labels(ordering)[column], id=button_id, className="sort-button", n_clicks=0),
        scope="col",
    )


def _status_filter(statuses: list[str]) -> dbc.Col:
    """The status chips: any number of statuses, none meaning all."""
    return dbc.Col(
        [
            dbc.Label("Status", className="filter-label"),
            dbc.Checklist(
                id="jobs-status",
                options=status_options(),
                value=statuses,
                inline=True,
                className="status-chips",
                input_class_name="btn-check",
                label_class_name="btn btn-sm status-chip",
                label_checked_class_name="active",
            ),
        ],
        xl="auto",
        lg=12,
    )


def _name_filter(q: str) -> dbc.Col:
    """The name search, debounced so a query runs once typing pauses."""
    search = dbc.Input(
        id="jobs-q",
        type="search",
        value=q,
        placeholder="Search names…",
        debounce=350,
        maxlength=Q_MAX_LENGTH,
        autocomplete="off",
    )
    return dbc.Col(
        [
            dbc.Label("Name contains", html_for="jobs-q", className="filter-label"),
            dbc.InputGroup([dbc.InputGroupText(html.I(className="bi bi-search")), search], size="sm"),
        ],
        xl=True,
        md=4,
    )


def _created_filter(label: str, component_id: str, value: str | None) -> dbc.Col:
    """One end of the created range: a labelled datetime input (UTC), debounced like the search."""
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, className="filter-label"),
            dbc.Input(id=component_id, type="datetime-local", step=1, value=value, debounce=600, size="sm"),
        ],
        xl=2,
        md=4,
    )


def _filters(controls: ControlValues) -> dbc.Card:
    """The filter controls, showing ``controls``."""
    columns = [
        _status_filter(controls.statuses),
        _name_filter(controls.q),
        _created_filter("Created from (UTC)", "jobs-created-after", controls.created_after),
        _created_filter("Created before (UTC)", "jobs-created-before", controls.created_before),
    ]
    return dbc.Card(
        dbc.CardBody(dbc.Row(columns, className="g-3 align-items-end")),
        className="shadow-sm mb-3 filters-card",
    )


def _jump_to_date() -> html.Div:
    """A date and a button that start the created-ordered list at that day."""
    return html.Div(
        dbc.InputGroup(
            [
                dbc.InputGroupText("Jump to", className="small"),
                dbc.Input(id="jobs-jump-date", type="date", size="sm"),
                dbc.Button("Go", id="jobs-jump", color="secondary", outline=True, size="sm"),
            ],
            size="sm",
            className="jump-group",
        ),
        title="Show the jobs created on or before this date (UTC), in created order",
    )


def _table_footer(page_size: str, *, default_page_size: int, max_page_size: int) -> html.Div:
    """Page size and jump to a date on the left, the pager on the right."""
    sizes = dbc.Select(
        id="jobs-page-size",
        options=page_size_options(default=default_page_size, maximum=max_page_size),
        value=page_size,
        size="sm",
        className="page-size-select",
    )
    return html.Div(
        [
            html.Div([sizes, _jump_to_date()], className="d-flex flex-wrap gap-2 align-items-center"),
            pager(
                first=("jobs-first", "First"), back=("jobs-prev", "Previous"), forward=("jobs-next", "Next")
            ),
        ],
        className="d-flex flex-wrap justify-content-between align-items-center gap-2",
    )


def _jobs_table(ordering: str, footer: html.Div) -> dbc.Card:
    """The job table, its headers sorting by their column; the callback fills its rows."""
    columns = [
        html.Th("ID", scope="col", className="id-col"),
        _sort_header("name", "jobs-sort-name", ordering),
        html.Th("Status", scope="col", className="status-col"),
        _sort_header("created", "jobs-sort-created", ordering),
        _sort_header("updated", "jobs-sort-updated", ordering),
    ]
    return paged_table(
        columns=columns,
        rows_id="jobs-rows",
        table_class="table table-hover align-middle mb-0 jobs-table",
        footer=footer,
    )


def _shown_query(query: Mapping[str, object]) -> JobListQuery:
    """The URL's query for the controls; a URL that does not parse shows the defaults (the callback then
    says what is wrong with it)."""
    settings = get_settings()
    try:
        return parse_view(
            args_from_page_query(query),
            default_page_size=settings.default_page_size,
            max_page_size=settings.max_page_size,
        )
    except ValidationError:
        return JobListQuery(JobFilter(), "-created_at", settings.default_page_size, None)


def layout(**query: object) -> html.Div:
    """The page, its controls showing the URL's query (the callback then renders the table)."""
    settings = get_settings()
    shown = _shown_query(query)
    controls = controls_from_query(shown)
    count = html.Div(
        id="jobs-count", className="text-body-secondary small", **html_attributes(aria_live="polite")
    )
    refresh = dbc.Switch(id="jobs-auto-refresh", label="Auto-refresh", value=False, className="mb-0 small")
    footer = _table_footer(
        controls.page_size, default_page_size=settings.default_page_size, max_page_size=settings.max_page_size
    )
    return html.Div(
        [
            dcc.Location(id="jobs-url", refresh=False),
            dcc.Store(id="jobs-pager"),
            dcc.Interval(id="jobs-interval", interval=AUTO_REFRESH_MS, disabled=True),
            page_header("Jobs", count, refresh),
            _filters(controls),
            html.Div(id="jobs-filter-error", className="mb-3"),
            _jobs_table(shown.ordering, footer),
        ],
        id="jobs-page",
    )


def requested_query(
    trigger: str,
    current: JobListQuery,
    *,
    controls: Mapping[str, object],
    pager: object,
    jump_date: object,
    default_page_size: int,
    max_page_size: int,
) -> JobListQuery:
    """The query the user asked for with ``trigger``, starting from the one the URL shows."""
    if trigger in CONTROL_TRIGGERS:
        # A new filter or page size starts again from page one, keeping the sort.
        args = args_from_controls(**controls, ordering=current.ordering)
        return parse_view(args, default_page_size=default_page_size, max_page_size=max_page_size)
    if trigger in SORT_BUTTONS:
        ordering = toggle_ordering(current.ordering, SORT_BUTTONS[trigger])
        return JobListQuery(current.filters, ordering, current.page_size, None)
    if trigger == "jobs-jump":
        return jump_to_date(current, jump_date)
    if trigger == "jobs-first":
        return with_cursor(current, None)
    if trigger in ("jobs-next", "jobs-prev"):
        cursors = pager if isinstance(pager, dict) else {}
        token = cursors.get("next" if trigger == "jobs-next" else "previous")
        if token is None:
            raise ValidationError.single("cursor", "there is no page in that direction")
        return with_cursor(current, token)
    raise ValidationError.single("trigger", "is not a control of this page")


def _searched_note(conn: Connection, query: JobListQuery, page: Page) -> str:
    """For a partial name search: how far this page searched, and that Next continues (db/search.py)."""
    if not isinstance(page, SearchPage) or not page.partial or page.through is None:
        return ""
    total = count_jobs(conn, filters=dataclasses.replace(query.filters, q=None))
    value = page.through["value"]
    where = value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, dt.datetime) else repr(value)
    return f" · searched {page.scanned:,} of {describe_count(total)} here (up to {where}) — Next continues"


def render_table(query: JobListQuery, *, max_page_size: int, reset_search: str) -> dict[str, Any]:
    """Read one page and the count for ``query``, and turn them into the table's outputs."""
    out: dict[str, Any] = {
        "first_disabled": query.cursor is None,
        "prev_disabled": True,
        "next_disabled": True,
    }
    try:
        with get_database().read() as conn:
            page = list_jobs(
                conn,
                filters=query.filters,
                ordering=query.ordering,
                page_size=query.page_size,
                max_page_size=max_page_size,
                cursor=query.cursor,
            )
            count = count_jobs(conn, filters=query.filters, page=page)
            searched = _searched_note(conn, query, page)
    except ValidationError as exc:
        state = error_state(
            "This page link is no longer valid",
            errors=exc.errors,
            reset_href="/jobs" + reset_search,
            reset_label="Back to the first page",
        )
        return {**out, "rows": build_state_row(state), "count": "", "pager": None}
    except SQLAlchemyError:
        log.exception("job list query failed")
        state = error_state(
            "The database did not answer",
            detail="The list could not be loaded. Try again, or narrow the filters.",
            reset_href="/jobs" + reset_search,
            reset_label="Try again",
        )
        return {**out, "rows": build_state_row(state), "count": "", "pager": None}
    if page.results:
        rows = build_job_rows(page.results)
    elif searched:
        rows = build_state_row(
            empty_state(
                "No match in this stretch yet",
                "The search read its budget of jobs without finding this name. Next searches further.",
                icon="bi-search",
            )
        )
    else:
        rows = build_state_row(
            empty_state(
                "No jobs match",
                "Nothing matches these filters. Try a wider date range or fewer filters.",
                icon="bi-search",
                action=dcc.Link(
                    "Clear all filters", href="/jobs", className="btn btn-sm btn-outline-primary"
                ),
            )
        )
    return {
        **out,
        "rows": rows,
        "count": describe_count(count) + searched,
        "pager": {"next": page.next_cursor, "previous": page.previous_cursor},
        "prev_disabled": page.previous_cursor is None,
        "next_disabled": page.next_cursor is None,
    }


OUTPUTS = {
    "search": Output("jobs-url", "search"),
    "statuses": Output("jobs-status", "value"),
    "q": Output("jobs-q", "value"),
    "created_after": Output("jobs-created-after", "value"),
    "created_before": Output("jobs-created-before", "value"),
    "page_size": Output("jobs-page-size", "value"),
    "rows": Output("jobs-rows", "children"),
    "count": Output("jobs-count", "children"),
    "pager": Output("jobs-pager", "data"),
    "first_disabled": Output("jobs-first", "disabled"),
    "prev_disabled": Output("jobs-prev", "disabled"),
    "next_disabled": Output("jobs-next", "disabled"),
    "sort_name": Output("jobs-sort-name", "children"),
    "sort_created": Output("jobs-sort-created", "children"),
    "sort_updated": Output("jobs-sort-updated", "children"),
    "filter_error": Output("jobs-filter-error", "children"),
}


def update_view(
    trigger: str | None,
    *,
    search: object,
    controls: Mapping[str, object],
    pager: object = None,
    jump_date: object = None,
) -> dict[str, Any]:
    """The whole view for one event: validate, decide the query, render one page (the callback's body)."""
    settings = get_settings()
    sizes = {"default_page_size": settings.default_page_size, "max_page_size": settings.max_page_size}
    out: dict[str, Any] = dict.fromkeys(OUTPUTS, no_update)
    out["filter_error"] = None
    try:
        current = parse_view(args_from_search(search), **sizes)
    except ValidationError as exc:
        if trigger in URL_TRIGGERS:
            state = error_state(
                "This link has filters JobDash cannot use",
                errors=exc.errors,
                reset_href="/jobs",
                reset_label="Show all jobs",
            )
            out.update(rows=build_state_row(state), count="", pager=None)
            out.update(first_disabled=True, prev_disabled=True, next_disabled=True)
            return out
        # A control was used on a broken URL: start from the defaults instead.
        current = parse_view({}, **sizes)
    if trigger in URL_TRIGGERS:
        wanted = current
        if trigger != "jobs-interval":
            # The URL changed (first load, back/forward, a link): show it in the controls. A refresh
            # tick leaves them alone, so text being typed is never overwritten.
            shown = controls_from_query(wanted)
            out.update(
                statuses=shown.statuses,
                q=shown.q,
                created_after=shown.created_after,
                created_before=shown.created_before,
                page_size=shown.page_size,
            )
    else:
        try:
            wanted = requested_query(
                str(trigger), current, controls=controls, pager=pager, jump_date=jump_date, **sizes
            )
        except ValidationError as exc:
            out["filter_error"] = error_state("Some filters are not valid", errors=exc.errors)
            return out
        out["search"] = search_from_query(wanted, default_page_size=settings.default_page_size)
        if trigger == "jobs-jump":
            shown = controls_from_query(wanted)
            out.update(created_after=shown.created_after, created_before=shown.created_before)
    first_page = with_cursor(wanted, None)
    out.update(
        render_table(
            wanted,
            max_page_size=settings.max_page_size,
            reset_search=search_from_query(first_page, default_page_size=settings.default_page_size),
        )
    )
    labels = build_sort_labels(wanted.ordering)
    out.update(sort_name=labels["name"], sort_created=labels["created"], sort_updated=labels["updated"])
    return out


@callbacks.callback(
    output=OUTPUTS,
    inputs={
        "search": Input("jobs-url", "search"),
        "statuses": Input("jobs-status", "value"),
        "q": Input("jobs-q", "value"),
        "created_after": Input("jobs-created-after", "value"),
        "created_before": Input("jobs-created-before", "value"),
        "page_size": Input("jobs-page-size", "value"),
        "clicks": [Input(button, "n_clicks") for button in SORT_BUTTONS]
        + [Input(button, "n_clicks") for button in ("jobs-first", "jobs-prev", "jobs-next", "jobs-jump")],
        "refresh": Input("jobs-interval", "n_intervals"),
    },
    state={
        "pathname": State("jobs-url", "pathname"),
        "pager": State("jobs-pager", "data"),
        "jump_date": State("jobs-jump-date", "value"),
    },
)
def on_view_change(
    search: object,
    statuses: object,
    q: object,
    created_after: object,
    created_before: object,
    page_size: object,
    clicks: object,
    refresh: object,
    pathname: object,
    pager: object,
    jump_date: object,
) -> dict[str, Any]:
    """The URL or a control changed: show the matching page of jobs and keep URL and controls in step."""
    if search is None or pathname is None:
        raise PreventUpdate  # the page's Location has not reported the URL yet
    if not isinstance(pathname, str) or pathname.rstrip("/") != "/jobs":
        raise PreventUpdate  # leaving for another page: nothing to render here
    trigger = ctx.triggered_id
    controls = {
        "statuses": statuses,
        "q": q,
        "created_after": created_after,
        "created_before": created_before,
        "page_size": page_size,
    }
    return update_view(
        trigger if isinstance(trigger, str) else None,
        search=search,
        controls=controls,
        pager=pager,
        jump_date=jump_date,
    )


@callbacks.callback(Output("jobs-interval", "disabled"), Input("jobs-auto-refresh", "value"))
def toggle_auto_refresh(enabled: object) -> bool:
    """Auto-refresh is off unless switched on."""
    return enabled is not True


dash.register_page(
    __name__,
    path="/jobs",
    title="Jobs · JobDash",
    name="Jobs",
    order=1,
    layout=layout,
    nav_icon="bi-list-task",
)
