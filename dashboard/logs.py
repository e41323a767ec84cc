"""Structured logs: one JSON line per record, and one per request with its duration and request id."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from dashboard.settings import Settings

request_log = logging.getLogger("jobdash.request")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_SAFE_REQUEST_ID = 128


class JsonFormatter(logging.Formatter):
    """Render a record and its ``extra`` fields as one compact JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure_logging(settings: Settings) -> None:
    """Point the root logger at stderr in the configured format and level (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Werkzeug's own access log would duplicate ours.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def init_logging(server: Flask, settings: Settings) -> None:
    """Log every request once, echo its request id, and report the time taken in ``Server-Timing``."""
    configure_logging(settings)

    @server.before_request
    def start_timer() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        valid = 0 < len(incoming) <= _SAFE_REQUEST_ID and incoming.isprintable()
        g.request_id = incoming if valid else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @server.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:
            return response
        duration_ms = (time.perf_counter() - started) * 1000
        response.headers["X-Request-ID"] = g.request_id
        timings = [f"app;dur={duration_ms:.2f}"]
        if "db_ms" in g:
            timings.insert(0, f"db;dur={g.db_ms:.2f}")
        response.headers["Server-Timing"] = ", ".join(timings)
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
                "request_id": g.request_id,
            },
        )
        return response
