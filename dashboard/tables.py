"""Paged tables whose rows travel as data: the columns, the rows' JSON, and what the browser needs to draw
them (``assets/jobdash.js``).

A table's server callback answers plain rows (one dict per row, keyed by column, with an ``id``) instead
of a tree of ``html.Tr``/``html.Td`` components: a 50-row page is then about the API's answer, and the
browser draws it with the DOM, keyed by id, re-drawing only rows that changed. What each column shows is
declared once here (:class:`Column`); adding a column is one entry in a table's tuple (and, for a new
kind of cell, one case in ``assets/jobdash.js``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from dash.development.base_component import Component

from dashboard.components import STATUS_COLORS, STATUS_ICONS, format_duration, html_attributes, status_label
from dashboard.local_time import zone_label
from dashboard.pages import PageCallbacks
from db.models import STATUSES

# How the browser draws a cell: "id" (#123), "link" (the value, linking to `href` with {id}), "status" (a
# badge), "time" (in the viewer's zone, its header naming it), "duration" ({text, running}: muted while
# running), "text" (`empty` when blank).
KINDS = frozenset({"id", "link", "status", "time", "duration", "text"})


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header, how its cells are drawn and styled."""

    key: str
    header: str
    kind: str = "text"
    cell_class: str = ""
    header_class: str = ""
    href: str = ""  # for links: a path with {id}
    link_class: str = ""
    empty: str = ""  # shown for a blank text value
    empty_class: str = ""
    # What the cell gets from the whole row, when it is not the row's ``key`` field as it is.
    value: Callable[[Mapping[str, Any]], object] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    def spec(self) -> dict[str, str]:
        """What the browser needs to draw this column's cells."""
        spec = {"key": self.key, "kind": self.kind, "className": self.cell_class}
        optional = {
            "href": self.href,
            "linkClass": self.link_class,
            "empty": self.empty,
            "emptyClass": self.empty_class,
        }
        spec.update({name: value for name, value in optional.items() if value})
        return spec


JOB_COLUMNS = (
    Column(
        "id",
        "ID",
        "id",
        cell_class="text-body-secondary font-monospace small id-cell",
        header_class="id-col",
    ),
    Column(
        "name",
        "Name",
        "link",
        cell_class="name-cell",
        href="/jobs/{id}",
        link_class="job-link stretched-link",
    ),
    Column("status", "Status", "status", header_class="status-col"),
    Column("created_at", "Created", "time", cell_class="time-cell"),
    Column("updated_at", "Updated", "time", cell_class="time-cell"),
    Column(
        "duration",
        "Duration",
        "duration",
        cell_class="duration-cell text-nowrap",
        value=lambda row: duration_cell(row),
    ),
)
HISTORY_COLUMNS = (
    Column("status", "Status", "status"),
    Column("timestamp", "Time", "time", cell_class="time-cell"),
    Column("message", "Message", cell_class="message-cell", empty="—", empty_class="text-body-secondary"),
)


