"""Measuring each request: its request id, its app and database time (``Server-Timing``), one log line.

Every SQL statement run during a request adds its time to the request's database time, whichever engine
ran it; statements outside a request (the CLI, background threads) are nobody's.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_app_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

request_log = logging.getLogger("jobdash.request")
# An incoming id is echoed into a header and every log line: only short, plain tokens are trusted.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_STARTED = "jobdash_started"


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
) -> None:
    if context is not None:
        context.__dict__[_STARTED] = time.perf_counter()


def _after_cursor_execute(
    conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
) -> None:
    started = context.__dict__.get(_STARTED) if context is not None else None
    # Statements run outside a request (the CLI, background threads) are nobody's Server-Timing.
    if started is None or not has_app_context():
        return
    g.db_ms = g.get("db_ms", 0.0) + (time.perf_counter() - started) * 1000
    g.db_queries = g.get("db_queries", 0) + 1


def track_database_time() -> None:
    """Add the time of every SQL statement run during a request to ``g.db_ms`` (all engines, once)."""
    if not event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(Engine, "after_cursor_execute", _after_cursor_execute)


def init_instrumentation(server: Flask) -> None:
    """Log every request once, echo its request id, and report app and database time in ``Server-Timing``."""
    track_database_time()

    @server.before_request
    def start_timer() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        g.db_ms = 0.0
        g.db_queries = 0

    @server.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:
            return response
        duration_ms = (time.perf_counter() - started) * 1000
        response.headers["X-Request-ID"] = g.request_id
        db_ms = g.get("db_ms", 0.0)
        timing = f'db;dur={db_ms:.2f};desc="database", app;dur={duration_ms:.2f}'
        cache_outcome = g.get("cache_outcome")
        if cache_outcome:
            timing += f', cache;desc="{cache_outcome}"'
        response.headers["Server-Timing"] = timing
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
                "db_ms": round(db_ms, 2),
                "db_queries": g.get("db_queries", 0),
                "cache": g.get("cache_outcome"),
                "request_id": g.request_id,
            },
        )
        return response
