"""CSV export of a list view: every job the list's pages hold, in their order, streamed in constant memory.

The rows come from the list's own statement (:func:`db.queries.view_statement`), so a filter or an
ordering the list learns is exported too. Its text columns are neutralised against formula injection in
the SELECT itself (:func:`neutralised`, one rule for both databases) and its times are spelled as ISO 8601
UTC. On PostgreSQL the server writes the CSV with ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)``
and the bytes are passed on in chunks; on SQLite the rows are read in batches and written with Python's
csv module, byte for byte the same format. Why, and what a disconnect does: docs/architecture.md ("CSV
export").
"""

from __future__ import annotations

import csv
from collections.abc import Generator
from typing import Any

from sqlalchemy import ColumnElement, Connection, Double, Select, String, case, func, literal
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from db import queries
from db.models import UTCDateTime

# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection"): such a
# text cell is exported with a leading apostrophe, which spreadsheets show as text and do not evaluate.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"
# Bytes handed to the web server at a time (after the first row, which goes out as soon as it is read).
CHUNK_BYTES = 64 * 1024
# Rows fetched per round trip on SQLite.
SQLITE_BATCH_ROWS = 2_000
# Times as the JSON API spells them, always with microseconds: 2026-01-31T14:05:09.000000+00:00.
_PG_ISO_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'


def neutralised(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` with the formula-injection rule applied: a leading apostrophe on a dangerous start."""
    return case(
        (func.substr(column, 1, 1).in_(FORMULA_PREFIXES), literal(NEUTRALISER, String) + column),
        else_=column,
    )


def seconds_text(column: ColumnElement[Any], *, postgres: bool) -> ColumnElement[Any]:
    """Seconds (a duration) as text with three decimals, ``3600.250``, spelled the same by both databases
    (their own float output differs: ``3600.25`` vs ``3600.25``/``3600.0``); empty when null."""
    if postgres:
        return func.to_char(column, literal("FM999999999990.000", String))
    return case((column.is_(None), None), else_=func.printf(literal("%.3f", String), column))


def csv_statement(conn: Connection, *, filters: queries.JobFilter, ordering: str) -> Select[Any]:
    """The list's unpaged statement with its cells as the CSV holds them: text neutralised and seconds
    with three decimals (both databases), times as ISO 8601 UTC text (PostgreSQL; on SQLite Python spells
    them the same way)."""
    statement = queries.view_statement(conn, filters=filters, ordering=ordering)
    postgres = conn.dialect.name == "postgresql"
    columns: list[ColumnElement[Any]] = []
    for column in statement.selected_columns:
        if column.name == queries.SORT_KEY:
            continue  # the keyset key of a duration ordering: the pages' cursor, not a field of a job
        if isinstance(column.type, String):
            columns.append(neutralised(column).label(column.name))
        elif postgres and isinstance(column.type, UTCDateTime):
            utc = func.timezone("UTC", column)
            columns.append(func.to_char(utc, literal(_PG_ISO_FORMAT, String)).label(column.name))
        elif isinstance(column.type, Double):
            columns.append(seconds_text(column, postgres=postgres).label(column.name))
        else:
            columns.append(column)
    return statement.with_only_columns(*columns, maintain_column_froms=True)


def copy_sql(conn: Connection, statement: Select[Any]) -> tuple[str, dict[str, Any]]:
    """``COPY (statement) TO STDOUT`` as SQL with psycopg placeholders, and its parameters (bound by
    psycopg, which quotes them: no value is ever formatted into the SQL here)."""
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(compiled, SQLCompiler)
    processors: dict[str, Any] = dict(compiled._bind_processors)
    params = {
        name: processors[name](value) if name in processors else value
        for name, value in compiled.construct_params().items()
    }
    return f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv, HEADER)", params


def stream_csv(
    conn: Connection, *, filters: queries.JobFilter, ordering: str, statement_timeout_ms: int
) -> Generator[bytes]:
    """The view as CSV (a header row, then one row per job), in chunks.

    ``conn`` must be in a transaction of its own: on PostgreSQL ``statement_timeout_ms`` is set for it
    alone (0: no limit). The first chunk is yielded once the first row (or the end) has been read, so a
    failing query raises before anything is sent. Closing the generator early stops the query: on
    PostgreSQL psycopg cancels the COPY and drains it, leaving the connection usable.
    """
    statement = csv_statement(conn, filters=filters, ordering=ordering)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
        return _copy_chunks(conn, statement)
    return _python_chunks(conn, statement)


def _copy_chunks(conn: Connection, statement: Select[Any]) -> Generator[bytes]:
    """PostgreSQL writes the CSV; its rows are gathered into chunks of about CHUNK_BYTES."""
    import psycopg  # only on PostgreSQL

    sql, params = copy_sql(conn, statement)
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    try:
        with dbapi.cursor() as cursor, cursor.copy(sql, params) as copy:
            buffer = bytearray()
            read = copy.read
            # The header, then the first row: an error before it becomes an error answer, not a stream.
            for _ in range(2):
                buffer += read()
            yield bytes(buffer)
            buffer.clear()
            while data := read():
                buffer += data
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)
    except psycopg.Error as exc:
        # As SQLAlchemy would raise it (a timeout is an OperationalError: the app answers 503).
        raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc


class _RowWriter:
    """The file csv.writer writes to: keeps each row, ending it with ``\\n`` as COPY does.

    The writer is given ``\\r\\n`` as its line end so that it quotes every cell holding a CR or an LF
    (it quotes by the characters of its line end); each row it writes ends with exactly that.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, row: str) -> None:
        self.parts.append(row[:-2] + "\n")
        self.size += len(row)

    def take(self) -> bytes:
        data = "".join(self.parts).encode()
        self.parts.clear()
        self.size = 0
        return data


def _python_chunks(conn: Connection, statement: Select[Any]) -> Generator[bytes]:
    """SQLite: rows read in batches, written with the csv module in the same format as COPY's."""
    times = [i for i, c in enumerate(statement.selected_columns) if isinstance(c.type, UTCDateTime)]
    out = _RowWriter()
    writer = csv.writer(out, lineterminator="\r\n")
    result = conn.execution_options(stream_results=True, yield_per=SQLITE_BATCH_ROWS).execute(statement)
    with result:
        writer.writerow(list(result.keys()))
        first = True
        for batch in result.partitions():
            for row in batch:
                if times:
                    cells = list(row)
                    for i in times:
                        cells[i] = cells[i] and cells[i].isoformat(timespec="microseconds")
                    writer.writerow(cells)
                else:
                    writer.writerow(row)
                if first or out.size >= CHUNK_BYTES:
                    first = False
                    yield out.take()
        if out.parts or first:
            yield out.take()
