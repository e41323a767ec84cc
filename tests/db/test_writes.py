"""create_job, append_status, delete_job: what they write, what they refuse, and the invariant."""

import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, select, text

from db import queries, writes
from db.engine import driver_row
from db.errors import NotFound, ValidationError
from db.models import job_status_table, job_table
from tests.conftest import T0, requires_postgres
from tests.db.test_plans import nodes
from tests.invariant import invariant_violations

H = dt.timedelta(hours=1)


def counts(database):
    with database.read() as conn:
        jobs = conn.execute(select(func.count()).select_from(job_table)).scalar_one()
        events = conn.execute(select(func.count()).select_from(job_status_table)).scalar_one()
    return jobs, events


def test_create_job_writes_the_job_and_its_first_event(database):
    with database.write() as conn:
        job = writes.create_job(conn, name="  nightly ETL  ", status="running", timestamp=T0, message="go")
    assert job == {
        "id": job["id"],
        "name": "nightly ETL",
        "family": "nightly ETL",
        "status": "RUNNING",
        "created_at": T0,
        "updated_at": T0,
    }
    with database.read() as conn:
        history = queries.job_history(conn, job_id=job["id"]).results
        stored = queries.get_job(conn, job_id=job["id"])
    assert [(e["status"], e["timestamp"], e["message"]) for e in history] == [("RUNNING", T0, "go")]
    assert stored["history_count"] == 1 and stored["created_at"] == T0


def test_create_job_defaults_to_pending_now(database):
    before = dt.datetime.now(dt.UTC)
    with database.write() as conn:
        job = writes.create_job(conn, name="x")
    assert job["status"] == "PENDING"
    assert before <= job["created_at"] <= dt.datetime.now(dt.UTC)


def test_timestamps_are_normalised_to_utc(database):
    paris = dt.timezone(dt.timedelta(hours=1))
    with database.write() as conn:
        job = writes.create_job(conn, name="x", timestamp=dt.datetime(2026, 1, 1, 1, 0, tzinfo=paris))
    with database.read() as conn:
        assert queries.get_job(conn, job_id=job["id"])["created_at"] == T0


def test_unicode_names_round_trip(database, job_factory):
    job = job_factory(name="Überprüfung 数据 🚀 <script>")
    with database.read() as conn:
        assert queries.get_job(conn, job_id=job["id"])["name"] == "Überprüfung 数据 🚀 <script>"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 42}, "name"),
        ({"name": "ok", "status": "DONE"}, "status"),
        ({"name": "ok", "status": None}, "status"),
        ({"name": "ok", "timestamp": dt.datetime(2026, 1, 1)}, "timestamp"),
        ({"name": "ok", "timestamp": "2026-01-01T00:00:00Z"}, "timestamp"),
        ({"name": "ok", "message": "m" * 4097}, "message"),
    ],
)
def test_create_job_rejects_bad_values_and_writes_nothing(database, kwargs, field):
    with pytest.raises(ValidationError) as caught, database.write() as conn:
        writes.create_job(conn, **kwargs)
    assert field in [e.field for e in caught.value.errors]
    assert counts(database) == (0, 0)


def test_every_bad_field_is_reported_at_once(database):
    with pytest.raises(ValidationError) as caught, database.write() as conn:
        writes.create_job(conn, name="", status="nope", timestamp=dt.datetime(2026, 1, 1))
    assert {e.field for e in caught.value.errors} == {"name", "status", "timestamp"}


def test_names_of_255_characters_are_accepted(database, job_factory):
    assert len(job_factory(name="é" * 255)["name"]) == 255


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"status": "FAILED", "timestamp": dt.datetime(2026, 1, 2)}, "timestamp"),
        ({"status": "FAILED", "message": "m" * 4097}, "message"),
        ({"status": "FAILED", "message": 5}, "message"),
    ],
)
def test_append_status_rejects_bad_values_and_writes_nothing(database, job_factory, kwargs, field):
    job = job_factory(created_at=T0)
    with pytest.raises(ValidationError) as caught, database.write() as conn:
        writes.append_status(conn, job_id=job["id"], **kwargs)
    assert [e.field for e in caught.value.errors] == [field]
    assert counts(database) == (1, 1)


def test_append_status_to_a_missing_job_is_not_found(database):
    with pytest.raises(NotFound), database.write() as conn:
        writes.append_status(conn, job_id=12345, status="RUNNING")
    assert counts(database) == (0, 0)


def test_newer_events_move_the_current_status(database, job_factory):
    job = job_factory(created_at=T0)
    with database.write() as conn:
        event = writes.append_status(conn, job_id=job["id"], status="running", timestamp=T0 + H, message="m")
    assert event["status"] == "RUNNING" and event["timestamp"] == T0 + H and event["message"] == "m"
    with database.read() as conn:
        current = queries.get_job(conn, job_id=job["id"])
    assert (current["status"], current["updated_at"]) == ("RUNNING", T0 + H)


