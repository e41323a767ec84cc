"""Alembic migrations: the only way JobDash's schema is created or changed."""
