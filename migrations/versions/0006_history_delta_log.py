"""The delta log of the history aggregates: ``job_history_delta``.

On PostgreSQL an appended event no longer updates the status mix, transition and time-in-state rows
itself: it writes what it changes in them as one row of this table, and a background fold adds a batch
of rows to the aggregates and deletes them in one transaction; reads add the rows not yet folded
(docs/architecture.md, "The delta log"). The table starts empty: nothing to backfill.

A downgrade folds every row left before it drops the table, so the aggregates the previous release
reads stay exact; it calls the application's fold (db/folding.py), whose SQL writes only the tables
that revision 0005 left.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _list_of(item: sa.types.TypeEngine[object]) -> sa.types.TypeEngine[object]:
    return sa.ARRAY(item).with_variant(sa.JSON(), "sqlite")


def upgrade() -> None:
    """Create the (empty) delta log."""
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "job_history_delta",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("family", sa.String(255), nullable=False),
        sa.Column("mix_at", _list_of(moment), nullable=True),
        sa.Column("mix_status", _list_of(sa.String(16)), nullable=True),
        sa.Column("mix_n", _list_of(sa.Integer()), nullable=True),
        sa.Column("move_at", _list_of(moment), nullable=True),
        sa.Column("move_from", _list_of(sa.String(16)), nullable=True),
        sa.Column("move_to", _list_of(sa.String(16)), nullable=True),
        sa.Column("move_n", _list_of(sa.Integer()), nullable=True),
        sa.Column("stay_at", _list_of(moment), nullable=True),
        sa.Column("stay_status", _list_of(sa.String(16)), nullable=True),
        sa.Column("stay_bucket", _list_of(sa.SmallInteger()), nullable=True),
        sa.Column("stay_n", _list_of(sa.Integer()), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job_history_delta"),
    )


def downgrade() -> None:
    """Fold what is left into the aggregates, then drop the delta log."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from db import folding  # noqa: PLC0415 - only a downgrade needs the application

        folding.fold_all(bind)
    op.drop_table("job_history_delta")
