"""Cached answers for hot list and stats views.

One cache for the process, built by :func:`init_cache` from the settings (Superset's pattern of one cache
built from its own configuration): Redis when ``JOBDASH_CACHE_URL`` is set, in-process otherwise, nothing
when ``JOBDASH_CACHE_TTL`` is 0. What it holds are finished JSON response bodies (bytes), never pickles.

- **Freshness.** Every key embeds a generation number; every write bumps it, so a read after a write never
  sees an answer computed before it (across workers too, with Redis; the in-process cache is per process).
- **No stampede.** Concurrent misses of one key compute it once: the others wait for that answer (a lock per
  key in-process; ``SET NX`` with a short expiry in Redis) and compute it themselves only if it never comes.
- **Redis is optional at run time.** Short connect and socket timeouts; on any Redis error the request is
  served uncached, one warning is logged, and the cache is bypassed for a few seconds (a circuit breaker)
  so a hung Redis does not add its timeout to every request.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cachelib.serializers import BaseSerializer
from flask import Flask, current_app, g
from flask_caching import Cache
from flask_caching.backends.rediscache import RedisCache
from flask_caching.backends.simplecache import SimpleCache

from dashboard.settings import Settings

log = logging.getLogger(__name__)
_EXTENSION = "jobdash.cache"
GENERATION_KEY = "generation"
REDIS_TIMEOUT_S = 0.25
BREAKER_SECONDS = 5.0
# How long a miss waits for another worker computing the same key before computing it itself.
FILL_WAIT_S = 2.0


class BytesSerializer(BaseSerializer):
    """Store values as they are: our values are JSON bytes (and generation counters), never pickles."""

    def dumps(self, value: Any, protocol: int | None = None) -> Any:
        """Bytes and ints go to the store unchanged."""
        if isinstance(value, bytes | int):
            return value
        raise TypeError(f"the cache stores JSON bytes, not {type(value).__name__}")

    def loads(self, bvalue: Any) -> Any:
        """What was stored comes back unchanged (None for a miss)."""
        return bvalue


class JsonRedisCache(RedisCache):
    """flask-caching's Redis backend, storing raw JSON bytes instead of pickles."""

    serializer = BytesSerializer()


