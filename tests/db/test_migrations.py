"""Migrations: the only way the schema is made; they match the models and go down cleanly."""

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from db import aggregates, check, history, migrate, queries, writes
from db.engine import Database
from db.models import Base, as_utc
from tests.conftest import head_revision, requires_postgres, scratch_postgres_database
from tests.invariant import duration_violations
from tests.recount import assert_history_matches

EXPECTED_JOB_INDEXES = {
    "ix_job_family_current_status_type_created_at_id",
    "ix_job_family_current_status_type_updated_at_id",
    "ix_job_family_current_status_type_name_id",
    "ix_job_family_current_status_type_status_since_id",
    "ix_job_created_at_id",
    "ix_job_updated_at_id",
    "ix_job_name_id",
    "ix_job_current_status_type_created_at_id",
    "ix_job_current_status_type_updated_at_id",
    "ix_job_current_status_type_name_id",
    "ix_job_duration_asc_id",
    "ix_job_duration_desc_id",
    "ix_job_current_status_type_duration_asc_id",
    "ix_job_current_status_type_duration_desc_id",
    "ix_job_family_current_status_type_duration_asc_id",
    "ix_job_family_current_status_type_duration_desc_id",
}


def job_index_names(database):
    """The names of the indexes on ``job``, expression indexes included (SQLAlchemy does not reflect
    those on SQLite)."""
    if database.writer.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'job'"
    with database.writer.connect() as conn:
        return {name for (name,) in conn.execute(text(query))}


def schema_differences(database):
    with database.writer.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def assert_round_trip(database, trigram):
    migrate.upgrade(database.writer)
    inspector = inspect(database.writer)
    assert set(inspector.get_table_names()) >= {
        "job",
        "job_status",
        "job_count_hour",
        "job_count_day",
        "job_count_total",
        "job_family",
        "job_count_family",
        "job_mix_hour",
        "job_mix_day",
        "job_mix_month",
        "job_transition_hour",
        "job_transition_day",
        "job_state_time_day",
        "job_state_time_week",
        "job_disallowed_transition",
        "alembic_version",
    }
    indexes = job_index_names(database)
    assert indexes >= EXPECTED_JOB_INDEXES
    assert ("ix_job_name_trgm" in indexes) is trigram
    history = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("job_status")}
    assert history["ix_job_status_job_id_timestamp_id"][0] == "job_id"
    fk = inspector.get_foreign_keys("job_status")[0]
    assert fk["referred_table"] == "job" and fk["options"].get("ondelete") == "CASCADE"
    assert migrate.current_revision(database.writer) == head_revision(database)
    migrate.downgrade(database.writer, "base")
    assert set(inspect(database.writer).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database.writer)  # and back up again
    assert migrate.current_revision(database.writer) == head_revision(database)


