"""What is measured: every list variant, plus detail, history and stats, each as app path, floor path, SQL.

A list variant is (statuses, q, ordering, page). ``page`` is ``first`` or ``deep``: a deep page is a real
keyset cursor page from the middle of the list. The harness builds a cursor positioned at a row near the
middle (by id, which follows creation time), asks the app for that page, and measures the page its ``next``
link points at: a cursor the server itself emitted, never an offset.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import floor_app
from benchdb import Statement, capture_statements, middle_row
from client import KeepAliveClient, expect_ok

from dashboard.params import parse_job_list_query
from db import cursor as cursors
from db import queries
from db.engine import Database

STATUS_SETS: tuple[tuple[str, ...], ...] = (
    (),
    ("PENDING",),
    ("RUNNING",),
    ("COMPLETED",),
    ("FAILED",),
    ("CANCELLED",),
    ("RUNNING", "FAILED"),
)
# The orderings the hand-written floor app also serves (it has no duration column; the duration orderings
# are covered by tests/db/test_plans.py).
ORDERINGS = tuple(o for o in queries.ORDERINGS if o.lstrip("-") != "duration")
COMMON_Q = "etl"  # about 40% of the seeded names
RARE_Q = "ranker-42"  # a few hundred names at 1M, a handful at 10k
ABSENT_Q = "zzqx"  # matches nothing


@dataclass
class Target:
    """One thing measured three ways: over HTTP against the app, against the floor app, as raw SQL."""

    name: str
    kind: str  # list | detail | history | stats
    app_path: str
    floor_path: str | None = None
    statements: list[Statement] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def list_specs() -> list[dict[str, Any]]:
    """Every list variant: statuses x orderings x first/deep, then the ``q`` variants."""
    specs = [
        {"statuses": s, "q": None, "ordering": o, "page": p}
        for s in STATUS_SETS
        for o in ORDERINGS
        for p in ("first", "deep")
    ]
    specs += [
        {"statuses": (), "q": COMMON_Q, "ordering": o, "page": p}
        for o in ORDERINGS
        for p in ("first", "deep")
    ]
    specs += [
        {"statuses": ("FAILED",), "q": COMMON_Q, "ordering": "-created_at", "page": "first"},
        {"statuses": ("RUNNING", "FAILED"), "q": COMMON_Q, "ordering": "-created_at", "page": "first"},
    ]
    specs += [{"statuses": (), "q": RARE_Q, "ordering": o, "page": "first"} for o in ORDERINGS]
    specs += [
        {"statuses": (), "q": ABSENT_Q, "ordering": o, "page": "first"} for o in ("-created_at", "name")
    ]
    return specs


def spec_name(spec: dict[str, Any]) -> str:
    """A readable, stable variant name, e.g. ``list status=RUNNING,FAILED q=etl -created_at deep``."""
    status = ",".join(spec["statuses"]) or "all"
    q = f" q={spec['q']}" if spec["q"] else ""
    return f"list status={status}{q} {spec['ordering']} {spec['page']}"


def _query(spec: dict[str, Any]) -> dict[str, str]:
    """The query parameters of a variant's first page."""
    params: dict[str, str] = {}
    if spec["statuses"]:
        params["status"] = ",".join(spec["statuses"])
    if spec["q"]:
        params["q"] = spec["q"]
    params["ordering"] = spec["ordering"]
    return params


def path_only(url: str) -> str:
    """The root-relative part of a (possibly absolute) URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _app_args(path: str) -> dict[str, list[str]]:
    """The query string of ``path`` as a multi-dict."""
    return parse_qs(urlsplit(path).query, keep_blank_values=True)


def floor_cursor(app_token: str) -> str:
    """The floor app's token for the same position as an app cursor token."""
    raw = json.loads(base64.urlsafe_b64decode(app_token + "=" * (-len(app_token) % 4)))
    _version, _scope, direction, key, ident = raw
    return floor_app.encode_cursor(direction, key, ident)


def _deep_path(
    spec: dict[str, Any], client: KeepAliveClient, url: str, middle_id: int, first_path: str
) -> str | None:
    """The app path of a deep cursor page of ``spec``, or None when the list has no middle."""
    key = spec["ordering"].lstrip("-")
    row = middle_row(url, statuses=spec["statuses"], q=spec["q"], key=key, from_id=middle_id)
    start: str | None = None
    if row is not None:
        query = parse_job_list_query(
            {k: [v] for k, v in _query(spec).items()},
            default_page_size=queries.DEFAULT_PAGE_SIZE,
            max_page_size=queries.MAX_PAGE_SIZE,
        )
        scope = cursors.fingerprint("jobs", query.ordering, query.filters)
        token = cursors.encode(cursors.Cursor("next", row[0], row[1]), scope=scope)
        candidate = f"/api/jobs/?{urlencode({**_query(spec), 'cursor': token})}"
        response = client.get(candidate)
        if response.status == 200 and response.json()["results"]:
            start = candidate
    if start is None:  # fall back to walking `next` from the first page a few times
        start = first_path
        for _ in range(3):
            nxt = expect_ok(client.get(start), start).json().get("next")
            if not nxt:
                return None
            start = path_only(nxt)
    nxt = expect_ok(client.get(start), start).json().get("next")
    if nxt:
        return path_only(nxt)
    return start if "cursor=" in start else None  # the cursor page is the last one: measure it itself


