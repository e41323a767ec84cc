"""Engines and connection lifecycle: one write engine, an optional read replica, made once per process."""

from __future__ import annotations

import contextlib
import json
import logging
import select
import sqlite3
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from db import timeline
from db.folding import fold_deltas
from db.upkeep import EveryWrites
from db.vacuum import vacuum_hot_tables

log = logging.getLogger(__name__)

# Marks a connection whose transaction must start as a writer (SQLite: BEGIN IMMEDIATE).
_WRITE_OPTION = "jobdash_write"
# After the read replica fails, reads go straight to the primary for this long before it is tried again.
REPLICA_RETRY_S = 5.0


def _casefold_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _histogram_sum(stored: str | None, delta: str | None) -> str:
    """SQLite's ``histogram_sum(a, b)``: two stored time-in-state histograms (JSON arrays) added element-wise
    (the write path's upsert; PostgreSQL does it in SQL over its arrays)."""
    return json.dumps(timeline.summed([json.loads(stored or "[]"), json.loads(delta or "[]")]))


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
        # A writer waits up to 30 s for the write lock (a burst of writers on a loaded machine queues
        # well past 10 s); past that it fails with "database is locked", answered as 503.
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()
        # SQLite's own lower() only folds ASCII; names are any Unicode and `q` is case-insensitive.
        dbapi_connection.create_function("lower", 1, _casefold_lower, deterministic=True)
        dbapi_connection.create_function("histogram_sum", 2, _histogram_sum, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A writer takes the write lock up front, so two writers queue instead of deadlocking on upgrade.
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _make_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: int,
    statement_timeout_ms: int,
    connect_timeout: int,
    parallel_query: bool,
    application_name: str = "jobdash",
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    # UTC sessions: timestamps come back already in UTC, with no per-row conversion in Python.
    options = "-c timezone=UTC"
    if statement_timeout_ms:
        options += f" -c statement_timeout={statement_timeout_ms}"
    if not parallel_query:
        # Every read of a serving process is bounded (a page, rows per period): starting parallel workers
        # costs more than it saves there (a few milliseconds each time, on a 1-2 ms read) and takes cores
        # from the other requests. Maintenance (the CLI's check, repair and backfills) keeps them.
        options += " -c max_parallel_workers_per_gather=0"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # No pre-ping: it costs a round trip on every checkout. A connection the server dropped fails its
        # request once (a 503 the client may retry), is invalidated, and the pool reconnects.
        pool_recycle=1800,
        # A server that does not answer at all (down host, black hole) fails the connect, not the worker.
        connect_args={
            "options": options,
            "application_name": application_name,
            "connect_timeout": connect_timeout,
        },
    )


def _drop_closed_connections(engine: Engine) -> None:
    """Refuse, at checkout, a pooled connection the server has already closed (the pool then reconnects).

    An idle connection has nothing to read: if its socket is readable, the server said goodbye (a
    shutdown sends a FATAL message, then closes). One poll, no round trip. Without it the first read
    after a replica stops would fail its request instead of falling back to the primary.
    """

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
        if readable:
            raise DisconnectionError("the server closed this pooled connection")


@dataclass
class _Replica:
    """Whether reads may try the replica: one warning when it goes, one line when it is back."""

    down: bool = False
    retry_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    probing: threading.Lock = field(default_factory=threading.Lock)

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            self.retry_at = time.monotonic() + REPLICA_RETRY_S
            if self.down:
                return
            self.down = True
        log.warning(
            "read replica unavailable; reading from the primary",
            extra={"error": str(exc).strip().splitlines()[0][:200], "retry_s": REPLICA_RETRY_S},
        )

    def answered(self) -> None:
        with self.lock:
            if not self.down:
                return
            self.down = False
        log.info("read replica back; reading from it again")

    def held_off(self) -> bool:
        """True while a recent failure keeps reads on the primary without trying the replica."""
        return self.down and time.monotonic() < self.retry_at