def test_a_late_event_joins_the_history_without_changing_the_current_status(database, job_factory):
    job = job_factory(created_at=T0, history=(("COMPLETED", T0 + 2 * H),))
    with database.write() as conn:
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + H)
    with database.read() as conn:
        current = queries.get_job(conn, job_id=job["id"])
        history = queries.job_history(conn, job_id=job["id"]).results
    assert (current["status"], current["updated_at"]) == ("COMPLETED", T0 + 2 * H)
    assert [e["status"] for e in history] == ["COMPLETED", "RUNNING", "PENDING"]
    assert current["history_count"] == 3


def test_a_tie_on_time_goes_to_the_later_event(database, job_factory):
    job = job_factory(created_at=T0, history=(("RUNNING", T0 + H),))
    with database.write() as conn:
        writes.append_status(conn, job_id=job["id"], status="FAILED", timestamp=T0 + H)
    with database.read() as conn:
        assert queries.get_job(conn, job_id=job["id"])["status"] == "FAILED"
    assert invariant_violations(database) == []


def test_a_failed_transaction_leaves_no_trace(database, job_factory):
    job = job_factory(created_at=T0)
    with pytest.raises(RuntimeError), database.write() as conn:
        writes.append_status(conn, job_id=job["id"], status="FAILED", timestamp=T0 + H)
        raise RuntimeError("caller failed after the write")
    with database.read() as conn:
        assert queries.get_job(conn, job_id=job["id"])["status"] == "PENDING"
    assert counts(database) == (1, 1)


def test_delete_job_takes_its_history(database, job_factory):
    keep = job_factory(history=(("RUNNING", T0 + H),))
    gone = job_factory(history=(("RUNNING", T0 + H), ("FAILED", T0 + 2 * H)))
    with database.write() as conn:
        writes.delete_job(conn, job_id=gone["id"])
    assert counts(database) == (1, 2)
    with pytest.raises(NotFound), database.read() as conn:
        queries.get_job(conn, job_id=gone["id"])
    with pytest.raises(NotFound), database.write() as conn:
        writes.delete_job(conn, job_id=gone["id"])
    with database.read() as conn:
        assert queries.get_job(conn, job_id=keep["id"])["history_count"] == 2


def test_the_database_itself_cascades_deletes(database, job_factory):
    """Raw SQL, no ORM: the foreign key's ON DELETE CASCADE is in the schema."""
    job = job_factory(history=(("RUNNING", T0 + H),))
    with database.write() as conn:
        conn.execute(text("DELETE FROM job WHERE id = :id"), {"id": job["id"]})
    assert counts(database) == (0, 0)


def test_the_database_refuses_bad_statuses_and_orphan_events(database, job_factory):
    job = job_factory()
    bad_statements = [
        ("UPDATE job SET current_status_type = 'DONE' WHERE id = :id", {"id": job["id"]}),
        (
            "INSERT INTO job_status (job_id, status_type, timestamp) VALUES (:id, 'DONE', :ts)",
            {"id": job["id"], "ts": "2026-01-01 00:00:00"},
        ),
        (
            "INSERT INTO job_status (job_id, status_type, timestamp) VALUES (999999, 'RUNNING', :ts)",
            {"ts": "2026-01-01 00:00:00"},
        ),
    ]
    for sql, params in bad_statements:
        with pytest.raises(Exception, match=r"(?i)check|constraint|foreign"), database.write() as conn:
            conn.execute(text(sql), params)
    assert counts(database) == (1, 1)


@requires_postgres
def test_a_late_append_reads_a_few_index_entries_whatever_the_history(database, job_factory):
    """A late event lands in the middle of a long history: each walk of the history index starts at the
    event's place and reads a few entries, and no table is read whole, with the generic plan a writer's
    connection keeps (made here, as on a new database, while the flags table is empty and analyzed)."""
    cycle = ("RUNNING", "FAILED", "PENDING")  # allowed transitions only: no flags
    history = tuple((cycle[i % 3], T0 + (i + 1) * H) for i in range(300))
    job = job_factory(status="PENDING", history=history)
    names: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    statement = re.sub(r"%\((\w+)\)s", placeholder, writes._APPEND_LATE_SQL)  # %% stays: psycopg reads it
    types = {"job_id": "bigint", "status": "varchar", "ts": "timestamptz", "message": "text"}
    late = {"job_id": job["id"], "status": "RUNNING", "ts": T0 + 150.5 * H, "message": "late"}
    with database.write() as conn:
        conn.exec_driver_sql("ANALYZE job_disallowed_transition")
        driver_row(conn, writes._LOCK_SQL, {"job_id": job["id"]})  # the write's planner settings
        conn.exec_driver_sql(f"PREPARE late_append ({', '.join(types[n] for n in names)}) AS {statement}")
        arguments = ", ".join(f"'{late[n]}'::{types[n]}" for n in names)  # fixed values, quoted by hand
        explained = conn.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE late_append ({arguments})"
        ).scalar_one()
        conn.rollback()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]
    every = list(nodes(plan))
    assert not [n["Relation Name"] for n in every if n["Node Type"] == "Seq Scan"]
    walks = [n for n in every if n.get("Relation Name") == "job_status" and "Index" in n["Node Type"]]
    assert len(walks) >= 5  # before and after the place, the runs around them, the first event
    for walk in walks:
        read = walk["Actual Rows"] * walk["Actual Loops"] + walk.get("Rows Removed by Filter", 0)
        assert read <= 3, (walk.get("Index Cond"), read)
