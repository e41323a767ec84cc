"""A finished job's duration: ``job.duration_s`` and the indexes of the duration orderings.

``duration_s`` is the seconds from ``created_at`` to the job's terminal event (its newest event, when
its current status is COMPLETED, FAILED or CANCELLED), null while it is unfinished; the write path keeps
it in the same statement as the current status (docs/architecture.md, "Duration").

The column is added without a default (no table rewrite) and backfilled in batches of ``BATCH`` job
ids, each its own short transaction (autocommit), so that a table of ten million jobs is never one
transaction holding millions of row locks. On PostgreSQL a ``VACUUM`` then removes the row versions the
batches left behind. Writers running the previous release during the batches do not keep the column, so
a last pass, with writers held off (``LOCK TABLE job IN SHARE MODE``), builds the indexes and then sets
every row still wrong (the indexes keep up with it).

That order matters on PostgreSQL: an index built over a table holding recently dead versions of its rows
(updated by the batches or by this transaction) is marked ``pg_index.indcheckxmin`` and no transaction
whose snapshot predates it may plan with it, which, with a long report open, leaves the duration orderings
sorting the whole table. After the ``VACUUM`` there are none, unless a transaction older than the batches
is still open (then the indexes are used once it ends).

The backfill SQL is frozen here (it does not call the application).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 50_000
TERMINAL = "('COMPLETED', 'FAILED', 'CANCELLED')"
# Seconds between the job's newest event and its creation: exact on PostgreSQL (numeric, then double);
# on SQLite from the stored text ('YYYY-MM-DD HH:MM:SS.ffffff'), whole seconds plus microseconds.
SECONDS = {
    "postgresql": "CAST(extract(epoch FROM updated_at - created_at) AS double precision)",
    # strftime('%s') on the whole seconds only: on the full text it rounds to the millisecond first.
    "sqlite": "((CAST(strftime('%s', substr(updated_at, 1, 19)) AS INTEGER)"
    " - CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER))"
    " + (CAST(substr(updated_at, 21, 6) AS INTEGER) - CAST(substr(created_at, 21, 6) AS INTEGER))"
    " / 1000000.0)",
}
LEVELS = {
    "": (),
    "_current_status_type": ("current_status_type",),
    "_family_current_status_type": ("family", "current_status_type"),
}
KEYS = {"asc": "coalesce(duration_s, 1000000000000)", "desc": "coalesce(duration_s, -1)"}
INDEXES = {
    f"ix_job{prefix}_duration_{way}_id": [*columns, sa.text(key), "id"]
    for prefix, columns in LEVELS.items()
    for way, key in KEYS.items()
}


def _expected(dialect: str) -> str:
    return f"CASE WHEN current_status_type IN {TERMINAL} THEN {SECONDS[dialect]} END"


def upgrade() -> None:
    """Add the column, backfill it in batches, catch up with writers held off, index it."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column("job", sa.Column("duration_s", sa.Double(), nullable=True))
    high = bind.execute(sa.text("SELECT coalesce(max(id), 0) FROM job")).scalar_one()
    batch = sa.text(
        f"UPDATE job SET duration_s = {SECONDS[dialect]} "  # noqa: S608 - fixed text
        f"WHERE id > :low AND id <= :high AND current_status_type IN {TERMINAL}"
    )
    with op.get_context().autocommit_block():
        if dialect == "postgresql":
            op.execute("SET statement_timeout = 0")
        for low in range(0, high, BATCH):
            bind.execute(batch, {"low": low, "high": low + BATCH})
        if dialect == "postgresql":
            op.execute("VACUUM job")
    if dialect == "postgresql":
        op.execute("SET LOCAL statement_timeout = 0")
        op.execute("SET LOCAL maintenance_work_mem = '512MB'")
        op.execute("LOCK TABLE job IN SHARE MODE")
    for name, columns in INDEXES.items():
        op.create_index(name, "job", columns)
    expected = _expected(dialect)
    distinct = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    op.execute(f"UPDATE job SET duration_s = {expected} WHERE duration_s {distinct} {expected}")  # noqa: S608
    if dialect == "postgresql":
        op.execute("ANALYZE job")


def downgrade() -> None:
    """Drop the indexes and the column; nothing else depends on them."""
    for name in INDEXES:
        op.drop_index(name, table_name="job")
    op.drop_column("job", "duration_s")