@dataclass
class Database:
    """The write engine and the engine reads go to (the replica when configured, else the same one)."""

    writer: Engine
    reader: Engine
    # Fold the delta log (db/folding.py) and vacuum the aggregate tables (db/vacuum.py) every so many
    # write transactions; PostgreSQL only.
    folder: EveryWrites | None = None
    vacuumer: EveryWrites | None = None
    _replica: _Replica = field(default_factory=_Replica, repr=False)

    def __post_init__(self) -> None:
        if self.reader is not self.writer and self.reader.dialect.name == "postgresql":
            _drop_closed_connections(self.reader)

            @event.listens_for(self.reader, "handle_error")
            def on_error(context: ExceptionContext) -> None:
                # The replica went away under a statement: that request fails (503), the next ones fall back.
                if context.is_disconnect:
                    self._replica.failed(context.original_exception)

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
        connect_timeout: int = 5,
        parallel_query: bool = False,
        vacuum_every: int = 0,
        fold_every: int = 300,
    ) -> Database:
        """Build the engines once; nothing connects until the first query. PostgreSQL sessions run in UTC,
        under ``statement_timeout_ms`` (0: none) and, unless ``parallel_query``, with no parallel workers;
        every ``fold_every`` write transactions (0: never) the delta log is folded, and every
        ``vacuum_every`` the aggregate tables are vacuumed."""
        options: dict[str, Any] = {
            "parallel_query": parallel_query,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            "statement_timeout_ms": statement_timeout_ms,
            "connect_timeout": connect_timeout,
        }
        writer = _make_engine(url, **options)
        # Its own application_name: pg_stat_activity on either server tells which role a session has.
        reader = _make_engine(read_url, application_name="jobdash-read", **options) if read_url else writer
        postgres = writer.dialect.name == "postgresql"
        folder = EveryWrites(writer, fold_every, fold_deltas, "fold") if postgres and fold_every > 0 else None
        vacuumer = (
            EveryWrites(writer, vacuum_every, vacuum_hot_tables, "vacuum")
            if postgres and vacuum_every > 0
            else None
        )
        return cls(writer=writer, reader=reader, folder=folder, vacuumer=vacuumer)

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

    @contextlib.contextmanager
    def stream(self) -> Iterator[Connection]:
        """A read connection in a transaction of its own, for one long streamed read (an export): its
        ``SET LOCAL`` settings end with it, and closing it rolls back whatever was left running."""
        with self._read_connection() as conn, conn.begin():
            yield conn

    def _read_connection(self) -> Connection:
        """A connection to the replica, or to the primary when the replica cannot be reached.

        A replica that fails is not tried again for ``REPLICA_RETRY_S``; then one request (one thread)
        tries it while the others keep reading from the primary, so an unreachable replica costs at most
        one connect timeout per retry period, not one per request.
        """
        if self.reader is self.writer:
            return self.writer.connect()
        replica = self._replica
        if replica.held_off():
            return self.writer.connect()
        probing = replica.down
        if probing and not replica.probing.acquire(blocking=False):
            return self.writer.connect()  # another thread is trying the replica
        try:
            conn = self.reader.connect()
        except OperationalError as exc:
            replica.failed(exc)
            return self.writer.connect()
        finally:
            if probing:
                replica.probing.release()
        replica.answered()
        return conn

    def replica_answers(self) -> bool | None:
        """Whether the read replica answers ``SELECT 1`` (None when there is none).

        While a recent failure holds it off, False without trying: a readiness probe must not wait for a
        connect timeout on every call.
        """
        if self.reader is self.writer:
            return None
        if self._replica.held_off():
            return False
        try:
            with self.reader.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            self._replica.failed(exc)
            return False
        self._replica.answered()
        return True

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction: committed on success, rolled back on any error."""
        with self.writer.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn
        for upkeep in (self.folder, self.vacuumer):
            if upkeep is not None:
                upkeep.wrote()

    def dispose(self) -> None:
        """Close every pooled connection (tests and forked workers call this)."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def driver_rows(
    conn: Connection, sql: str, params: dict[str, Any], *, one: bool = False, binary: bool = False
) -> list[tuple[Any, ...]]:
    """The rows of a fixed PostgreSQL statement (with ``one``, at most its first), run on the driver's
    connection under ``conn`` (in its transaction) and prepared there once; with ``binary``, in binary
    format (arrays of numbers arrive without text to parse).

    For the statements every write runs (db/writes.py) and the reads that fetch many arrays
    (db/insights.py): SQLAlchemy's execution layer (its compiled-cache lookup, parameter processing and
    result set-up) cost a tenth of an append's time, and a quarter of a histogram read's. ``sql`` is
    compiled for psycopg (``%(name)s`` placeholders). The engine's cursor events still fire (request
    timing, statement logs), and errors come out as SQLAlchemy raises them: a timeout or a lost server
    is an ``OperationalError``, and a lost connection is invalidated so the pool does not hand it out
    again.
    """
    import psycopg  # only on PostgreSQL

    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    events = conn._has_events or conn.engine._has_events  # as SQLAlchemy decides to dispatch
    context = types.SimpleNamespace()  # what listeners keep per execution (they get no ExecutionContext)
    with raw.cursor(binary=binary) as cursor:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, params, context, False)
        try:
            cursor.execute(sql, params, prepare=True)
            if one:
                row = cursor.fetchone()
                rows = [] if row is None else [row]
            else:
                rows = cursor.fetchall()
        except psycopg.Error as exc:
            invalidated = conn.dialect.is_disconnect(cast(Any, exc), conn.connection, cast(Any, cursor))
            if invalidated:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                sql, params, exc, psycopg.Error, connection_invalidated=invalidated, dialect=conn.dialect
            ) from exc
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, params, context, False)
    return rows


def driver_row(conn: Connection, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The first row of :func:`driver_rows`, or None."""
    rows = driver_rows(conn, sql, params, one=True)
    return rows[0] if rows else None
