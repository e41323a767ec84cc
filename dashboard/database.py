"""The app's Database, attached to the Flask app once and reached through ``get_database()`` during a request,
or ``database_of(server)`` outside one."""

from __future__ import annotations

from flask import Flask, current_app

from dashboard.settings import Settings
from db.engine import Database

_EXTENSION = "jobdash.database"


def init_db(server: Flask, settings: Settings) -> Database:
    """Create the engines from ``settings`` and attach them to ``server``."""
    database = Database.connect(
        settings.database_url,
        read_url=settings.read_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        connect_timeout=settings.db_connect_timeout,
        vacuum_every=settings.vacuum_every,
        fold_every=settings.fold_every,
    )
    server.extensions[_EXTENSION] = database
    return database


def database_of(server: Flask) -> Database:
    """The Database that :func:`init_db` attached to ``server``."""
    database: Database = server.extensions[_EXTENSION]
    return database


def get_database() -> Database:
    """The Database of the app handling the current request."""
    return database_of(current_app)
