"""The dashboard's floor: a bare Dash app showing the same 50-row keyset page of jobs as ``/jobs``.

One server callback reads the page with raw psycopg (the SQL of ``db/queries.py``'s first and next pages
of the default ordering, and the all-time count from the count tables) and answers the rows as plain
data into a ``dcc.Store``; a clientside function writes them into the table with the DOM. It keeps
``/jobs``' element ids (``jobs-rows`` with ``tr.job-row[data-job-id]``, ``jobs-next``, ``jobs-status``,
``jobs-count``), so the browser measurements drive it exactly as they drive the dashboard. No validation,
no URL state, no styling, no count of a filtered list beyond the count tables: what ``/jobs`` costs above
this is the dashboard's own overhead. Answers are compressed like the dashboard's (brotli 5 / gzip 5).

Served by gunicorn with the app's own config (``benchmarks/servers.py``), at ``/floor/dash/``.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
from typing import Any

import brotli
import dash
import orjson
from dash import ClientsideFunction, Input, Output, State, dcc, html
from flask import Response, request
from floor_app import connection

PAGE_SIZE = 50
STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
COLUMNS = "id, name, current_status_type, created_at, updated_at"

# Rows as [id, name, status, created, updated]; the previous table rows are replaced in one pass.
RENDER = """
window.dash_clientside = Object.assign({}, window.dash_clientside, {floor: {render: function (page) {
    const body = document.getElementById('jobs-rows');
    if (!page || !body) { return window.dash_clientside.no_update; }
    const rows = page.rows.map(function (row) {
        const tr = document.createElement('tr');
        tr.className = 'job-row';
        tr.dataset.jobId = row[0];
        row.forEach(function (value) {
            const td = document.createElement('td');
            td.textContent = value;
            tr.appendChild(td);
        });
        return tr;
    });
    body.replaceChildren.apply(body, rows);
    return page.rows.length;
}}});
"""


def read_page(statuses: list[str], cursor: str | None) -> dict[str, Any]:
    """One keyset page newest first, the count, and the cursor of the next page."""
    where, params = [], []
    if statuses:
        where.append("current_status_type = ANY(%s)")
        params.append(statuses)
    if cursor:
        created, ident = orjson.loads(base64.urlsafe_b64decode(cursor))
        where.append("(created_at, id) < (%s, %s)")
        params += [dt.datetime.fromisoformat(created), ident]
    sql = f"SELECT {COLUMNS} FROM job"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC LIMIT %s"
    conn = connection()
    rows = conn.execute(sql, [*params, PAGE_SIZE + 1]).fetchall()
    count_sql = "SELECT coalesce(sum(jobs), 0) FROM job_count_total"
    count_params: list[Any] = []
    if statuses:
        count_sql += " WHERE status = ANY(%s)"
        count_params.append(statuses)
    count = conn.execute(count_sql, count_params).fetchone()
    shown = rows[:PAGE_SIZE]
    next_cursor = None
    if len(rows) > PAGE_SIZE:
        last = shown[-1]
        next_cursor = base64.urlsafe_b64encode(orjson.dumps([last[3].isoformat(), last[0]])).decode()
    return {
        "rows": [
            [
                row[0],
                row[1],
                row[2],
                row[3].strftime("%Y-%m-%d %H:%M:%S"),
                row[4].strftime("%Y-%m-%d %H:%M:%S"),
            ]
            for row in shown
        ],
        "count": int(count[0]) if count else 0,
        "next": next_cursor,
    }


app = dash.Dash(__name__, url_base_pathname="/floor/dash/", serve_locally=True, update_title=None)
app.index_string = app.index_string.replace("{%scripts%}", "{%scripts%}<script>" + RENDER + "</script>")
app.layout = html.Div(
    [
        dcc.Store(id="floor-page"),
        dcc.Store(id="floor-rendered"),
        dcc.Checklist(id="jobs-status", options=[{"label": s.capitalize(), "value": s} for s in STATUSES]),
        html.Span(id="jobs-count"),
        html.Button("Next", id="jobs-next"),
        html.Table(html.Tbody(id="jobs-rows")),
    ]
)


@app.callback(
    Output("floor-page", "data"),
    Output("jobs-count", "children"),
    Input("jobs-next", "n_clicks"),
    Input("jobs-status", "value"),
    State("floor-page", "data"),
)
def page(_clicks: object, statuses: list[str] | None, shown: dict[str, Any] | None) -> tuple[Any, str]:
    """The first page of the filter, or the next one after a Next click."""
    next_click = dash.ctx.triggered_id == "jobs-next"
    cursor = shown.get("next") if next_click and shown else None
    data = read_page(list(statuses or []), cursor)
    return data, f"{data['count']:,} jobs"


app.clientside_callback(
    ClientsideFunction("floor", "render"), Output("floor-rendered", "data"), Input("floor-page", "data")
)


@app.server.after_request
def compress(response: Response) -> Response:
    """Callback answers and the page brotli- or gzip-encoded when accepted, as the dashboard does."""
    accepted = request.headers.get("Accept-Encoding", "")
    if response.direct_passthrough or response.is_streamed or response.status_code != 200:
        return response
    data = response.get_data()
    if len(data) < 1024:
        return response
    if "br" in accepted:
        response.set_data(brotli.compress(data, quality=5))
        response.headers["Content-Encoding"] = "br"
    elif "gzip" in accepted:
        response.set_data(gzip.compress(data, compresslevel=5))
        response.headers["Content-Encoding"] = "gzip"
    return response


@app.server.get("/floor/dash/readyz")
def readyz() -> Response:
    """200 once the database answers."""
    connection().execute("SELECT 1")
    return Response("ok", mimetype="text/plain")


server = app.server
