"""``/jobs``: the server-side paged, sorted and filtered job table, its state kept in the URL.

One callback owns the view. It is triggered either by the URL (first load, back/forward, a link) and then
shows the URL's query in the controls, or by a control and then writes the new query to the URL; either way
it renders exactly one keyset page. The page's own ``dcc.Location`` uses ``refresh=False``, so writing the
URL pushes a history entry without making Dash Pages rebuild the page (the search box keeps its focus).

The controls are one table (``CONTROLS``): the layout, the callback's inputs and outputs, what the controls
show for a URL and the URL they make are generated from it, so a new list filter is one row here (plus its
field in ``db/queries.py``'s JobFilter and ``dashboard/params.py``'s JobListParams).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from dashboard import live
from dashboard.components import (
    describe_count,
    empty_state,
    error_state,
    html_attributes,
    page_header,
    pager,
    status_options,
)
from dashboard.database import get_database
from dashboard.list_state import (
    Control,
    args_from_controls,
    args_from_page_query,
    args_from_search,
    controls_from_query,
    jump_to_date,
    page_size_options,
    parse_view,
    read_seconds,
    read_statuses,
    read_text,
    read_zoned_time,
    search_from_query,
    seconds_input,
    toggle_ordering,
    with_cursor,
    zoned_input,
)
from dashboard.local_time import viewer_zone, zone_description, zone_label
from dashboard.pages import PageCallbacks, database_error_state
from dashboard.params import JobListQuery, view_query_string
from dashboard.settings import get_settings
from dashboard.tables import JOB_COLUMNS, header_cell, paged_table, render_spec, renderer_callback, rows_data
from db.errors import ValidationError
from db.models import NAME_MAX_LENGTH
from db.queries import DEFAULT_ORDERING, Count, Page, count_jobs, list_and_count_jobs
from db.search import SearchPage
from db.validation import Q_MAX_LENGTH

log = logging.getLogger(__name__)
callbacks = PageCallbacks()

SORT_BUTTONS = {
    "jobs-sort-name": "name",
    "jobs-sort-created": "created",
    "jobs-sort-updated": "updated",
    "jobs-sort-duration": "duration",
}
SORT_LABELS = {"name": "Name", "created": "Created", "updated": "Updated", "duration": "Duration"}
URL_TRIGGERS = {None, "jobs-url"}
JOBS_SPEC = render_spec("jobs-rows", JOB_COLUMNS, row_class="job-row", row_key="jobId")
# Header buttons of the sortable columns: column key -> (button id, sort name of toggle_ordering).
SORTABLE = {
    "name": ("jobs-sort-name", "name"),
    "created_at": ("jobs-sort-created", "created"),
    "updated_at": ("jobs-sort-updated", "updated"),
    "duration": ("jobs-sort-duration", "duration"),
}


EXPORT_PATH = "/api/jobs/export.csv"


def export_href(query: JobListQuery) -> str:
    """The CSV export of ``query``'s view: its filters and ordering, every page."""
    params = view_query_string(query)
    return EXPORT_PATH + ("?" + urlencode(params, doseq=True, safe=",:") if params else "")


def _export_button(query: JobListQuery) -> html.A:
    """A link downloading the current view as CSV (the callback keeps its href on the view)."""
    return html.A(
        [html.I(className="bi bi-download me-1"), "Export CSV"],
        id="jobs-export",
        href=export_href(query),
        download="jobs.csv",  # the server's Content-Disposition names it with the time
        className="btn btn-sm btn-outline-secondary export-button",
        title="Download every job of this view (all pages, this order) as CSV",
    )


def build_sort_labels(ordering: str) -> dict[str, list[Any]]:
    """Header button contents: the column name, and an arrow on the column the list is sorted by."""
    key = ordering.lstrip("-")
    active = {"name": "name", "created_at": "created", "updated_at": "updated", "duration": "duration"}[key]
    labels = {}
    for column, title in SORT_LABELS.items():
        # Time columns name the zone their times are shown in.
        label: list[Any] = [title, zone_label()] if column in ("created", "updated") else [title]
        if column == active:
            arrow = "bi-sort-down" if ordering.startswith("-") else "bi-sort-up"
            labels[column] = [*label, html.I(className=f"bi {arrow} ms-1 sort-arrow active")]
        else:
            labels[column] = [*label, html.I(className="bi bi-arrow-down-up ms-1 sort-arrow")]
    return labels


