"""Shared fixtures. One choice of database for the whole run: SQLite in a temporary file by default,
PostgreSQL when JOBDASH_TEST_DATABASE_URL is set. Every test starts from empty tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dashboard import create_app
from dashboard.database import database_of
from dashboard.settings import Settings
from db import migrate, writes
from db.engine import Database

TEST_DATABASE_URL = os.environ.get("JOBDASH_TEST_DATABASE_URL", "")
requires_postgres = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgres"), reason="needs JOBDASH_TEST_DATABASE_URL (PostgreSQL)"
)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# Every table of the schema, children first.
TABLES = (
    "job_disallowed_transition",
    "job_status",
    "job",
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
    "job_history_delta",
)


def postgres_url(database_name: str | None = None) -> str:
    """The PostgreSQL test URL (psycopg 3), optionally pointing at another database on the same server."""
    url = make_url(Settings.from_env({"JOBDASH_DATABASE_URL": TEST_DATABASE_URL}).database_url)
    if database_name:
        url = url.set(database=database_name)
    return url.render_as_string(hide_password=False)


def head_revision(database: Database) -> str | None:
    """The newest revision of the migrations, as ``jobdash db upgrade`` leaves a database."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config(database.writer)).get_current_head()


@contextlib.contextmanager
def scratch_postgres_database(suffix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database next to the test one, dropped afterwards; yields its URL."""
    name = f"{make_url(postgres_url()).database}_{suffix}"
    admin = create_engine(postgres_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL every test of this run uses."""
    if TEST_DATABASE_URL:
        return postgres_url()
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'jobdash-test.db'}"


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[Database]:
    """The test database, brought to the newest schema from scratch once per run."""
    database = Database.connect(database_url)
    if database.dialect == "postgresql":
        with database.writer.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {', '.join(TABLES)}, alembic_version CASCADE"))
    migrate.upgrade(database.writer)
    yield database
    database.dispose()


def empty_tables(database: Database) -> None:
    """Delete every row (and on PostgreSQL restart the ids), keeping the schema."""
    with database.write() as conn:
        if database.dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def database(migrated_database: Database) -> Iterator[Database]:
    """The migrated test database with empty tables."""
    empty_tables(migrated_database)
    yield migrated_database


@pytest.fixture
def settings(database: Database, database_url: str) -> Settings:
    """Settings for an app on the test database, with a known write token and no cache."""
    return Settings.from_env(
        {},
        database_url=database_url,
        api_tokens=("test-token",),
        cache_ttl=0,
        log_level="WARNING",
    )


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Any]]:
    """``make_app(**changes)``: a fresh Dash app (and Flask server) on the test database, with some
    settings changed; its engines are disposed after the test."""
    apps: list[Any] = []

    def build(**changes: Any) -> Any:
        dash_app = create_app(settings.replace(**changes))
        dash_app.server.config["TESTING"] = True
        apps.append(dash_app)
        return dash_app

    yield build
    for dash_app in apps:
        database_of(dash_app.server).dispose()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """A fresh Dash app (and Flask server) on the test database."""
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client for the app's server."""
    return app.server.test_client()


_names = itertools.count(1)


def make_job(
    database: Database,
    *,
    name: str | None = None,
    status: str = "PENDING",
    created_at: dt.datetime | None = None,
    history: tuple[tuple[str, dt.datetime], ...] = (),
) -> dict[str, Any]:
    """Create one job (and optionally more events); returns the job as ``create_job`` does."""
    with database.write() as conn:
        job = writes.create_job(
            conn, name=name or f"job-{next(_names)}", status=status, timestamp=created_at or T0
        )
        for event_status, at in history:
            writes.append_status(conn, job_id=job["id"], status=event_status, timestamp=at)
    return job


@pytest.fixture
def job_factory(database: Database) -> Any:
    """``job_factory(name=..., status=..., created_at=..., history=[(status, at), ...])``."""
    return lambda **kwargs: make_job(database, **kwargs)
