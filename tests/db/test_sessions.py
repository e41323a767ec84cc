"""The PostgreSQL sessions a serving process and the CLI open: what each is set to at connect."""

from __future__ import annotations

from db.engine import Database
from tests.conftest import postgres_url, requires_postgres

pytestmark = requires_postgres


def session_settings(database: Database) -> dict[str, str]:
    names = ("timezone", "statement_timeout", "max_parallel_workers_per_gather")
    try:
        with database.read() as conn:
            return {name: str(conn.exec_driver_sql(f"SHOW {name}").scalar_one()) for name in names}
    finally:
        database.dispose()


def test_a_serving_session_is_utc_bounded_and_serial() -> None:
    assert session_settings(Database.connect(postgres_url(), statement_timeout_ms=5000)) == {
        "timezone": "UTC",
        "statement_timeout": "5s",
        "max_parallel_workers_per_gather": "0",
    }


def test_a_maintenance_session_keeps_the_servers_parallel_workers() -> None:
    # The CLI's (db check, repair, backfills): no statement timeout, the server's default workers.
    shown = session_settings(Database.connect(postgres_url(), statement_timeout_ms=0, parallel_query=True))
    assert shown["statement_timeout"] == "0"
    assert shown["max_parallel_workers_per_gather"] != "0"


def test_a_statement_run_on_the_driver_keeps_the_transaction_the_events_and_the_errors() -> None:
    import pytest
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from db.engine import driver_row

    database = Database.connect(postgres_url(), statement_timeout_ms=5000)
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    event.listen(database.writer, "after_cursor_execute", record)
    try:
        with database.write() as conn:
            conn.exec_driver_sql("CREATE TEMPORARY TABLE driven (n int) ON COMMIT DROP")
            assert driver_row(conn, "INSERT INTO driven VALUES (%(n)s) RETURNING n * 2", {"n": 21}) == (42,)
            # The same transaction: SQLAlchemy's statements see what the driver's wrote, and back.
            assert conn.exec_driver_sql("SELECT count(*) FROM driven").scalar_one() == 1
            assert driver_row(conn, "SELECT n FROM driven WHERE n > %(n)s", {"n": 100}) is None
        assert seen.count("INSERT INTO driven VALUES (%(n)s) RETURNING n * 2") == 1
        # A timeout comes out as SQLAlchemy raises it (the app answers 503) and the transaction rolls back.
        with pytest.raises(OperationalError, match="statement timeout"), database.write() as conn:
            conn.exec_driver_sql("SET LOCAL statement_timeout = 50")
            driver_row(conn, "SELECT pg_sleep(%(s)s)", {"s": 2})
        with database.write() as conn:  # the pooled connection is usable again
            assert driver_row(conn, "SELECT %(n)s::int + 1", {"n": 1}) == (2,)
        # A connection the server dropped is invalidated: the error says so and the pool opens a new one.
        with pytest.raises(OperationalError) as lost, database.write() as conn:
            pid = driver_row(conn, "SELECT pg_backend_pid() + %(n)s", {"n": 0})
            assert pid is not None
            with database.reader.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid[0])})")
            driver_row(conn, "SELECT %(n)s::int", {"n": 1})
        assert lost.value.connection_invalidated
        with database.write() as conn:
            assert driver_row(conn, "SELECT pg_backend_pid() <> %(pid)s", {"pid": pid[0]}) == (True,)
    finally:
        event.remove(database.writer, "after_cursor_execute", record)
        database.dispose()
