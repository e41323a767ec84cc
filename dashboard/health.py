"""Health probes: ``/livez`` while the process serves, ``/readyz`` when its backends answer."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from dashboard.api.openapi import document
from dashboard.api.schemas import Health
from dashboard.cache import cache_ping
from dashboard.database import get_database
from dashboard.paths import LIVENESS_PATH, READINESS_PATH
from dashboard.problems import problem
from dashboard.security import public

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get(LIVENESS_PATH)
@public
@document(summary="Liveness: 200 while the process serves", tag="health", responses={200: Health})
def livez() -> Response:
    """200 for as long as the process can answer at all."""
    return jsonify(status="ok")


@bp.get(READINESS_PATH)
@public
@document(
    summary="Readiness: 200 while the primary database answers (optional backends may be degraded)",
    tag="health",
    responses={200: Health},
    errors=(503,),
)
def readyz() -> Response:
    """200 while the primary database answers; 503 problem when it does not.

    The read replica and Redis are optional: reads fall back to the primary and the cache is bypassed,
    so either one failing is reported as ``degraded`` (still 200), never taken out of rotation.
    """
    checks: dict[str, str] = {}
    database = get_database()
    try:
        with database.writer.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the log says which
        log.warning("readiness check failed", extra={"check": "database", "error": str(exc).splitlines()[0]})
        checks["database"] = "unavailable"
    # The replica's own breaker logs its outage once (db/engine.py) and spares probes its connect timeout.
    replica = database.replica_answers()
    if replica is not None:
        checks["read_database"] = "ok" if replica else "degraded"
    redis_state = cache_ping()
    if redis_state is not None:
        checks["cache"] = "ok" if redis_state else "degraded"
    if checks["database"] != "ok":
        return problem(
            503,
            "Service Unavailable",
            "not ready: the database did not answer",
            headers={"Retry-After": "1"},
            checks=checks,
        )
    return jsonify(status="ok" if all(v == "ok" for v in checks.values()) else "degraded", checks=checks)