def _status_filter(component_id: str, statuses: list[str]) -> dbc.Col:
    """The status chips: any number of statuses, none meaning all."""
    return dbc.Col(
        [
            dbc.Label("Status", className="filter-label"),
            dbc.Checklist(
                id=component_id,
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


def _text_input(component_id: str, value: str, *, placeholder: str, maxlength: int, **size: str) -> dbc.Input:
    """A search box, debounced so a query runs once typing pauses."""
    return dbc.Input(
        id=component_id,
        type="search",
        value=value,
        placeholder=placeholder,
        debounce=350,
        maxlength=maxlength,
        autocomplete="off",
        **size,
    )


def _name_filter(component_id: str, q: str) -> dbc.Col:
    """The name search (a substring)."""
    search = _text_input(component_id, q, placeholder="Search names…", maxlength=Q_MAX_LENGTH)
    return dbc.Col(
        [
            dbc.Label("Name contains", html_for=component_id, className="filter-label"),
            dbc.InputGroup([dbc.InputGroupText(html.I(className="bi bi-search")), search], size="sm"),
        ],
        xl=True,
        md=4,
    )


def _family_filter(component_id: str, family: str) -> dbc.Col:
    """The job family (the name without its run-specific tail), typed exactly."""
    field = _text_input(component_id, family, placeholder="Any family", maxlength=NAME_MAX_LENGTH, size="sm")
    return dbc.Col(
        [dbc.Label("Family", html_for=component_id, className="filter-label"), field],
        xl=True,
        md=4,
    )


def _stuck_filter(component_id: str, stuck: bool) -> dbc.Col:
    """Only the jobs stuck in PENDING or RUNNING (past their family's p99; most overdue first): a row of
    its own under the other filters, which keep the width they share."""
    switch = dbc.Switch(id=component_id, label="Stuck only", value=stuck, className="mb-0 small stuck-switch")
    hint = html.Span(
        "pending or running for longer than the family's p99, most overdue first (with a family and "
        "status; not with a name search or a created range)",
        className="small text-body-secondary",
    )
    return dbc.Col(html.Div([switch, hint], className="d-flex flex-wrap align-items-center gap-2"), xs=12)


def read_stuck(value: object) -> str:
    """A :attr:`Control.read` for the stuck switch: on, off, or nothing."""
    if value is None or value is False:
        return ""
    if value is not True:
        raise ValidationError.single("stuck", "must be true or false")
    return "true"


def _time_filter(label: str, component_id: str, value: str) -> dbc.Col:
    """One end of a time range: a datetime input in the viewer's zone (which its label says), debounced
    like the search."""
    return dbc.Col(
        [
            dbc.Label([label, zone_label()], html_for=component_id, className="filter-label"),
            dbc.Input(id=component_id, type="datetime-local", step=1, value=value, debounce=600, size="sm"),
        ],
        xl=2,
        md=4,
    )


def _seconds_filter(label: str, component_id: str, value: float | None) -> dbc.Col:
    """One end of the duration range: a number of seconds, debounced like the search."""
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, className="filter-label"),
            dbc.Input(
                id=component_id,
                type="number",
                min=0,
                step="any",
                value=value,
                placeholder="seconds",
                debounce=600,
                size="sm",
            ),
        ],
        xl=2,
        md=4,
    )


def _page_size_select(component_id: str, page_size: str) -> html.Div:
    """Rows per page: the usual choices up to the configured maximum (labelled for screen readers)."""
    settings = get_settings()
    select = dbc.Select(
        id=component_id,
        options=page_size_options(default=settings.default_page_size, maximum=settings.max_page_size),
        value=page_size,
        size="sm",
        className="page-size-select",
    )
    label = dbc.Label("Rows per page", html_for=component_id, className="visually-hidden")
    return html.Div([label, select])


