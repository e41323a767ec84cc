"""The cache for hot list and stats answers: Redis when JOBDASH_CACHE_URL is set, in-process otherwise."""

from __future__ import annotations

import logging

from flask import Flask, current_app
from flask_caching import Cache

from dashboard.settings import Settings

log = logging.getLogger(__name__)
cache = Cache()


def init_cache(server: Flask, settings: Settings) -> Cache:
    """Configure the shared ``cache`` for ``server`` from ``settings``."""
    if settings.cache_ttl == 0:
        config = {"CACHE_TYPE": "NullCache", "CACHE_NO_NULL_WARNING": True}
    elif settings.cache_url:
        config = {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": settings.cache_url,
            "CACHE_KEY_PREFIX": "jobdash:",
            # Short timeouts: a slow or absent Redis must degrade to uncached answers, not to hangs.
            "CACHE_OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    else:
        config = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 10_000}
    config["CACHE_DEFAULT_TIMEOUT"] = settings.cache_ttl
    cache.init_app(server, config=config)
    server.config["JOBDASH_CACHE_IS_REDIS"] = bool(settings.cache_url) and settings.cache_ttl > 0
    return cache


def cache_ping() -> bool | None:
    """Whether Redis answers; None when no Redis is configured."""
    if not current_app.config.get("JOBDASH_CACHE_IS_REDIS"):
        return None
    try:
        client = cache.cache._write_client  # flask-caching's RedisCache keeps the redis client here
        return bool(client.ping())
    except Exception as exc:  # an unreachable cache makes us unready, never crashes the probe
        log.warning("cache ping failed", extra={"error": str(exc)})
        return False
