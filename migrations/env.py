"""Alembic environment: the URL comes from the caller's config or from JOBDASH_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from db.engine import Database
from db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from dashboard.settings import Settings

    return Settings.from_env().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a connection handed in by the caller, or on a fresh one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Index builds on a large table may outlast the request statement timeout: none here.
    database = Database.connect(_url(), statement_timeout_ms=0)
    try:
        with database.writer.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        database.dispose()


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