# The two kinds of range filter: how a JobFilter value is shown in its input, how the input is read back
# (a reader for a named parameter), how the input is drawn.
RANGE_KINDS: dict[
    str, tuple[Callable[[Any], Any], Callable[[str], Callable[[object], str]], Callable[..., dbc.Col]]
] = {
    "time": (zoned_input, read_zoned_time, _time_filter),  # in the viewer's zone
    "seconds": (seconds_input, read_seconds, _seconds_filter),
}


def _range_control(param: str, component_id: str, label: str, kind: str) -> Control:
    """The control of a filter that is one end of a range (a JobFilter field named ``param``)."""
    shown, reader, build = RANGE_KINDS[kind]
    return Control(
        param,
        component_id,
        show=lambda query: shown(getattr(query.filters, param)),
        read=reader(param),
        build=functools.partial(build, label),
    )


# Every control of the page, in layout order. The layout, the callback's inputs and outputs, what the
# controls show for a URL and the URL they make are all generated from this table.
CONTROLS = (
    Control(
        "status",
        "jobs-status",
        show=lambda q: list(q.filters.statuses),
        read=read_statuses,
        build=_status_filter,
    ),
    Control("q", "jobs-q", show=lambda q: q.filters.q or "", read=read_text("q"), build=_name_filter),
    Control(
        "family",
        "jobs-family",
        show=lambda q: q.filters.family or "",
        read=read_text("family", strip=True),
        build=_family_filter,
    ),
    _range_control("created_after", "jobs-created-after", "Created from", "time"),
    _range_control("created_before", "jobs-created-before", "Created before", "time"),
    _range_control("updated_after", "jobs-updated-after", "Updated from", "time"),
    _range_control("updated_before", "jobs-updated-before", "Updated before", "time"),
    _range_control("min_duration", "jobs-min-duration", "Min duration (s)", "seconds"),
    _range_control("max_duration", "jobs-max-duration", "Max duration (s)", "seconds"),
    Control("stuck", "jobs-stuck", show=lambda q: q.filters.stuck, read=read_stuck, build=_stuck_filter),
    Control(
        "page_size",
        "jobs-page-size",
        show=lambda q: str(q.page_size),
        read=read_text("page_size", strip=True),
        build=_page_size_select,
        place="footer",
    ),
)
CONTROL_TRIGGERS = {control.component_id for control in CONTROLS}


def _built(place: str, shown: Mapping[str, object]) -> list[Any]:
    """The controls of one place of the page, showing ``shown``."""
    return [c.build(c.component_id, shown[c.param]) for c in CONTROLS if c.place == place]


def _filters(shown: Mapping[str, object]) -> dbc.Card:
    """The filter controls, showing ``shown``."""
    return dbc.Card(
        dbc.CardBody(dbc.Row(_built("filters", shown), className="g-3 align-items-end")),
        className="shadow-sm mb-3 filters-card",
    )


def _jump_to_date() -> html.Div:
    """A date and a button that start the created-ordered list at that day."""
    return html.Div(
        dbc.InputGroup(
            [
                dbc.Label("Jump to", html_for="jobs-jump-date", className="input-group-text small mb-0"),
                dbc.Input(id="jobs-jump-date", type="date", size="sm"),
                dbc.Button("Go", id="jobs-jump", color="secondary", outline=True, size="sm"),
            ],
            size="sm",
            className="jump-group",
        ),
        title=f"Start the created-ordered list at this day, {zone_description(viewer_zone())}",
    )


def _table_footer(shown: Mapping[str, object], *, enabled: set[str]) -> html.Div:
    """Page size and jump to a date on the left, the pager (``enabled`` buttons) on the right."""
    paging = pager(
        first=("jobs-first", "First"),
        back=("jobs-prev", "Previous"),
        forward=("jobs-next", "Next"),
        enabled=enabled,
    )
    left = html.Div(
        [*_built("footer", shown), _jump_to_date()], className="d-flex flex-wrap gap-2 align-items-center"
    )
    return html.Div(
        [left, paging], className="d-flex flex-wrap justify-content-between align-items-center gap-2"
    )


