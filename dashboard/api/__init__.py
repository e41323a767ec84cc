"""The JSON API (documented at /api/openapi.json): one ``/api`` blueprint made of small feature blueprints."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request

from dashboard.api import jobs, openapi, stats
from dashboard.api.auth import write_refusal
from dashboard.api.errors import guard_api_routes, register_error_handlers
from dashboard.api.openapi import operation_of
from dashboard.paths import API_PREFIX
from dashboard.problems import validation_problem
from dashboard.settings import get_settings
from db.errors import FieldError


def _check_operation() -> Response | None:
    """Apply what the view's documented operation demands: a write token, no stray parameters."""
    op = operation_of(current_app.view_functions.get(request.endpoint or ""))
    if op is None:
        return None
    if op.write:
        refusal = write_refusal(get_settings())
        if refusal is not None:
            return refusal
    if op.query is None and request.args:
        return validation_problem(FieldError(name, "is not a known parameter") for name in request.args)
    return None


def register_api(server: Flask) -> None:
    """Mount the API on ``server``, with its request checks, its problem errors and its guard on ``/api/``."""
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for feature in (jobs.bp, stats.bp, openapi.bp):
        api.register_blueprint(feature)
    api.before_request(_check_operation)
    register_error_handlers(api)
    server.register_blueprint(api)
    guard_api_routes(server, api)
