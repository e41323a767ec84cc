"""Initial schema: job, job_status (append-only), and every index the reads use.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_SET = "('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create both tables, their constraints and indexes (plus trigram search on PostgreSQL)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "job",
        sa.Column("id", BIG_ID, sa.Identity(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_status_type", sa.String(16), nullable=False),
        sa.CheckConstraint(f"current_status_type IN {STATUS_SET}", name="ck_job_current_status_type"),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
    )
    # One (key, id) index per list ordering, alone and behind the status: no list ever sorts.
    for key in ("created_at", "updated_at", "name"):
        op.create_index(f"ix_job_{key}_id", "job", [key, "id"])
        op.create_index(f"ix_job_current_status_type_{key}_id", "job", ["current_status_type", key, "id"])
    if postgres:
        op.create_index(
            "ix_job_name_trgm",
            "job",
            ["name"],
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )
    op.create_table(
        "job_status",
        sa.Column("id", BIG_ID, sa.Identity(), nullable=False),
        sa.Column("job_id", BIG_ID, nullable=False),
        sa.Column("status_type", sa.String(16), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(f"status_type IN {STATUS_SET}", name="ck_job_status_status_type"),
        sa.CheckConstraint("message IS NULL OR length(message) <= 4096", name="ck_job_status_message_length"),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name="fk_job_status_job_id_job", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_job_status"),
    )
    op.create_index(
        "ix_job_status_job_id_timestamp_id",
        "job_status",
        ["job_id", sa.literal_column("timestamp DESC"), sa.literal_column("id DESC")],
    )


def downgrade() -> None:
    """Drop everything the upgrade made (the pg_trgm extension stays: others may use it)."""
    op.drop_table("job_status")
    op.drop_table("job")
