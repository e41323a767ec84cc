"""The JSON API (documented at /api/openapi.json): one ``/api`` blueprint made of small feature blueprints."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request

from dashboard.api import export, insights, jobs, openapi, stats
from dashboard.api.errors import guard_api_routes, register_error_handlers
from dashboard.api.openapi import operation_of
from dashboard.paths import API_PREFIX
from dashboard.problems import validation_problem
from db.errors import FieldError


def _refuse_undocumented_parameters() -> Response | None:
    """A view that documents no query model takes no query parameters: any is a 400 naming it."""
    op = operation_of(current_app.view_functions.get(request.endpoint or ""))
    if op is not None and op.query is None and request.args:
        return validation_problem(FieldError(name, "is not a known parameter") for name in request.args)
    return None


def register_api(server: Flask) -> None:
    """Mount the API on ``server``, with its request checks, its problem errors and its guard on ``/api/``."""
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for feature in (jobs.bp, export.bp, stats.bp, insights.bp, openapi.bp):
        api.register_blueprint(feature)
    api.before_request(_refuse_undocumented_parameters)
    register_error_handlers(api)
    server.register_blueprint(api)
    guard_api_routes(server, api)
