"""RFC 9457 problem details: the one shape of every error JobDash's HTTP endpoints return."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, current_app
from werkzeug.exceptions import HTTPException

from db.errors import FieldError

PROBLEM_TYPE_BASE = "https://jobdash.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An ``application/problem+json`` response."""
    body = {
        "type": PROBLEM_TYPE_BASE + (type_ or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(current_app.json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE, headers=headers)


def validation_problem(errors: Iterable[FieldError], *, status: int = 400) -> Response:
    """A 400 problem listing every invalid input by field."""
    items = [{"field": e.field, "message": e.message} for e in errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in items) or "the request is invalid"
    return problem(status, "Invalid request", detail, type_="validation", errors=items)


def http_problem(exc: HTTPException) -> Response:
    """The problem for a werkzeug HTTP error (404, 405, 413…), keeping headers such as ``Allow``."""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    title = exc.name or "Error"
    return problem(status, title, exc.description or title, headers=headers)
