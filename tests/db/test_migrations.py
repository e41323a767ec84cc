"""Migrations: the only way the schema is made; they match the models and go down cleanly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db import migrate
from db.engine import Database
from db.models import Base
from tests.conftest import requires_postgres, scratch_postgres_database

EXPECTED_JOB_INDEXES = {
    "ix_job_created_at_id",
    "ix_job_updated_at_id",
    "ix_job_name_id",
    "ix_job_current_status_type_created_at_id",
    "ix_job_current_status_type_updated_at_id",
    "ix_job_current_status_type_name_id",
}


def schema_differences(database):
    with database.writer.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def assert_round_trip(database, trigram):
    migrate.upgrade(database.writer)
    inspector = inspect(database.writer)
    assert set(inspector.get_table_names()) >= {"job", "job_status", "alembic_version"}
    indexes = {ix["name"] for ix in inspector.get_indexes("job")}
    assert indexes >= EXPECTED_JOB_INDEXES
    assert ("ix_job_name_trgm" in indexes) is trigram
    history = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("job_status")}
    assert history["ix_job_status_job_id_timestamp_id"][0] == "job_id"
    fk = inspector.get_foreign_keys("job_status")[0]
    assert fk["referred_table"] == "job" and fk["options"].get("ondelete") == "CASCADE"
    assert migrate.current_revision(database.writer) == "0001"
    migrate.downgrade(database.writer, "base")
    assert set(inspect(database.writer).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database.writer)  # and back up again
    assert migrate.current_revision(database.writer) == "0001"


@requires_postgres
def test_postgres_upgrade_matches_the_models_and_downgrades():
    with scratch_postgres_database("migrations") as url:
        database = Database.connect(url)
        try:
            migrate.upgrade(database.writer)
            assert schema_differences(database) == []
            assert_round_trip(database, trigram=True)
        finally:
            database.dispose()


def test_sqlite_upgrade_and_downgrade(tmp_path):
    database = Database.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert migrate.current_revision(database.writer) is None
        assert_round_trip(database, trigram=False)
    finally:
        database.dispose()


@pytest.mark.parametrize("pragma", ["foreign_keys", "journal_mode"])
def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path, pragma):
    database = Database.connect(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with database.read() as conn:
        value = conn.exec_driver_sql(f"PRAGMA {pragma}").scalar_one()
    database.dispose()
    assert str(value).lower() in {"1", "wal"}
