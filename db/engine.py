"""Engines and connection lifecycle: one write engine, an optional read replica, made once per process."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

# Marks a connection whose transaction must start as a writer (SQLite: BEGIN IMMEDIATE).
_WRITE_OPTION = "jobdash_write"


def _casefold_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys, WAL and explicit transactions on every SQLite connection."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.close()
        # SQLite's own lower() only folds ASCII; names are any Unicode and `q` is case-insensitive.
        dbapi_connection.create_function("lower", 1, _casefold_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A writer takes the write lock up front, so two writers queue instead of deadlocking on upgrade.
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _make_engine(
    url: str, *, pool_size: int, max_overflow: int, pool_timeout: int, statement_timeout_ms: int
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        _configure_sqlite(engine)
        return engine
    # UTC sessions: timestamps come back already in UTC, with no per-row conversion in Python.
    options = "-c timezone=UTC"
    if statement_timeout_ms:
        options += f" -c statement_timeout={statement_timeout_ms}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # No pre-ping: it costs a round trip on every checkout. A connection the server dropped fails its
        # request once (a 503 the client may retry), is invalidated, and the pool reconnects.
        pool_recycle=1800,
        # A server that does not answer at all (down host, black hole) fails the connect, not the worker.
        connect_args={"options": options, "application_name": "jobdash", "connect_timeout": 5},
    )


@dataclass
class Database:
    """The write engine and the engine reads go to (the replica when configured, else the same one)."""

    writer: Engine
    reader: Engine

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        read_url: str | None = None,
        pool_size: int = 5,
        max_overflow: int = 5,
        pool_timeout: int = 5,
        statement_timeout_ms: int = 5000,
    ) -> Database:
        """Build the engines once; nothing connects until the first query."""
        options = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            "statement_timeout_ms": statement_timeout_ms,
        }
        writer = _make_engine(url, **options)
        reader = _make_engine(read_url, **options) if read_url else writer
        return cls(writer=writer, reader=reader)

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return self.writer.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads.

        On PostgreSQL it runs in autocommit: each statement sees the newest committed data (as it would
        in a READ COMMITTED transaction) and no BEGIN/COMMIT round trips are paid. On SQLite the reads
        share one transaction, which costs nothing there.
        """
        if self.reader.dialect.name == "postgresql":
            with self._read_connection() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
            return
        with self._read_connection() as conn, conn.begin():
            yield conn

    def _read_connection(self) -> Connection:
        """A connection to the replica, or to the primary when the replica cannot be reached."""
        if self.reader is self.writer:
            return self.writer.connect()
        try:
            return self.reader.connect()
        except OperationalError as exc:
            log.warning("read replica unavailable; reading from the primary", extra={"error": str(exc)[:200]})
            return self.writer.connect()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed on success, rolled back on any error."""
        with self.writer.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close every pooled connection (tests and forked workers call this)."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