def assert_backfill(database):
    """Jobs written before the count tables existed are counted by the migration that adds them."""
    migrate.upgrade(database.writer, "0001")
    t0 = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    rows = [
        (f"job-{i}", t0 + dt.timedelta(minutes=17 * i), ["PENDING", "FAILED", "COMPLETED"][i % 3])
        for i in range(40)
    ]
    with database.write() as conn:
        for name, created, status in rows:
            job_id = conn.execute(
                text(
                    "INSERT INTO job (name, created_at, updated_at, current_status_type) "
                    "VALUES (:n, :t, :t, :s) RETURNING id"
                ),
                {
                    "n": name,
                    "t": created
                    if database.dialect == "postgresql"
                    else created.replace(tzinfo=None).isoformat(" "),
                    "s": status,
                },
            ).scalar_one()
            events = [(status, created)]
            if job_id % 3 == 0:  # an older PENDING event first: transitions, a stay, some flagged
                events.append(("PENDING", created - dt.timedelta(minutes=10 + job_id)))
            for event_status, at in events:
                conn.execute(
                    text("INSERT INTO job_status (job_id, status_type, timestamp) VALUES (:j, :s, :t)"),
                    {
                        "j": job_id,
                        "s": event_status,
                        "t": at
                        if database.dialect == "postgresql"
                        else at.replace(tzinfo=None).isoformat(" "),
                    },
                )
    migrate.upgrade(database.writer, "0002")
    migrate.upgrade(database.writer)
    # The families, status_since and every history aggregate were backfilled from the event log.
    assert_history_matches(database, hours=(t0 - dt.timedelta(hours=1), t0 + dt.timedelta(hours=13)))
    with database.write() as conn:
        assert check.check(conn).problems == []
        assert {family for (family,) in conn.execute(text("SELECT DISTINCT family FROM job"))} == {"job"}
        flagged = conn.execute(text("SELECT count(*) FROM job_disallowed_transition")).scalar_one()
        assert flagged == sum(1 for i in range(1, 41) if i % 3 == 0)  # P -> P, F or C: none allowed
    with database.read() as conn:
        assert aggregates.drift(conn) == []
        assert queries.status_totals(conn).by_status == {
            "PENDING": 14,
            "RUNNING": 0,
            "COMPLETED": 13,
            "FAILED": 13,
            "CANCELLED": 0,
        }
        middle = queries.JobFilter.build(
            created_after=t0 + dt.timedelta(hours=2, minutes=5), created_before=t0 + dt.timedelta(hours=7)
        )
        expected = sum(1 for _, created, _ in rows if middle.created_after <= created < middle.created_before)
        assert queries.count_jobs(conn, filters=middle) == queries.Count(expected, "exact")


def assert_duration_backfill(database):
    """0004 fills ``duration_s`` for jobs written before it, across backfill batches (ids far apart), a
    retried job and a late event included; its downgrade drops the column and indexes, and up again."""
    migrate.upgrade(database.writer)
    t0 = dt.datetime(2026, 3, 1, 23, 30, 0, 250_000, tzinfo=dt.UTC)
    histories = {
        1: [("PENDING", 0), ("RUNNING", 5), ("COMPLETED", 3605.5)],
        49_999: [("PENDING", 0), ("RUNNING", 1), ("FAILED", 7.125)],
        50_000: [("PENDING", 0), ("RUNNING", 1), ("FAILED", 7), ("PENDING", 8)],  # retried
        50_001: [("CANCELLED", 0)],
        123_456: [("PENDING", 0), ("RUNNING", 2), ("COMPLETED", 90), ("RUNNING", 50)],  # a late event
        200_000: [("PENDING", 0), ("RUNNING", 2)],
    }
    migrate.downgrade(database.writer, "0003")
    assert "duration_s" not in {c["name"] for c in inspect(database.writer).get_columns("job")}
    with database.write() as conn:
        for job_id, events in histories.items():
            newest = max(events, key=lambda e: e[1])
            conn.execute(
                text(
                    "INSERT INTO job (id, name, created_at, updated_at, current_status_type, family, "
                    "status_since) VALUES (:id, :name, :c, :u, :s, 'job', :u)"
                ),
                {
                    "id": job_id,
                    "name": f"job-{job_id}",
                    "c": t0,
                    "u": t0 + dt.timedelta(seconds=newest[1]),
                    "s": newest[0],
                },
            )
            for status, seconds in events:
                conn.execute(
                    text("INSERT INTO job_status (job_id, status_type, timestamp) VALUES (:j, :s, :t)"),
                    {"j": job_id, "s": status, "t": t0 + dt.timedelta(seconds=seconds)},
                )
    migrate.upgrade(database.writer)
    with database.read() as conn:
        stored = dict(conn.execute(text("SELECT id, duration_s FROM job")).all())
    assert stored == {1: 3605.5, 49_999: 7.125, 50_000: None, 50_001: 0.0, 123_456: 90.0, 200_000: None}
    assert duration_violations(database) == []
    indexes = job_index_names(database)
    assert {name for name in EXPECTED_JOB_INDEXES if "duration" in name} <= indexes
    if database.writer.dialect.name == "postgresql":
        # Usable by every transaction from now on, not only by those that start after some older one ends.
        with database.read() as conn:
            waiting = conn.execute(
                text(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = 'job'::regclass AND (i.indcheckxmin OR NOT i.indisvalid)"
                )
            ).scalars()
            assert list(waiting) == []
    with database.read() as conn:
        longest = queries.list_jobs(conn, ordering="-duration").results
    assert [job["id"] for job in longest] == [1, 123_456, 49_999, 50_001, 200_000, 50_000]