def _jobs_table(view: Mapping[str, Any], ordering: str, footer: html.Div) -> dbc.Card:
    """The job table showing the first ``view``, its sortable headers sorting by their column."""
    labels = build_sort_labels(ordering)
    headers = []
    for column in JOB_COLUMNS:
        if column.key in SORTABLE:
            button_id, name = SORTABLE[column.key]
            button = html.Button(labels[name], id=button_id, className="sort-button", n_clicks=0)
            headers.append(header_cell(column, button))
        else:
            headers.append(header_cell(column))
    return paged_table(
        prefix="jobs",
        headers=headers,
        spec=JOBS_SPEC,
        data=view["data"],
        notice=view["notice"],
        table_class="table table-hover align-middle mb-0 jobs-table",
        footer=footer,
    )


def _shown_query(query: Mapping[str, object]) -> JobListQuery:
    """The URL's query for the controls; a URL that does not parse shows the defaults (the callback then
    says what is wrong with it)."""
    settings = get_settings()
    sizes = {"default_page_size": settings.default_page_size, "max_page_size": settings.max_page_size}
    try:
        return parse_view(args_from_page_query(query), **sizes)
    except ValidationError:
        return parse_view({}, **sizes)


def _search_of(query: Mapping[str, object]) -> str:
    """The URL's query string again, from the arguments Dash Pages gives ``layout``."""
    try:
        return "?" + urlencode(args_from_page_query(query), doseq=True)
    except ValidationError:
        return ""  # not text: the defaults are shown


def layout(**query: object) -> html.Div:
    """The page showing the URL's query: its controls and its first page of jobs, read here so that the
    rows are drawn with the page (nothing moves when they arrive); later changes go through the callback.
    """
    parsed = _shown_query(query)
    shown = controls_from_query(parsed, CONTROLS)
    view = update_view(None, search=_search_of(query), controls={})
    count = html.Div(
        view["count"],
        id="jobs-count",
        className="text-body-secondary small jobs-count",
        **html_attributes(aria_live="polite"),
    )
    enabled = {role for role, output in PAGER_OUTPUTS.items() if not view[output]}
    return html.Div(
        [
            dcc.Location(id="jobs-url", refresh=False),
            *live.live_parts("jobs"),
            page_header("Jobs", count, _export_button(parsed)),
            _filters(shown),
            html.Div(id="jobs-filter-error", className="mb-3"),
            _jobs_table(view, parsed.ordering, _table_footer(shown, enabled=enabled)),
        ],
        id="jobs-page",
    )


def requested_query(
    trigger: str,
    current: JobListQuery,
    *,
    controls: Mapping[str, object],
    shown: object,
    jump_date: object,
    default_page_size: int,
    max_page_size: int,
) -> JobListQuery:
    """The query the user asked for with ``trigger``, starting from the one the URL shows (``shown`` is the
    table's data, holding the cursors of the pages around it)."""
    if trigger in CONTROL_TRIGGERS:
        # A new filter or page size starts again from page one, keeping the sort (a stuck list has its
        # own: most overdue first).
        ordering = DEFAULT_ORDERING if controls.get("stuck") is True else current.ordering
        args = args_from_controls(controls, CONTROLS, ordering=ordering)
        return parse_view(args, default_page_size=default_page_size, max_page_size=max_page_size)
    if trigger in SORT_BUTTONS:
        ordering = toggle_ordering(current.ordering, SORT_BUTTONS[trigger])
        return dataclasses.replace(current, ordering=ordering, cursor=None)
    if trigger == "jobs-jump":
        return jump_to_date(current, jump_date, zone=viewer_zone())
    if trigger == "jobs-first":
        return with_cursor(current, None)
    if trigger in ("jobs-next", "jobs-prev"):
        cursors = shown if isinstance(shown, dict) else {}
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


EMPTY: dict[str, Any] = {"rows": [], "next": None, "previous": None}
# The pager's buttons by role, named as the view's outputs name them.
PAGER_OUTPUTS = {"first": "first_disabled", "back": "prev_disabled", "forward": "next_disabled"}