class JsonSimpleCache(SimpleCache):
    """flask-caching's in-process backend, storing raw JSON bytes instead of pickles."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serializer = BytesSerializer()


@dataclass
class ResponseCache:
    """Cached JSON bodies keyed by view, parameters and write generation (see the module docstring)."""

    cache: Cache
    ttl: int
    is_redis: bool
    _local_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)
    _bypass_until: float = 0.0

    @property
    def enabled(self) -> bool:
        """False when JOBDASH_CACHE_TTL is 0."""
        return self.ttl > 0

    def get_or_compute(
        self, view: str, params: Iterable[tuple[str, str]], compute: Callable[[], bytes]
    ) -> tuple[bytes, str]:
        """The body for ``view`` with ``params``, and how it was served: hit, miss, bypass or off.

        Only cache operations are guarded: an error raised by ``compute`` itself propagates unchanged.
        """
        if not self.enabled:
            return compute(), "off"
        if time.monotonic() < self._bypass_until:
            return compute(), "bypass"
        try:
            key = self._key(view, params)
            cached = self.cache.get(key)
        except Exception as exc:  # any cache failure degrades to an uncached answer
            self._trip(exc)
            return compute(), "bypass"
        if cached is not None:
            return bytes(cached), "hit"
        fill = self._fill_shared if self.is_redis else self._fill_local
        return fill(key, compute), "miss"

    def bump_generation(self) -> None:
        """Make every cached answer stale: called after each successful write."""
        if not self.enabled or time.monotonic() < self._bypass_until:
            return
        try:
            self.cache.cache.inc(GENERATION_KEY)  # atomic INCRBY on Redis
        except Exception as exc:  # a write must not fail because the cache is down
            self._trip(exc)

    def _generation(self) -> int:
        value = self.cache.get(GENERATION_KEY)
        return int(value) if value is not None else 0

    def _key(self, view: str, params: Iterable[tuple[str, str]]) -> str:
        canonical = "&".join(f"{k}={v}" for k, v in sorted(params))
        digest = hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
        return f"{view}:{self._generation()}:{digest}"

    def _store(self, key: str, body: bytes) -> None:
        try:
            self.cache.set(key, body, timeout=self.ttl)
        except Exception as exc:  # the answer is still good; only caching it failed
            self._trip(exc)

    def _fill_local(self, key: str, compute: Callable[[], bytes]) -> bytes:
        with self._local_lock(key):
            cached = self.cache.get(key)
            if cached is not None:
                return bytes(cached)
            body = compute()
            self._store(key, body)
            return body

    def _local_lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._local_locks) > 10_000:  # keys expire; their locks need not live forever
                self._local_locks = {k: v for k, v in self._local_locks.items() if v.locked()}
            return self._local_locks.setdefault(key, threading.Lock())

    def _fill_shared(self, key: str, compute: Callable[[], bytes]) -> bytes:
        client = self.cache.cache._write_client  # flask-caching keeps the redis client here
        lock_key = f"{self.cache.cache.key_prefix}lock:{key}"
        try:
            leader = client.set(lock_key, b"1", nx=True, px=int(FILL_WAIT_S * 1000))
        except Exception as exc:
            self._trip(exc)
            return compute()
        if leader:
            try:
                body = compute()
                self._store(key, body)
                return body
            finally:
                with contextlib.suppress(Exception):
                    client.delete(lock_key)
        deadline = time.monotonic() + FILL_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(0.005)
            try:
                cached = self.cache.get(key)
            except Exception as exc:
                self._trip(exc)
                break
            if cached is not None:
                return bytes(cached)
        return compute()  # the leader never delivered: answer anyway, uncached

    def _trip(self, exc: Exception) -> None:
        self._bypass_until = time.monotonic() + BREAKER_SECONDS
        log.warning(
            "cache unavailable; serving uncached",
            extra={"error": f"{type(exc).__name__}: {exc}", "bypass_seconds": BREAKER_SECONDS},
        )


def init_cache(server: Flask, settings: Settings) -> ResponseCache:
    """Build the process's ResponseCache from ``settings`` and attach it to ``server``."""
    if settings.cache_ttl == 0:
        config: dict[str, Any] = {"CACHE_TYPE": "NullCache", "CACHE_NO_NULL_WARNING": True}
    elif settings.cache_url:
        config = {
            "CACHE_TYPE": "dashboard.cache.JsonRedisCache",
            "CACHE_REDIS_URL": settings.cache_url,
            "CACHE_KEY_PREFIX": "jobdash:",
            # A slow or absent Redis must degrade to uncached answers, not to slow ones.
            "CACHE_OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_S, "socket_timeout": REDIS_TIMEOUT_S},
        }
    else:
        config = {"CACHE_TYPE": "dashboard.cache.JsonSimpleCache", "CACHE_THRESHOLD": 10_000}
    config["CACHE_DEFAULT_TIMEOUT"] = settings.cache_ttl
    backend = Cache()
    backend.init_app(server, config=config)
    response_cache = ResponseCache(
        cache=backend, ttl=settings.cache_ttl, is_redis=bool(settings.cache_url) and settings.cache_ttl > 0
    )
    server.extensions[_EXTENSION] = response_cache
    return response_cache


def get_cache() -> ResponseCache:
    """The ResponseCache of the app handling the current request."""
    response_cache: ResponseCache = current_app.extensions[_EXTENSION]
    return response_cache


def cache_params(params: Mapping[str, object]) -> list[tuple[str, str]]:
    """Query parameters as (name, text) pairs for a cache key; list values are joined in order."""
    pairs = []
    for name, value in params.items():
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        pairs.append((name, text))
    return pairs


def cached_body(view: str, params: Iterable[tuple[str, str]], compute: Callable[[], bytes]) -> bytes:
    """:meth:`ResponseCache.get_or_compute` for the current app; records the outcome for Server-Timing."""
    body, outcome = get_cache().get_or_compute(view, params, compute)
    g.cache_outcome = outcome
    return body


def cache_ping() -> bool | None:
    """Whether Redis answers; None when no Redis is configured."""
    response_cache = get_cache()
    if not response_cache.is_redis:
        return None
    try:
        return bool(response_cache.cache.cache._write_client.ping())
    except Exception as exc:  # an unreachable cache makes us unready, never crashes the probe
        log.warning("cache ping failed", extra={"error": str(exc)})
        return False