def _stored_time(value):
    """A timestamp read by raw SQL: a datetime on PostgreSQL, its stored text on SQLite."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def assert_histogram_reshape(database):
    """0005 turns the per-bucket time-in-state rows into one histogram row per (family, status, period),
    and its downgrade turns them back, losing no stay (nor does 0006's, which folds the delta log)."""
    migrate.upgrade(database.writer)
    t0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    with database.write() as conn:
        for i, seconds in enumerate([0.0004, 0.5, 3, 3, 40, 600, 7200, 86_400 * 3]):
            job_id = writes.create_job(conn, name=f"etl-{i}", timestamp=t0)["id"]
            ended = t0 + dt.timedelta(seconds=seconds)
            writes.append_status(conn, job_id=job_id, status="RUNNING", timestamp=ended)
            writes.append_status(conn, job_id=job_id, status="COMPLETED", timestamp=ended + dt.timedelta(1))
    with database.read() as conn:
        kept = {name: history.kept_rows(conn, name) for name in ("job_state_time_day", "job_state_time_week")}
    migrate.downgrade(database.writer, "0005")  # 0006's downgrade folds the delta log into the tables
    with database.read() as conn:
        rows = conn.execute(text("SELECT family, status, starts_at FROM job_state_time_day")).all()
    assert sum(kept["job_state_time_day"].values()) == 16  # 8 PENDING and 8 RUNNING stays
    assert len(rows) == len(set(rows)) == 4  # PENDING and RUNNING on the two days the stays ended
    migrate.downgrade(database.writer, "0004")
    with database.read() as conn:
        for name, expected in kept.items():
            by_bucket = conn.execute(
                text(f"SELECT family, status, starts_at, bucket, stays FROM {name}")
            ).all()
            assert {
                (family, status, as_utc(_stored_time(at)), bucket): n
                for family, status, at, bucket, n in by_bucket
            } == dict(expected)
    migrate.upgrade(database.writer)
    with database.write() as conn:
        assert {name: history.kept_rows(conn, name) for name in kept} == kept
        assert check.check(conn).problems == []


@requires_postgres
def test_postgres_upgrade_matches_the_models_and_downgrades():
    with scratch_postgres_database("migrations") as url:
        database = Database.connect(url)
        try:
            migrate.upgrade(database.writer)
            assert schema_differences(database) == []
            assert_round_trip(database, trigram=True)
            migrate.downgrade(database.writer, "base")
            assert_backfill(database)
            migrate.downgrade(database.writer, "base")
            assert_duration_backfill(database)
            migrate.downgrade(database.writer, "base")
            assert_histogram_reshape(database)
        finally:
            database.dispose()


def test_sqlite_upgrade_and_downgrade(tmp_path):
    database = Database.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert migrate.current_revision(database.writer) is None
        assert_round_trip(database, trigram=False)
        migrate.downgrade(database.writer, "base")
        assert_backfill(database)
        migrate.downgrade(database.writer, "base")
        assert_duration_backfill(database)
        migrate.downgrade(database.writer, "base")
        assert_histogram_reshape(database)
    finally:
        database.dispose()


@pytest.mark.parametrize("pragma", ["foreign_keys", "journal_mode"])
def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path, pragma):
    database = Database.connect(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with database.read() as conn:
        value = conn.exec_driver_sql(f"PRAGMA {pragma}").scalar_one()
    database.dispose()
    assert str(value).lower() in {"1", "wal"}