def duration_cell(row: Mapping[str, Any], *, now: dt.datetime | None = None) -> dict[str, object]:
    """A finished job's duration, or for an unfinished one its running time so far (``running 3 h 12 m``)."""
    if row.get("duration") is not None:
        return {"text": format_duration(dt.timedelta(seconds=float(row["duration"]))), "running": False}
    so_far = ((now or dt.datetime.now(dt.UTC)) - row["created_at"]).total_seconds()
    # To the minute: the text (and so the row) changes once a minute, not on every refresh.
    minutes = int(max(so_far, 0.0) // 60)
    if minutes < 60:
        text = "running < 1m" if minutes == 0 else f"running {minutes}m"
    else:
        text = f"running {format_duration(dt.timedelta(minutes=minutes))}"
    return {"text": text, "running": True}


def _json_value(value: object) -> object:
    """A cell value as JSON: times as ISO 8601 in UTC, everything else as it is."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def rows_data(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> list[dict[str, object]]:
    """The rows as the browser gets them: ``id`` and each column's value."""
    cells = [column for column in columns if column.key != "id"]
    return [
        {
            "id": row["id"],
            **{c.key: _json_value(c.value(row) if c.value else row[c.key]) for c in cells},
        }
        for row in rows
    ]


def render_spec(body_id: str, columns: Sequence[Column], *, row_class: str, row_key: str) -> dict[str, Any]:
    """The drawing instructions of one table: its columns, row class and key, the status badges' looks."""
    return {
        "body": body_id,
        "rowClass": row_class,
        "rowKey": row_key,
        "columns": [column.spec() for column in columns],
        "statuses": {
            status: {
                "color": STATUS_COLORS[status],
                "icon": STATUS_ICONS[status],
                "label": status_label(status),
            }
            for status in STATUSES
        },
    }


def header_cell(column: Column, content: Any = None) -> html.Th:
    """The column's header (``content`` replaces its plain title, e.g. with a sort button); a time
    column's title names the zone its times are shown in."""
    if content is None:
        content = [column.header, zone_label()] if column.kind == "time" else column.header
    return html.Th(content, scope="col", className=column.header_class or None)


def renderer_callback(callbacks: PageCallbacks, prefix: str) -> None:
    """Record, for a page, the clientside callback drawing table ``prefix``'s rows from its data store."""
    callbacks.clientside_callback(
        ClientsideFunction("jobdash", "renderRows"),
        Output(f"{prefix}-rendered", "data"),
        Input(f"{prefix}-data", "data"),
        State(f"{prefix}-spec", "data"),
    )


def paged_table(
    *,
    prefix: str,
    headers: list[html.Th],
    spec: dict[str, Any],
    data: dict[str, Any] | None,
    notice: Component | None,
    table_class: str,
    footer: Component,
    footer_class: str | None = None,
    header: Component | None = None,
) -> dbc.Card:
    """A card holding a table drawn in the browser from the store ``{prefix}-data`` (its rows and the
    cursors of the pages around), one keyset page at a time, dimmed under a spinner while a page loads;
    ``{prefix}-notice`` under the rows holds an empty or error state; the paging controls are in its footer.

    The first page's ``data`` is part of the layout, so the rows are drawn as soon as the page is.
    """
    table = html.Table([html.Thead(html.Tr(headers)), html.Tbody(id=spec["body"])], className=table_class)
    # The rows are drawn just after the page's first paint: their height is reserved until then, so that
    # nothing under the table moves (assets/jobdash.js lifts the reserve once the rows are there).
    reserved = len(data["rows"]) if data else 0
    reserve = {"minHeight": f"calc({reserved} * var(--jd-row-height) + var(--jd-head-height))"}
    box = html.Div(
        table,
        className="table-responsive paged-table",
        style=reserve if reserved else None,
        **html_attributes(data_reserved_rows=str(reserved)),
    )
    content = html.Div(
        [
            dcc.Store(id=f"{prefix}-data", data=data),
            dcc.Store(id=f"{prefix}-spec", data=spec),
            dcc.Store(id=f"{prefix}-rendered"),
            box,
            html.Div(notice, id=f"{prefix}-notice"),
        ]
    )
    loading = dcc.Loading(
        content,
        # Dash types target_components as an empty TypedDict; it maps a component id to a property.
        target_components={f"{prefix}-data": "data"},  # type: ignore[arg-type]
        delay_show=250,
        overlay_style={"visibility": "visible", "opacity": 0.45},
        custom_spinner=dbc.Spinner(color="primary"),
    )
    parts: list[Component] = [] if header is None else [header]
    parts.append(dbc.CardBody(loading, className="p-0"))
    parts.append(dbc.CardFooter(footer, className=footer_class) if footer_class else dbc.CardFooter(footer))
    return dbc.Card(parts, className="shadow-sm")
