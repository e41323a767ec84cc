"""Cached answers for hot list and stats views (the design: docs/architecture.md, "Cache").

One cache for the process, built by :func:`init_cache` from the settings (Superset's pattern of one cache
built from its own configuration): Redis when ``JOBDASH_CACHE_URL`` is set, in-process otherwise, nothing
when ``JOBDASH_CACHE_TTL`` is 0. What it holds are finished JSON response bodies (bytes), never pickles.

- **Freshness.** Every key embeds a generation number; every write bumps it, so a read after a write never
  sees an answer computed before it (across workers too, with Redis; the in-process cache is per process).
  Generations never go back: a bump sets ``max(old + 1, now in microseconds)`` and a lost generation key
  (a restart, an eviction) comes back as the current time, above every generation handed out before it.
  A bump that cannot reach Redis stays pending: this process serves uncached until a retry lands it.
- **Unambiguous keys.** A key is the view, the generation and a digest of the JSON of the sorted
  parameters and the request's script root (which the cached ``next`` links contain).
- **Bounded memory.** The in-process cache holds at most ``JOBDASH_CACHE_MAX_MB`` of bodies (LRU).
- **No stampede.** Concurrent misses of one key compute it once: the others wait for that answer (a lock per
  key in-process; ``SET NX`` with a short expiry in Redis) and compute it themselves only if it never comes.
- **Redis is optional at run time.** Short connect and socket timeouts; on any Redis error the request is
  served uncached, one warning is logged, and the cache is bypassed for a few seconds (a circuit breaker)
  so a hung Redis does not add its timeout to every request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from cachelib.serializers import RedisSerializer
from flask import Flask, current_app, g, request
from flask_caching import Cache
from flask_caching.backends.base import BaseCache as FlaskCachingBase
from flask_caching.backends.rediscache import RedisCache

from dashboard.settings import Settings

log = logging.getLogger(__name__)
_EXTENSION = "jobdash.cache"
GENERATION_KEY = "generation"
# Every key this app writes to Redis starts with it (flask-caching adds it to the keys it is given).
REDIS_KEY_PREFIX = "jobdash:"
REDIS_TIMEOUT_S = 0.25
BREAKER_SECONDS = 5.0
# How long a miss waits for another worker computing the same key before computing it itself.
FILL_WAIT_S = 2.0
# How often a process retries a generation bump that could not reach Redis.
BUMP_RETRY_S = 0.5
# max(old + 1, now): atomic in Redis, and never below a generation handed out before.
_BUMP_SCRIPT = """
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = math.max(old + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], new)
return new
"""


def _now_us() -> int:
    return time.time_ns() // 1000


class BytesSerializer(RedisSerializer):
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


class BoundedMemoryCache(FlaskCachingBase):
    """An in-process cache bounded by the bytes it holds (least recently used out first).

    cachelib's SimpleCache bounds only the number of entries, which lets a few thousand large distinct
    answers fill a worker's memory; this one counts the length of each stored body.
    """

    def __init__(self, max_bytes: int, default_timeout: int = 300) -> None:
        super().__init__(default_timeout=default_timeout)
        self.max_bytes = max_bytes
        self.used_bytes = 0
        self._entries: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> BoundedMemoryCache:
        """flask-caching's constructor hook."""
        return cls(max_bytes=config["CACHE_MAX_BYTES"], default_timeout=config["CACHE_DEFAULT_TIMEOUT"])

    def _expiry(self, timeout: Any) -> float:
        seconds = self._normalize_timeout(timeout)
        return float("inf") if seconds == 0 else time.monotonic() + seconds

    def _drop(self, key: str) -> None:
        _, _, size = self._entries.pop(key)
        self.used_bytes -= size

    def get(self, key: str) -> Any:
        """The value, or None when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: Any, timeout: Any = None) -> bool:
        """Store ``value``, evicting the least recently used entries to stay within the budget."""
        BytesSerializer().dumps(value)  # JSON bytes and generation counters only, as in Redis
        size = len(value) if isinstance(value, bytes) else 8
        size += len(key)
        if size > self.max_bytes:
            return False
        with self._lock:
            self._put(key, value, self._expiry(timeout), size)
        return True

    def _put(self, key: str, value: Any, expiry: float, size: int) -> None:
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (expiry, value, size)
        self.used_bytes += size
        while self.used_bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def add(self, key: str, value: Any, timeout: Any = None) -> bool:
        """Store ``value`` only if ``key`` holds nothing."""
        with self._lock:
            exists = key in self._entries and self._entries[key][0] > time.monotonic()
        return False if exists else self.set(key, value, timeout)

    def delete(self, key: str) -> bool:
        """Forget ``key``."""
        with self._lock:
            if key not in self._entries:
                return False
            self._drop(key)
            return True

    def has(self, key: str) -> bool:
        """Whether ``key`` holds a live value."""
        return self.get(key) is not None

    def clear(self) -> bool:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self.used_bytes = 0
        return True

    def bump(self, key: str) -> int:
        """Set ``key`` to ``max(old + 1, now in µs)``, atomically, with no expiry."""
        with self._lock:
            entry = self._entries.get(key)
            new = max((int(entry[1]) if entry is not None else 0) + 1, _now_us())
            self._put(key, new, float("inf"), len(key) + 8)
        return new


@dataclass
class ResponseCache:
    """Cached JSON bodies keyed by view, parameters and write generation (see the module docstring)."""

    cache: Cache
    ttl: int
    is_redis: bool
    _local_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)
    _bypass_until: float = 0.0
    _bump_pending: bool = False
    _retrier: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """False when JOBDASH_CACHE_TTL is 0."""
        return self.ttl > 0

    @property
    def redis_backend(self) -> JsonRedisCache:
        """The Redis backend, when ``is_redis`` (its redis client is flask-caching's ``_write_client``)."""
        return cast(JsonRedisCache, self.cache.cache)

    @property
    def memory_backend(self) -> BoundedMemoryCache:
        """The in-process backend, when caching is on without Redis."""
        return cast(BoundedMemoryCache, self.cache.cache)

    def get_or_compute(
        self, view: str, params: Iterable[tuple[str, str]], compute: Callable[[], bytes]
    ) -> tuple[bytes, str]:
        """The body for ``view`` with ``params``, and how it was served: hit, miss, bypass or off.

        Only cache operations are guarded: an error raised by ``compute`` itself propagates unchanged.
        """
        if not self.enabled:
            return compute(), "off"
        if time.monotonic() < self._bypass_until or self._bump_pending:
            # While a bump is pending, an entry from before the write it stands for may still be there.
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
        """Make every cached answer stale: called after each successful write.

        When Redis cannot take the bump, it stays pending: this process bypasses the cache and a
        background thread retries until it lands, so no answer from before the write is served once
        Redis is back.
        """
        if not self.enabled:
            return
        # Tried even while the breaker is open: Redis may be back for the other workers, which would
        # serve pre-write answers until the retry lands. A down Redis costs the write its short timeout.
        if self._try_bump(quiet=time.monotonic() < self._bypass_until):  # one warning per open breaker
            return
        self._bump_pending = True
        self._start_retrier()

    def _try_bump(self, *, quiet: bool = False) -> bool:
        try:
            if self.is_redis:
                client = self.redis_backend._write_client
                client.eval(_BUMP_SCRIPT, 1, REDIS_KEY_PREFIX + GENERATION_KEY, _now_us())
            else:
                self.memory_backend.bump(GENERATION_KEY)
        except Exception as exc:  # a write must not fail because the cache is down
            self._trip(exc, quiet=quiet)
            return False
        return True

    def _start_retrier(self) -> None:
        with self._locks_guard:
            if self._retrier is None:
                self._retrier = threading.Thread(
                    target=self._retry_bump, name="cache-bump-retry", daemon=True
                )
                self._retrier.start()

    def _retry_bump(self) -> None:
        while True:
            time.sleep(BUMP_RETRY_S)
            with self._locks_guard:
                if not self._bump_pending:
                    self._retrier = None
                    return
                # Cleared first: a write that lands during the attempt sets it again and is retried too.
                self._bump_pending = False
            if not self._try_bump(quiet=True):  # the first failure was logged
                self._bump_pending = True

    def _generation(self) -> int:
        value = self.cache.get(GENERATION_KEY)
        if value is None:
            # Lost (a restart or an eviction): restart from now, above every earlier generation.
            self.cache.add(GENERATION_KEY, _now_us(), timeout=0)
            value = self.cache.get(GENERATION_KEY)
        return int(value) if value is not None else 0

    def _key(self, view: str, params: Iterable[tuple[str, str]]) -> str:
        # JSON, not k=v&…: a value holding "&" or "=" cannot pass for another parameter.
        canonical = json.dumps(sorted(params), ensure_ascii=False)
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
        client = self.redis_backend._write_client
        lock_key = f"{REDIS_KEY_PREFIX}lock:{key}"
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

    def _trip(self, exc: Exception, *, quiet: bool = False) -> None:
        self._bypass_until = time.monotonic() + BREAKER_SECONDS
        if quiet:
            return
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
            "CACHE_KEY_PREFIX": REDIS_KEY_PREFIX,
            # A slow or absent Redis must degrade to uncached answers, not to slow ones.
            "CACHE_OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_S, "socket_timeout": REDIS_TIMEOUT_S},
        }
    else:
        config = {
            "CACHE_TYPE": "dashboard.cache.BoundedMemoryCache",
            "CACHE_MAX_BYTES": settings.cache_max_mb * 1024 * 1024,
        }
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
    # The script root ends up in the body's links: answers for different roots must not share a key.
    keyed = [*params, ("\0script_root", request.script_root)]
    body, outcome = get_cache().get_or_compute(view, keyed, compute)
    g.cache_outcome = outcome
    return body


def cache_ping() -> bool | None:
    """Whether Redis answers; None when no Redis is configured."""
    response_cache = get_cache()
    if not response_cache.is_redis:
        return None
    try:
        return bool(response_cache.redis_backend._write_client.ping())
    except Exception as exc:  # an unreachable cache makes us unready, never crashes the probe
        log.warning("cache ping failed", extra={"error": str(exc)})
        return False
