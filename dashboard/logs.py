"""Structured logs: one JSON line per record on stderr (each request's line comes from instrumentation.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from dashboard.settings import Settings

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


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


def log_formatter(log_format: str) -> logging.Formatter:
    """The formatter of every line, the app's and gunicorn's (dashboard/gunicorn_conf.py): JSON or text."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(settings: Settings) -> None:
    """Point the root logger at stderr in the configured format and level (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(settings.log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Werkzeug's own access log would duplicate ours.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
