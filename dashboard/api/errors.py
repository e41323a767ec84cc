"""Every error as application/problem+json: data-layer errors, HTTP errors, unknown API routes, crashes."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, g, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from dashboard.problems import http_problem, problem, validation_problem
from db.errors import NotFound as RecordNotFound
from db.errors import ValidationError

log = logging.getLogger(__name__)
API_PREFIX = "/api"


def is_api_path(path: str) -> bool:
    """Whether ``path`` belongs to the JSON API (and so must never get the dashboard's HTML)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def register_error_handlers(server: Flask, api: Blueprint) -> None:
    """Turn every error into a problem: data-layer errors on the API, HTTP errors and crashes everywhere."""

    @api.errorhandler(ValidationError)
    def invalid(exc: ValidationError) -> Response:
        return validation_problem(exc.errors)

    @api.errorhandler(RecordNotFound)
    def missing(exc: RecordNotFound) -> Response:
        return problem(404, "Not Found", str(exc))

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


def guard_api_routes(server: Flask, api: Blueprint) -> None:
    """Answer ``/api/…`` paths the API does not serve with 404/405 problems, not the dashboard's page.

    Dash routes every unknown GET to its HTML index, so the API re-matches such requests against a map
    of its own rules alone: that gives the honest 404, 405 (with ``Allow``) or trailing-slash redirect.
    """
    api_map: Map | None = None

    def own_map() -> Map:
        nonlocal api_map
        if api_map is None:
            api_map = Map(
                [
                    Rule(rule.rule, endpoint=rule.endpoint, methods=rule.methods)
                    for rule in server.url_map.iter_rules()
                    if rule.endpoint.startswith(api.name + ".")
                ]
            )
        return api_map

    @server.before_request
    def not_ours() -> Response | None:
        if not is_api_path(request.path):
            return None
        adapter = own_map().bind_to_environ(request.environ)
        if request.method == "OPTIONS" and (request.blueprint or "").split(".")[0] == api.name:
            # Flask's own answer lists the methods of every rule matching the path, Dash's catch-all
            # page route (GET) included: list only what the API serves here.
            response = Response(status=200, headers={"Allow": ", ".join(sorted(adapter.allowed_methods()))})
            del response.headers["Content-Type"]
            return response
        if (request.blueprint or "").split(".")[0] == api.name:
            return None
        try:
            adapter.match(method=request.method)
        except RequestRedirect as redirect:
            # Keep the answer free of HTML and the Location root-relative, like every link of the API.
            target = urlsplit(redirect.new_url)
            location = target.path + (f"?{target.query}" if target.query else "")
            response = Response(status=308, headers={"Location": location})
            del response.headers["Content-Type"]  # an empty body, not an empty HTML page
            return response
        except (NotFound, MethodNotAllowed) as exc:
            return http_problem(exc)
        return http_problem(NotFound())