def read_table(query: JobListQuery, *, max_page_size: int) -> tuple[Page, Count, str]:
    """One page of jobs for ``query``, their count, and how far a partial name search went."""
    with get_database().read() as conn:
        page, count = list_and_count_jobs(
            conn,
            filters=query.filters,
            ordering=query.ordering,
            page_size=query.page_size,
            max_page_size=max_page_size,
            cursor=query.cursor,
        )
        return page, count, _searched_note(conn, query, page)


def table_data(page: Page) -> dict[str, Any]:
    """The table's data store for a page that was read: its rows and the cursors around it."""
    return {
        "rows": rows_data(page.results, JOB_COLUMNS),
        "next": page.next_cursor,
        "previous": page.previous_cursor,
    }


def render_table(query: JobListQuery, *, max_page_size: int, reset_search: str) -> dict[str, Any]:
    """Read one page and the count for ``query``, and turn them into the table's outputs."""
    out: dict[str, Any] = {
        "first_disabled": query.cursor is None,
        "prev_disabled": True,
        "next_disabled": True,
    }
    try:
        page, count, searched = read_table(query, max_page_size=max_page_size)
    except ValidationError as exc:
        state = error_state(
            "This page link is no longer valid",
            errors=exc.errors,
            reset_href="/jobs" + reset_search,
            reset_label="Back to the first page",
        )
        return {**out, "data": EMPTY, "notice": state, "count": ""}
    except SQLAlchemyError:
        state = database_error_state(
            log,
            "job list",
            detail="The list could not be loaded. Try again, or narrow the filters.",
            reset_href="/jobs" + reset_search,
        )
        return {**out, "data": EMPTY, "notice": state, "count": ""}
    notice: Component | None = None
    if not page.results and searched:
        notice = empty_state(
            "No match in this stretch yet",
            "The search read its budget of jobs without finding a match. Next searches further.",
            icon="bi-search",
        )
    elif not page.results:
        notice = empty_state(
            "No jobs match",
            "Nothing matches these filters. Try a wider date range or fewer filters.",
            icon="bi-search",
            action=dcc.Link("Clear all filters", href="/jobs", className="btn btn-sm btn-outline-primary"),
        )
    return {
        **out,
        "data": table_data(page),
        "notice": notice,
        "count": describe_count(count) + searched,
        "prev_disabled": page.previous_cursor is None,
        "next_disabled": page.next_cursor is None,
    }


OUTPUTS = {
    "search": Output("jobs-url", "search"),
    "controls": {control.param: Output(control.component_id, "value") for control in CONTROLS},
    "data": Output("jobs-data", "data"),
    "notice": Output("jobs-notice", "children"),
    "count": Output("jobs-count", "children"),
    "first_disabled": Output("jobs-first", "disabled"),
    "prev_disabled": Output("jobs-prev", "disabled"),
    "next_disabled": Output("jobs-next", "disabled"),
    "sort_name": Output("jobs-sort-name", "children"),
    "sort_created": Output("jobs-sort-created", "children"),
    "sort_updated": Output("jobs-sort-updated", "children"),
    "sort_duration": Output("jobs-sort-duration", "children"),
    "filter_error": Output("jobs-filter-error", "children"),
    "export_href": Output("jobs-export", "href"),
}


def _changed_controls(before: JobListQuery, after: JobListQuery) -> dict[str, Any]:
    """The values the controls show for ``after`` where they differ from ``before``'s, else no_update."""
    old, new = controls_from_query(before, CONTROLS), controls_from_query(after, CONTROLS)
    return {param: value if value != old[param] else no_update for param, value in new.items()}


