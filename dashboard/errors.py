"""App-wide error handlers: every HTTP error, an unavailable database and any crash become problems."""

from __future__ import annotations

import logging

from flask import Flask, Response, g
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from dashboard.problems import http_problem, problem

log = logging.getLogger(__name__)


def init_error_handlers(server: Flask) -> None:
    """Answer HTTP errors, database outages (503) and crashes (500) on every path as problems."""

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return http_problem(exc)

    @server.errorhandler(OperationalError)
    @server.errorhandler(PoolTimeout)
    def database_unavailable(exc: Exception) -> Response:
        # A lost connection, a full pool or a statement timeout: the client may retry, nothing is corrupt.
        log.warning("database unavailable", extra={"error": str(exc).splitlines()[0]})
        return problem(
            503, "Service Unavailable", "the database did not answer in time", headers={"Retry-After": "1"}
        )

    @server.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc, extra={"request_id": g.get("request_id")})
        detail = f"an unexpected error occurred; quote request id {g.get('request_id', 'unknown')}"
        return problem(500, "Internal Server Error", detail)
