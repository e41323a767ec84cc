"""The URL paths every part of the app agrees on: where the JSON API lives and the health probes."""

from __future__ import annotations

API_PREFIX = "/api"
LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
HEALTH_PATHS = frozenset({LIVENESS_PATH, READINESS_PATH})


def is_api_path(path: str) -> bool:
    """Whether ``path`` belongs to the JSON API (and so must never get the dashboard's HTML)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")