def _floor_path_for(app_path: str) -> str:
    """The floor app's path for the same page as ``app_path``."""
    args = {k: v[0] for k, v in _app_args(app_path).items()}
    if "cursor" in args:
        args["cursor"] = floor_cursor(args["cursor"])
    return f"/floor/jobs/?{urlencode(args)}"


def _list_statements(database: Database, app_path: str) -> list[Statement]:
    """What the list view sends for ``app_path``: the page and its count, in one transaction."""
    query = parse_job_list_query(
        _app_args(app_path), default_page_size=queries.DEFAULT_PAGE_SIZE, max_page_size=queries.MAX_PAGE_SIZE
    )

    def call(conn: Any) -> None:
        queries.list_jobs(
            conn,
            filters=query.filters,
            ordering=query.ordering,
            page_size=query.page_size,
            cursor=query.cursor,
        )
        queries.count_jobs(conn, filters=query.filters)

    return capture_statements(database, call)


def build_targets(
    client: KeepAliveClient, database: Database, url: str, ids: dict[str, Any]
) -> tuple[list[Target], list[str]]:
    """All targets of one size, and the names of variants that have no deep page (skipped)."""
    targets: list[Target] = []
    skipped: list[str] = []
    middle_id = (ids["min_id"] + ids["max_id"]) // 2
    for spec in list_specs():
        first = f"/api/jobs/?{urlencode(_query(spec))}"
        path: str | None = first
        if spec["page"] == "deep":
            path = _deep_path(spec, client, url, middle_id, first)
        if path is None:
            skipped.append(spec_name(spec))
            continue
        targets.append(
            Target(
                spec_name(spec),
                "list",
                path,
                _floor_path_for(path),
                _list_statements(database, path),
                {**spec, "statuses": list(spec["statuses"])},
            )
        )
    job = ids["detail_job"]
    targets.append(
        Target(
            "detail",
            "detail",
            f"/api/jobs/{job}/",
            f"/floor/jobs/{job}/",
            capture_statements(database, lambda c: queries.get_job(c, job_id=job)),
        )
    )
    targets.append(
        Target(
            "history",
            "history",
            f"/api/jobs/{job}/history/",
            f"/floor/jobs/{job}/history/",
            capture_statements(database, lambda c: queries.job_history(c, job_id=job)),
        )
    )
    targets.append(
        Target(
            "stats",
            "stats",
            "/api/stats/",
            "/floor/stats/",
            capture_statements(database, queries.status_totals),
        )
    )
    return targets, skipped


def same_page(target: Target, app_body: Any, floor_body: Any) -> str | None:
    """None when the app and the floor served the same page, else what differs."""
    if target.kind == "list" and app_body.get("partial") is not None and "q=" in target.app_path:
        # The app's name search reads a bounded budget of index entries (db/search.py) and may answer a
        # partial page or a lower-bound count; the floor keeps the plain unbounded ILIKE it replaced.
        return None
    if target.kind in ("list", "history"):
        app_ids = [r["id"] for r in app_body["results"]]
        floor_ids = [r["id"] for r in floor_body["results"]]
        if app_ids != floor_ids:
            return f"ids differ: app {app_ids[:5]}... floor {floor_ids[:5]}..."
        if target.kind == "list" and (app_body["count"], app_body["count_exact"]) != (
            floor_body["count"],
            floor_body["count_exact"],
        ):
            return f"count differs: app {app_body['count']} floor {floor_body['count']}"
        if (app_body["next"] is None) != (floor_body["next"] is None):
            return "one has a next page and the other does not"
    elif target.kind == "detail":
        if app_body["history_count"] != floor_body["history_count"] or app_body["id"] != floor_body["id"]:
            return "detail differs"
    elif target.kind == "stats" and (app_body["by_status"], app_body["exact"]) != (
        floor_body["by_status"],
        floor_body["exact"],
    ):
        return f"stats differ: app {app_body['by_status']} floor {floor_body['by_status']}"
    return None