def update_view(
    trigger: str | None,
    *,
    search: object,
    controls: Mapping[str, object],
    shown: object = None,
    jump_date: object = None,
) -> dict[str, Any]:
    """The whole view for one event: validate, decide the query, render one page (the callback's body)."""
    settings = get_settings()
    sizes = {"default_page_size": settings.default_page_size, "max_page_size": settings.max_page_size}
    out: dict[str, Any] = dict.fromkeys(OUTPUTS, no_update)
    out["controls"] = {control.param: no_update for control in CONTROLS}
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
            out.update(data=EMPTY, notice=state, count="")
            out.update(first_disabled=True, prev_disabled=True, next_disabled=True)
            return out
        # A control was used on a broken URL: start from the defaults instead.
        current = parse_view({}, **sizes)
    if trigger in URL_TRIGGERS:
        # The URL changed (first load, back/forward, a link): show it in the controls.
        wanted = current
        out["controls"] = controls_from_query(wanted, CONTROLS)
    else:
        try:
            wanted = requested_query(
                str(trigger), current, controls=controls, shown=shown, jump_date=jump_date, **sizes
            )
        except ValidationError as exc:
            out["filter_error"] = error_state("Some filters are not valid", errors=exc.errors)
            return out
        out["search"] = search_from_query(wanted, default_page_size=settings.default_page_size)
        if trigger not in CONTROL_TRIGGERS:
            # A button changed the query (a jump moves the created range): show what it changed. The
            # control being edited is never written to, so what is typed there is never overwritten.
            out["controls"] = _changed_controls(current, wanted)
    out["export_href"] = export_href(wanted)
    first_page = with_cursor(wanted, None)
    read_at = dt.datetime.now(dt.UTC)  # jobs created from here on are newer than the rows shown
    out.update(
        render_table(
            wanted,
            max_page_size=settings.max_page_size,
            reset_search=search_from_query(first_page, default_page_size=settings.default_page_size),
        )
    )
    labels = build_sort_labels(wanted.ordering)
    out.update(
        sort_name=labels["name"],
        sort_created=labels["created"],
        sort_updated=labels["updated"],
        sort_duration=labels["duration"],
    )
    # The URL the table shows, so that the page's Location reporting that same URL costs nothing.
    shown_search = out["search"] if isinstance(out["search"], str) else search
    out["data"] = {**out["data"], "search": shown_search, "as_of": read_at.isoformat()}
    return out


def same_query(search: object, shown: object) -> bool:
    """Whether the URL query ``search`` is the one the table data ``shown`` was read for."""
    if not isinstance(shown, dict) or not isinstance(shown.get("search"), str):
        return False
    try:
        return args_from_search(search) == args_from_search(shown["search"])
    except ValidationError:
        return False


@callbacks.callback(
    output=OUTPUTS,
    inputs={
        "search": Input("jobs-url", "search"),
        "controls": {control.param: Input(control.component_id, "value") for control in CONTROLS},
        "clicks": [Input(button, "n_clicks") for button in SORT_BUTTONS]
        + [Input(button, "n_clicks") for button in ("jobs-first", "jobs-prev", "jobs-next", "jobs-jump")],
    },
    state={
        "pathname": State("jobs-url", "pathname"),
        "shown": State("jobs-data", "data"),
        "jump_date": State("jobs-jump-date", "value"),
    },
    prevent_initial_call=True,  # the layout shows the URL's first page
)
def on_view_change(
    search: object,
    controls: dict[str, object],
    clicks: object,
    pathname: object,
    shown: object,
    jump_date: object,
) -> dict[str, Any]:
    """The URL or a control changed: show the matching page of jobs and keep URL and controls in step."""
    if search is None or pathname is None:
        raise PreventUpdate  # the page's Location has not reported the URL yet
    if not isinstance(pathname, str) or pathname.rstrip("/") != "/jobs":
        raise PreventUpdate  # leaving for another page: nothing to render here
    trigger = ctx.triggered_id
    if trigger == "jobs-url" and same_query(search, shown):
        raise PreventUpdate  # the Location reports the URL the layout already read: the rows are shown
    return update_view(
        trigger if isinstance(trigger, str) else None,
        search=search,
        controls=controls,
        shown=shown,
        jump_date=jump_date,
    )


renderer_callback(callbacks, "jobs")


dash.register_page(
    __name__,
    path="/jobs",
    title="Jobs · JobDash",
    name="Jobs",
    order=1,
    layout=layout,
    nav_icon="bi-list-task",
)
