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
