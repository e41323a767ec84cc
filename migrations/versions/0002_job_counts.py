"""Counts kept by the write path: jobs per (created hour | created day | all time) x current status.

Creates ``job_count_hour``, ``job_count_day`` and ``job_count_total`` (striped by job id, see
docs/architecture.md) and backfills them from ``job`` while writers are locked out, so that they start
exact. The backfill is two passes over ``job`` (GROUP BY) on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as they were at this revision (the models may move on).
COUNT_STRIPES = 8
TOTAL_STRIPES = 64


def _count_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("starts_at", "status", "stripe", name=f"pk_{name}"),
    )


def upgrade() -> None:
    """Create the three count tables and fill them from the jobs already there."""
    postgres = op.get_bind().dialect.name == "postgresql"
    _count_table("job_count_hour")
    _count_table("job_count_day")
    op.create_table(
        "job_count_total",
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", "stripe", name="pk_job_count_total"),
    )
    if postgres:
        # Writers wait (readers do not) until the backfill commits: nothing can slip between the two.
        op.execute("LOCK TABLE job IN SHARE MODE")
        hour = "date_trunc('hour', created_at, 'UTC')"
        day = "date_trunc('day', starts_at, 'UTC')"
    else:
        # SQLite keeps timestamps as text in SQLAlchemy's format; the bucket starts must match it exactly.
        hour = "strftime('%Y-%m-%d %H:00:00.000000', created_at)"
        day = "strftime('%Y-%m-%d 00:00:00.000000', starts_at)"
    op.execute(
        "INSERT INTO job_count_hour (starts_at, status, stripe, jobs) "
        f"SELECT {hour}, current_status_type, id % {COUNT_STRIPES}, count(*) FROM job GROUP BY 1, 2, 3"
    )
    op.execute(
        "INSERT INTO job_count_day (starts_at, status, stripe, jobs) "
        f"SELECT {day}, status, stripe, sum(jobs) FROM job_count_hour GROUP BY 1, 2, 3"
    )
    op.execute(
        "INSERT INTO job_count_total (status, stripe, jobs) "
        f"SELECT current_status_type, id % {TOTAL_STRIPES}, count(*) FROM job GROUP BY 1, 2"
    )


def downgrade() -> None:
    """Drop the count tables; nothing else depends on them."""
    op.drop_table("job_count_total")
    op.drop_table("job_count_day")
    op.drop_table("job_count_hour")
