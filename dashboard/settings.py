"""Settings: one object, built once from the ``JOBDASH_*`` environment and validated at start-up, attached
to the Flask app and read back during a request with :func:`get_settings`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app

from db.families import FamilyRules

T = TypeVar("T")
_CONFIG_KEY = "JOBDASH_SETTINGS"


class SettingsError(ValueError):
    """A setting has a value JobDash cannot use; the message names the variable."""


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}, got {value}")
        return value

    return parse


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def redact_url(raw: str) -> str:
    """``raw`` with any password replaced by ``***``: URLs in messages must not leak credentials."""
    parts = urlsplit(raw.strip())
    if parts.password is None:
        return raw.strip()
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _database_url(raw: str) -> str:
    url = raw.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        # psycopg 3 is the only PostgreSQL driver we ship; plain URLs are pointed at it.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if scheme in {"sqlite", "sqlite+pysqlite"}:
        return url
    raise ValueError(f"must be a postgresql:// or sqlite:// URL, got {redact_url(raw)!r}")


def _optional_database_url(raw: str) -> str | None:
    return _database_url(raw) if raw.strip() else None


def _cache_url(raw: str) -> str | None:
    url = raw.strip()
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"must be a redis:// URL, got {redact_url(raw)!r}")
    return url


def _static_url(raw: str) -> str | None:
    """Blank, or an absolute http(s) URL without query or fragment, given a trailing slash."""
    url = raw.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"must be an absolute http:// or https:// URL without query, got {raw!r}")
    return url.rstrip("/") + "/"


def _tokens(raw: str) -> tuple[str, ...]:
    return tuple(token.strip() for token in raw.split(",") if token.strip())


def _basic_auth(raw: str) -> tuple[str, str] | None:
    if not raw.strip():
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ValueError("must look like user:password")
    return user, password


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return value


def _family_pattern(raw: str) -> str:
    FamilyRules.parse(raw)  # one line naming what is wrong, raised as ValueError
    return raw


def _env(name: str, default: str, parse: Callable[[str], Any]) -> Any:
    """Declare a field read from ``name``; ``default`` is the raw text used when it is unset."""
    return dataclasses.field(default=parse(default), metadata={"env": name, "parse": parse})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every tuning point of JobDash; build it with :meth:`from_env`."""

    database_url: str = _env("JOBDASH_DATABASE_URL", "sqlite:///jobdash.db", _database_url)
    read_database_url: str | None = _env("JOBDASH_READ_DATABASE_URL", "", _optional_database_url)
    db_pool_size: int = _env("JOBDASH_DB_POOL_SIZE", "5", _integer(1, 1000))
    db_max_overflow: int = _env("JOBDASH_DB_MAX_OVERFLOW", "5", _integer(0, 1000))
    db_pool_timeout: int = _env("JOBDASH_DB_POOL_TIMEOUT", "5", _integer(1, 3600))
    db_statement_timeout_ms: int = _env("JOBDASH_DB_STATEMENT_TIMEOUT_MS", "5000", _integer(0))
    # A CSV export is one long statement: its own limit, for the whole export (0: none).
    export_statement_timeout_ms: int = _env("JOBDASH_EXPORT_STATEMENT_TIMEOUT_MS", "600000", _integer(0))
    # PostgreSQL: fold the delta log into the history aggregates every this many write transactions per
    # process (0: never, and the log only grows; db/folding.py).
    fold_every: int = _env("JOBDASH_FOLD_EVERY", "300", _integer(0, 10_000_000))
    # PostgreSQL: vacuum the aggregate tables every this many write transactions per process (0: never;
    # db/vacuum.py).
    vacuum_every: int = _env("JOBDASH_VACUUM_EVERY", "2000", _integer(0, 10_000_000))
    # libpq's connect_timeout, for the primary and the read replica (libpq's floor is 2 s).
    db_connect_timeout: int = _env("JOBDASH_DB_CONNECT_TIMEOUT", "5", _integer(2, 600))
    cache_url: str | None = _env("JOBDASH_CACHE_URL", "", _cache_url)
    cache_ttl: int = _env("JOBDASH_CACHE_TTL", "5", _integer(0, 86400))
    cache_max_mb: int = _env("JOBDASH_CACHE_MAX_MB", "64", _integer(1, 65536))
    max_future_skew_s: int = _env("JOBDASH_MAX_FUTURE_SKEW_S", "300", _integer(0, 86400))
    default_page_size: int = _env("JOBDASH_DEFAULT_PAGE_SIZE", "50", _integer(1, 10000))
    max_page_size: int = _env("JOBDASH_MAX_PAGE_SIZE", "200", _integer(1, 10000))
    api_tokens: tuple[str, ...] = _env("JOBDASH_API_TOKENS", "", _tokens)
    allow_anonymous_writes: bool = _env("JOBDASH_ALLOW_ANONYMOUS_WRITES", "false", _boolean)
    basic_auth: tuple[str, str] | None = _env("JOBDASH_BASIC_AUTH", "", _basic_auth)
    log_format: str = _env("JOBDASH_LOG_FORMAT", "json", _choice("json", "text"))
    log_level: str = _env("JOBDASH_LOG_LEVEL", "INFO", _log_level)
    metrics: bool = _env("JOBDASH_METRICS", "true", _boolean)
    port: int = _env("PORT", "8050", _integer(1, 65535))
    web_concurrency: int = _env("WEB_CONCURRENCY", "2", _integer(1, 256))
    threads: int = _env("JOBDASH_THREADS", "4", _integer(1, 256))
    request_read_timeout_s: int = _env("JOBDASH_REQUEST_READ_TIMEOUT_S", "10", _integer(1, 3600))
    # Empty means the default pattern (db/families.py: a trailing -<digits>, -<UUID> or -<hex id>).
    family_pattern: str = _env("JOBDASH_FAMILY_PATTERN", "", _family_pattern)
    max_families: int = _env("JOBDASH_MAX_FAMILIES", "1000", _integer(1, 1_000_000))
    # Browsers load assets/ from here, and Dash's bundles from their CDN (dashboard/delivery.py).
    static_url: str | None = _env("JOBDASH_STATIC_URL", "", _static_url)

    def __post_init__(self) -> None:
        if self.default_page_size > self.max_page_size:
            raise SettingsError(
                f"JOBDASH_DEFAULT_PAGE_SIZE ({self.default_page_size}) must not exceed "
                f"JOBDASH_MAX_PAGE_SIZE ({self.max_page_size})"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every ``JOBDASH_*`` variable; raise :class:`SettingsError` naming the first bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = field.metadata["env"]
            if name in environ:
                try:
                    values[field.name] = field.metadata["parse"](environ[name])
                except ValueError as exc:
                    raise SettingsError(f"{name} {exc}") from None
        values.update(overrides)
        return cls(**values)

    @property
    def family_rules(self) -> FamilyRules:
        """How job names map to families, and how many families there may be."""
        return FamilyRules.parse(self.family_pattern, self.max_families)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the demo command use it)."""
        return dataclasses.replace(self, **changes)


def init_settings(server: Flask, settings: Settings) -> None:
    """Attach ``settings`` to ``server``, for :func:`get_settings`."""
    server.config[_CONFIG_KEY] = settings


def get_settings() -> Settings:
    """The Settings of the app handling the current request."""
    settings: Settings = current_app.config[_CONFIG_KEY]
    return settings
