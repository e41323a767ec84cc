"""The delta log of the history aggregates (db/deltas.py) and its folds (db/folding.py), on PostgreSQL:
an append writes its changes as one log row; reads and the check count the rows not yet folded; a fold
moves them into the aggregates without changing any answer; one fold runs at a time; a writing process
folds in the background every so many writes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from db import check, folding, history, insights, writes
from db.engine import Database
from tests.conftest import T0, postgres_url, requires_postgres

pytestmark = requires_postgres
H = dt.timedelta(hours=1)


def logged(database: Database) -> int:
    with database.read() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM job_history_delta").scalar_one())


def answers(database: Database) -> dict[str, object]:
    """Every read over the history aggregates, and every kept row (with the unfolded deltas)."""
    with database.read() as conn:
        return {
            "kept": {name: history.kept_rows(conn, name) for name in history.HISTORY_TABLES},
            "as_of": [insights.status_mix_as_of(conn, T0 + i * H).by_status for i in range(-1, 30)],
            "transitions": insights.transition_counts(conn, since=T0 - H, until=T0 + 40 * H).results,
            "transitions_of_etl": insights.transition_counts(
                conn, since=T0 + 2 * H, until=T0 + 3 * H, family="etl"
            ).results,
            "time_in_state": insights.time_in_state(
                conn, since=T0, until=T0 + 9 * dt.timedelta(days=1)
            ).results,
            "job_page": insights.family_percentiles(conn, family="etl", now=T0 + 2 * H)[1],
        }


def write_histories(database: Database) -> list[int]:
    """Three jobs of two families over two days, with late events that change the past."""
    ids = []
    with database.write() as conn:
        for i, name in enumerate(("etl-1", "etl-2", "sync-1")):
            ids.append(writes.create_job(conn, name=name, timestamp=T0 + i * H)["id"])
    for job_id, steps in zip(
        ids,
        (
            [("RUNNING", 2), ("COMPLETED", 26), ("RUNNING", 1)],  # the last one late: an earlier start
            [("RUNNING", 3), ("FAILED", 4), ("PENDING", 5), ("RUNNING", 28)],
            [("CANCELLED", 30), ("RUNNING", 4)],  # late, and disallowed after PENDING -> ... -> CANCELLED
        ),
        strict=True,
    ):
        for status, hours in steps:
            with database.write() as conn:
                writes.append_status(conn, job_id=job_id, status=status, timestamp=T0 + hours * H)
    return ids


def test_an_append_logs_its_changes_and_a_fold_changes_no_answer(database: Database) -> None:
    write_histories(database)
    assert logged(database) == 9  # one row per append; creating a job updates the aggregates itself
    before = answers(database)
    assert before["transitions"] and before["time_in_state"] and any(before["kept"].values())
    assert folding.fold_deltas(database.writer)
    assert logged(database) == 0
    assert answers(database) == before
    with database.write() as conn:
        assert check.check(conn).problems == []


def test_reads_add_what_is_not_folded_yet(database: Database) -> None:
    job = write_histories(database)[0]
    assert folding.fold_deltas(database.writer)
    with database.write() as conn:  # one more event: in the log only
        writes.append_status(conn, job_id=job, status="FAILED", timestamp=T0 + 27 * H)
    assert logged(database) == 1
    unfolded = answers(database)
    with database.read() as conn:
        moves = insights.transition_counts(conn, since=T0 + 27 * H, until=T0 + 28 * H, family="etl").results
        as_of = insights.status_mix_as_of(conn, T0 + 28 * H).by_status
    assert [(m["from_status"], m["to_status"], m["count"]) for m in moves] == [("COMPLETED", "FAILED", 1)]
    assert as_of["FAILED"] == 1
    assert folding.fold_deltas(database.writer)
    assert answers(database) == unfolded


def test_a_fold_takes_a_batch_at_a_time_oldest_first(database: Database) -> None:
    write_histories(database)
    before = answers(database)
    with database.write() as conn:
        first = [
            row[0] for row in conn.exec_driver_sql("SELECT id FROM job_history_delta ORDER BY id LIMIT 4")
        ]
        assert folding.fold(conn, batch=4) == 4
        left = [row[0] for row in conn.exec_driver_sql("SELECT id FROM job_history_delta ORDER BY id")]
    assert len(left) == 5 and min(left) > max(first)
    assert answers(database) == before


def test_one_fold_at_a_time(database: Database) -> None:
    write_histories(database)
    with database.writer.connect() as holder, holder.begin():
        assert folding.fold(holder) == 9  # holds the turn until it commits
        assert not folding.fold_deltas(database.writer)  # another session's turn: skipped
    assert logged(database) == 0


def test_a_writing_process_folds_in_the_background(database: Database) -> None:
    busy = Database.connect(postgres_url(), fold_every=4)
    try:
        assert busy.folder is not None
        write_histories(busy)  # 10 write transactions (the creates in one): turns at the 4th and 8th
        assert busy.folder.wait_for(1, timeout=30)
        assert busy.folder.passes >= 1 and busy.folder.failures == 0
        assert logged(busy) < 9  # at least the 4th write's rows are folded
        assert answers(busy) == answers(database)
    finally:
        busy.dispose()
    assert Database.connect(postgres_url(), fold_every=0).folder is None


def test_a_rebuild_drops_the_log_and_replays_every_event(database: Database) -> None:
    write_histories(database)
    before = answers(database)
    with database.write() as conn:  # the log says every transition happened seven times
        conn.execute(text("UPDATE job_history_delta SET move_n = array_fill(7, ARRAY[cardinality(move_n)])"))
    with database.write() as conn:
        assert any(p.startswith("drift: job_transition_hour") for p in check.check(conn).problems)
    with database.write() as conn:
        check.repair(conn)
    assert logged(database) == 0
    assert answers(database) == before
