"""The floor: a minimal hand-written Flask + psycopg 3 version of the API's read endpoints.

It sends the same SQL as ``db/queries.py`` for each page, following the same count strategy (planner
estimates remembered for 30 s; no count when the estimate is far above the cap; else a count capped at
1,000, then the estimate), on autocommit UTC sessions as the app's reads are, and answers ``orjson.dumps``
of the same JSON envelope. It has no validation, no pydantic, no SQLAlchemy, no middleware: whatever the
real app costs beyond this is overhead of the app, not of the database. Each response says in
``X-Floor-Statements`` how many statements it ran; the benchmark compares that with what the app sends.

Served by gunicorn with the app's own config (``benchmarks/servers.py``); one psycopg connection per
thread. Its cursors are its own (base64 of ``[direction, key, id]``); the benchmark converts the app's.
Read-only: the benchmark never sends it writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import threading
import time
from typing import Any

import orjson
import psycopg
from flask import Flask, Response, request

STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
COUNT_CAP = 1000
SKIP_COUNT_FACTOR = 10
ESTIMATE_TTL_S = 30.0
DEFAULT_PAGE_SIZE = 50
JOB_COLUMNS = "job.id, job.name, job.current_status_type AS status, job.created_at, job.updated_at"
KEYS = {"created_at", "updated_at", "name"}

app = Flask(__name__)
_local = threading.local()
_estimates: dict[tuple[str, tuple[Any, ...]], tuple[float, int]] = {}


def _dsn() -> str:
    """JOBDASH_DATABASE_URL as a libpq URL (without SQLAlchemy's ``+psycopg``)."""
    return os.environ["JOBDASH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)


def connection() -> psycopg.Connection[Any]:
    """This thread's autocommit connection, opened on first use (and again after a failure)."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        timeout = os.environ.get("JOBDASH_DB_STATEMENT_TIMEOUT_MS", "5000")
        options = f"-c timezone=UTC -c statement_timeout={timeout}"
        conn = psycopg.connect(_dsn(), autocommit=True, options=options)
        _local.conn = conn
    return conn


def execute(sql: str, params: Any = ()) -> psycopg.Cursor[Any]:
    """Run one statement on this thread's connection, counting it for ``X-Floor-Statements``."""
    _local.statements = getattr(_local, "statements", 0) + 1
    return connection().execute(sql, params)


def estimate(sql: str, params: list[Any]) -> int:
    """The planner's row estimate for ``sql``, remembered for ESTIMATE_TTL_S (as the app does)."""
    key = (sql, tuple(params))
    now = time.monotonic()
    remembered = _estimates.get(key)
    if remembered is not None and now - remembered[0] < ESTIMATE_TTL_S:
        return remembered[1]
    plan = execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()[0]  # type: ignore[index]
    value = int(plan[0]["Plan"]["Plan Rows"])
    if len(_estimates) > 4096:
        _estimates.clear()
    _estimates[key] = (now, value)
    return value


@app.before_request
def _reset_counter() -> None:
    """Start counting this request's statements."""
    _local.statements = 0


@app.after_request
def _report_counter(response: Response) -> Response:
    """Say how many statements the request ran."""
    response.headers["X-Floor-Statements"] = str(getattr(_local, "statements", 0))
    return response


def json_response(payload: Any, status: int = 200) -> Response:
    """``payload`` as JSON through orjson."""
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def encode_cursor(direction: str, key: Any, ident: int) -> str:
    """The floor's cursor token."""
    value = key.isoformat() if isinstance(key, dt.datetime) else key
    raw = orjson.dumps([direction, value, ident])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str, key: str) -> tuple[str, Any, int]:
    """``(direction, key value, id)`` of a floor cursor token."""
    direction, value, ident = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return direction, (value if key == "name" else dt.datetime.fromisoformat(value)), int(ident)


def _filters(statuses: list[str], q: str | None) -> tuple[list[str], list[Any]]:
    """WHERE clauses (and their parameters) for ``q``; statuses are handled by the caller."""
    if not q:
        return [], []
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ["job.name ILIKE %s ESCAPE '\\'"], [f"%{escaped}%"]


def _page_sql(
    statuses: list[str],
    q: str | None,
    key: str,
    descending: bool,
    position: tuple[Any, int] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """The keyset page statement: one ordered scan, or a UNION ALL of one ordered scan per status."""
    arrow, direction = ("<", "DESC") if descending else (">", "ASC")
    order = f"ORDER BY job.{key} {direction}, job.id {direction}"
    common, common_params = _filters(statuses, q)
    if position is not None:
        common = [*common, f"(job.{key}, job.id) {arrow} (%s, %s)"]
        common_params = [*common_params, position[0], position[1]]
    if len(statuses) > 1:
        branches, params = [], []
        for status in statuses:
            where = " AND ".join(["job.current_status_type = %s", *common])
            branches.append(f"(SELECT {JOB_COLUMNS} FROM job WHERE {where} {order} LIMIT %s)")
            params += [status, *common_params, limit]
        union = " UNION ALL ".join(branches)
        outer = f"ORDER BY u.{key} {direction}, u.id {direction}"
        return f"SELECT u.* FROM ({union}) AS u {outer} LIMIT %s", [*params, limit]
    conds, params = list(common), list(common_params)
    if statuses:
        conds.insert(0, "job.current_status_type = %s")
        params.insert(0, statuses[0])
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    return f"SELECT {JOB_COLUMNS} FROM job {where} {order} LIMIT %s", [*params, limit]


def _count(statuses: list[str], q: str | None) -> tuple[int, bool]:
    """(count, exact): without q, summed from the count tables the write path keeps; with q, the
    planner's estimate when far above COUNT_CAP, else a count capped there."""
    if not q:
        wanted = statuses or list(STATUSES)
        total = execute("SELECT coalesce(sum(jobs), 0) FROM job_count_total WHERE status = ANY(%s)", [wanted])
        return int(total.fetchone()[0]), True  # type: ignore[index]
    conds, params = _filters(statuses, q)
    if len(statuses) == 1:
        conds, params = [*conds, "job.current_status_type = %s"], [*params, statuses[0]]
    elif statuses:
        marks = ", ".join(["%s"] * len(statuses))
        conds, params = [*conds, f"job.current_status_type IN ({marks})"], [*params, *statuses]
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    matching = f"SELECT 1 FROM job{where}"
    guess = estimate(matching, params)
    if guess > COUNT_CAP * SKIP_COUNT_FACTOR:
        return guess, False
    capped = execute(f"SELECT count(*) FROM ({matching} LIMIT %s) AS c", [*params, COUNT_CAP + 1])
    value = capped.fetchone()[0]  # type: ignore[index]
    if value <= COUNT_CAP:
        return value, True
    return max(estimate(matching, params), COUNT_CAP + 1), False


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    """A list item from a row of JOB_COLUMNS."""
    return {"id": row[0], "name": row[1], "status": row[2], "created_at": row[3], "updated_at": row[4]}


@app.get("/floor/jobs/")
def list_jobs() -> Response:
    """One list page and its count, by keyset cursor."""
    args = request.args
    statuses = [s.strip().upper() for s in ",".join(args.getlist("status")).split(",") if s.strip()]
    if len(statuses) == len(STATUSES):
        statuses = []
    q = args.get("q") or None
    ordering = args.get("ordering", "-created_at")
    key, descending = ordering.lstrip("-"), ordering.startswith("-")
    page_size = int(args.get("page_size", DEFAULT_PAGE_SIZE))
    token = args.get("cursor")
    direction, position = "next", None
    if token:
        direction, value, ident = decode_cursor(token, key)
        position = (value, ident)
    backwards = direction == "prev"
    sql, params = _page_sql(statuses, q, key, descending != backwards, position, page_size + 1)

    rows = execute(sql, params).fetchall()
    count, exact = _count(statuses, q)
    more = len(rows) > page_size
    del rows[page_size:]
    if backwards:
        rows.reverse()
    key_index = {"created_at": 3, "updated_at": 4, "name": 1}[key]
    base = request.path + "?" + "&".join(f"{k}={v}" for k, v in args.items() if k != "cursor")
    has_next = (backwards or more) and bool(rows)
    has_previous = (more if backwards else position is not None) and bool(rows)
    nxt = f"{base}&cursor={encode_cursor('n', rows[-1][key_index], rows[-1][0])}" if has_next else None
    prev = f"{base}&cursor={encode_cursor('p', rows[0][key_index], rows[0][0])}" if has_previous else None
    return json_response(
        {
            "results": [_item(r) for r in rows],
            "next": nxt,
            "previous": prev,
            "count": count,
            "count_exact": exact,
        }
    )


@app.get("/floor/jobs/<int:job_id>/")
def get_job(job_id: int) -> Response:
    """One job with its history count."""
    sql = (
        f"SELECT {JOB_COLUMNS}, (SELECT count(*) FROM job_status WHERE job_status.job_id = job.id)"
        " AS history_count FROM job WHERE job.id = %s"
    )
    row = execute(sql, [job_id]).fetchone()
    if row is None:
        return json_response({"title": "Not Found", "status": 404}, 404)
    return json_response({**_item(row), "history_count": row[5]})


@app.get("/floor/jobs/<int:job_id>/history/")
def job_history(job_id: int) -> Response:
    """A job's first page of events, newest first."""
    page_size = int(request.args.get("page_size", DEFAULT_PAGE_SIZE))
    sql = (
        "SELECT job_status.id, job_status.status_type AS status, job_status.timestamp, job_status.message"
        " FROM job_status WHERE job_status.job_id = %s"
        " ORDER BY job_status.timestamp DESC, job_status.id DESC LIMIT %s"
    )
    if execute("SELECT job.id FROM job WHERE job.id = %s", [job_id]).fetchone() is None:
        return json_response({"title": "Not Found", "status": 404}, 404)
    rows = execute(sql, [job_id, page_size + 1]).fetchall()
    more = len(rows) > page_size
    del rows[page_size:]
    results = [{"id": r[0], "status": r[1], "timestamp": r[2], "message": r[3]} for r in rows]
    nxt = f"{request.path}?cursor={encode_cursor('n', rows[-1][2], rows[-1][0])}" if more and rows else None
    return json_response({"results": results, "next": nxt, "previous": None})


@app.get("/floor/stats/")
def stats() -> Response:
    """Jobs per status, exact, summed from the all-time count rows the write path keeps."""
    counts = dict(execute("SELECT status, sum(jobs) FROM job_count_total GROUP BY status").fetchall())
    by_status = {s: int(counts.get(s, 0)) for s in STATUSES}
    now = dt.datetime.now(dt.UTC)
    return json_response(
        {"by_status": by_status, "total": sum(by_status.values()), "exact": True, "as_of": now}
    )


@app.get("/floor/readyz")
def readyz() -> Response:
    """200 when the database answers."""
    execute("SELECT 1").fetchone()
    return json_response({"status": "ok"})
