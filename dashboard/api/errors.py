"""The API's own errors as problems: data-layer errors of its views, and `/api/…` paths it does not serve."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from dashboard.paths import is_api_path
from dashboard.problems import http_problem, problem, validation_problem
from db.errors import NotFound as RecordNotFound
from db.errors import ValidationError


def register_error_handlers(api: Blueprint) -> None:
    """Answer the data layer's invalid input (400) and missing records (404) of the API's views."""

    @api.errorhandler(ValidationError)
    def invalid(exc: ValidationError) -> Response:
        return validation_problem(exc.errors)

    @api.errorhandler(RecordNotFound)
    def missing(exc: RecordNotFound) -> Response:
        return problem(404, "Not Found", str(exc))


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
