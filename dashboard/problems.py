"""RFC 9457 problem details: the one shape of every error JobDash's HTTP endpoints return."""

from __future__ import annotations

from typing import Any

from flask import Response, json

PROBLEM_TYPE_BASE = "https://jobdash.dev/problems/"


def problem(status: int, title: str, detail: str, *, type_: str | None = None, **extra: Any) -> Response:
    """An ``application/problem+json`` response."""
    body = {
        "type": PROBLEM_TYPE_BASE + (type_ or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")
