"""The JSON API (documented at /api/openapi.json): one ``/api`` blueprint made of small feature blueprints."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request

from dashboard.api import insights, jobs, openapi, stats
from dashboard.api.auth import init_basic_auth, write_refusal
from dashboard.api.errors import API_PREFIX, guard_api_routes, register_error_handlers
from dashboard.api.openapi import operation_of
from dashboard.database import get_settings
from dashboard.problems import validation_problem
from dashboard.settings import Settings
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


def register_api(server: Flask, settings: Settings) -> None:
    """Mount the API on ``server``, with its auth, its problem errors and its guard on ``/api/`` paths."""
    api = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for feature in (jobs.bp, stats.bp, insights.bp, openapi.bp):
        api.register_blueprint(feature)
    api.before_request(_check_operation)
    register_error_handlers(server, api)
    server.register_blueprint(api)
    init_basic_auth(server, settings)
    guard_api_routes(server, api)
