"""The vacuuming of the aggregate tables while writes flow (db/vacuum.py): when it runs, that one pass runs at
a time across processes, that it removes the dead row versions writes leave, and that it never fails a
write."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import text

from db import folding, vacuum, writes
from db.engine import Database
from db.upkeep import EveryWrites
from db.vacuum import HOT_TABLES
from tests.conftest import T0, postgres_url, requires_postgres


def vacuum_counts(database: Database) -> dict[str, int]:
    with database.writer.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = conn.execute(
            text("SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname = ANY(:names)"),
            {"names": list(HOT_TABLES)},
        ).all()
    return {name: count for name, count in rows}


def test_every_table_the_write_path_updates_in_place_is_vacuumed() -> None:
    # The aggregate tables: all but the job, its events and the family names (inserted once).
    from tests.conftest import TABLES

    assert set(HOT_TABLES) == set(TABLES) - {"job", "job_status", "job_family"}


def test_off_or_on_sqlite_there_is_no_vacuumer(tmp_path: Any) -> None:
    assert Database.connect(f"sqlite:///{tmp_path / 'x.db'}", vacuum_every=10).vacuumer is None
    assert Database.connect("postgresql+psycopg://postgres@127.0.0.1/none", vacuum_every=0).vacuumer is None


@requires_postgres
def test_every_so_many_writes_a_pass_runs_in_the_background(database: Database) -> None:
    busy = Database.connect(postgres_url(), vacuum_every=3)
    try:
        assert busy.vacuumer is not None
        before = vacuum_counts(busy)
        job = writes_one_job(busy)
        for minute in range(1, 3):  # the third write transaction (with the create) is the turn
            with busy.write() as conn:
                writes.append_status(
                    conn, job_id=job, status="RUNNING", timestamp=T0 + dt.timedelta(minutes=minute)
                )
        assert busy.vacuumer.wait_for(1, timeout=30)
        assert busy.vacuumer.passes == 1
        after = vacuum_counts(busy)
        assert all(after[name] == before.get(name, 0) + 1 for name in HOT_TABLES), (before, after)
        # Two more writes are not a turn yet.
        for minute in range(3, 5):
            with busy.write() as conn:
                writes.append_status(
                    conn, job_id=job, status="RUNNING", timestamp=T0 + dt.timedelta(minutes=minute)
                )
        assert not busy.vacuumer.wait_for(2, timeout=0.5)
    finally:
        busy.dispose()


def writes_one_job(database: Database) -> int:
    with database.write() as conn:
        created = writes.create_job(conn, name="etl-1", status="PENDING", timestamp=T0)
    return int(created["id"])


def dead_rows(database: Database, table: str) -> int:
    with database.writer.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            conn.execute(
                text("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
            ).scalar_one()
        )


@requires_postgres
def test_a_pass_removes_the_dead_versions_that_writes_leave(database: Database) -> None:
    job = writes_one_job(database)
    for second in range(1, 40):  # 39 rows of the delta log, each deleted by a fold
        with database.write() as conn:
            writes.append_status(
                conn, job_id=job, status="RUNNING", timestamp=T0 + dt.timedelta(seconds=second)
            )
        if second % 10 == 0:  # and the family's transition row of the hour, added to by each fold
            assert folding.fold_deltas(database.writer)
    assert folding.fold_deltas(database.writer)
    database.writer.dispose()  # the writing sessions end, and report what they did to the statistics
    # Dead versions, less any that a later write's page pruning already removed.
    deadline = time.monotonic() + 10
    while dead_rows(database, "job_history_delta") < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dead_rows(database, "job_history_delta") >= 20
    assert dead_rows(database, "job_transition_hour") >= 2
    assert vacuum.vacuum_hot_tables(database.writer)
    assert dead_rows(database, "job_history_delta") == 0
    assert dead_rows(database, "job_transition_hour") == 0


@requires_postgres
def test_one_pass_at_a_time_across_processes(database: Database) -> None:
    with database.writer.connect() as holder:
        holder = holder.execution_options(isolation_level="AUTOCOMMIT")
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": vacuum.LOCK_KEY})
        try:
            before = vacuum_counts(database)
            assert not vacuum.vacuum_hot_tables(database.writer)  # another session's turn: skipped
            assert vacuum_counts(database) == before
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": vacuum.LOCK_KEY})
    assert vacuum.vacuum_hot_tables(database.writer)


@requires_postgres
def test_a_failing_pass_is_logged_and_the_writes_go_on(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_engine: object) -> bool:
        raise RuntimeError("the server went away")

    vacuumer = EveryWrites(database.writer, 1, broken, "vacuum")
    database.vacuumer = vacuumer
    try:
        job = writes_one_job(database)
        assert vacuumer.wait_for(1, timeout=30)
        with database.write() as conn:  # the next write is unaffected, and its turn is taken again
            writes.append_status(conn, job_id=job, status="RUNNING", timestamp=T0 + dt.timedelta(minutes=1))
        assert vacuumer.wait_for(2, timeout=30)
    finally:
        database.vacuumer = None
    assert (vacuumer.passes, vacuumer.failures) == (0, 2)
    assert "background vacuum failed" in caplog.text
