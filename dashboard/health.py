"""Health probes: ``/livez`` while the process serves, ``/readyz`` when its backends answer."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from dashboard.api.openapi import document
from dashboard.api.schemas import Health
from dashboard.cache import cache_ping
from dashboard.database import get_database
from dashboard.problems import problem

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/livez")
@document(
    summary="Liveness: 200 while the process serves", tag="health", responses={200: Health}, public=True
)
def livez() -> Response:
    """200 for as long as the process can answer at all."""
    return jsonify(status="ok")


@bp.get("/readyz")
@document(
    summary="Readiness: 200 when the database (and Redis) answer",
    tag="health",
    responses={200: Health},
    errors=(503,),
    public=True,
)
def readyz() -> Response:
    """200 when the database (and Redis, when configured) answer; 503 problem otherwise."""
    checks: dict[str, str] = {}
    database = get_database()
    for role, engine in (("database", database.writer), ("read_database", database.reader)):
        if role == "read_database" and engine is database.writer:
            continue
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks[role] = "ok"
        except Exception as exc:  # any failure means "not ready"; the log says which
            log.warning("readiness check failed", extra={"check": role, "error": str(exc)})
            checks[role] = "unavailable"
    redis_state = cache_ping()
    if redis_state is not None:
        checks["cache"] = "ok" if redis_state else "unavailable"
    if any(state != "ok" for state in checks.values()):
        failing = ", ".join(name for name, state in checks.items() if state != "ok")
        return problem(503, "Service Unavailable", f"not ready: {failing} did not answer", checks=checks)
    return jsonify(status="ok", checks=checks)
