"""Time in state as one histogram row per (family, status, period), instead of one row per bucket.

``job_state_time_day`` / ``_week`` held a row per (family, status, period, duration bucket): a read of
30 days summed up to 160 rows per (family, status) and day, so it grew with the data until every bucket
was filled (7,000 rows at a million jobs). Each now holds one row per (family, status, period) whose
``stays`` is the array of every bucket's count (element ``i`` is bucket ``i``, up to the highest bucket
with any; a JSON array on SQLite), and a read costs a row per (family, status) and period whatever the
number of stays (docs/architecture.md, "History aggregates").

The rows are converted, not replayed from the event log: each table is renamed, the new one created
under the old name and filled from it in one statement, and the old one dropped. The renames take the
tables' strongest lock, so writers wait for the few seconds this takes and continue on the new tables;
a writer still running the previous release fails on them (its transaction rolls back whole), so upgrade
with the previous release stopped. The downgrade converts back.

The conversion SQL is frozen here (it does not call the application).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import json
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNITS = ("day", "week")
HISTOGRAM = sa.ARRAY(sa.BigInteger()).with_variant(sa.JSON(), "sqlite")
# Per-bucket rows -> one array per (family, status, starts_at): element i (PostgreSQL index i + 1) holds
# bucket i, zeros between, up to the highest bucket with any stays.
TO_HISTOGRAMS = """
    INSERT INTO {new} (family, status, starts_at, stays)
    SELECT family, status, starts_at, ARRAY(
        SELECT coalesce((buckets ->> g::text)::bigint, 0) FROM generate_series(0, top) AS g ORDER BY g
    ) FROM (
        SELECT family, status, starts_at, jsonb_object_agg(bucket, stays) AS buckets, max(bucket) AS top
        FROM {old} WHERE stays <> 0 GROUP BY 1, 2, 3
    ) AS by_row
"""
TO_BUCKETS = """
    INSERT INTO {new} (family, status, starts_at, bucket, stays)
    SELECT family, status, starts_at, u.i - 1, u.n
    FROM {old} CROSS JOIN LATERAL unnest(stays) WITH ORDINALITY AS u(n, i) WHERE u.n <> 0
"""


def _create(name: str, *, histogram: bool) -> None:
    value = (
        [sa.Column("stays", HISTOGRAM, nullable=False)]
        if histogram
        else [
            sa.Column("bucket", sa.SmallInteger(), nullable=False),
            sa.Column("stays", sa.BigInteger(), nullable=False),
        ]
    )
    keys = ("family", "status", "starts_at") if histogram else ("family", "status", "starts_at", "bucket")
    op.create_table(
        name,
        sa.Column("family", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        *value,
        sa.PrimaryKeyConstraint(*keys, name=f"pk_{name}"),
    )


def _convert_sqlite(old: str, new: str, *, histogram: bool) -> None:
    """The same conversion in Python: SQLite has no arrays, and its tables here are small."""
    bind = op.get_bind()
    if histogram:
        rows: dict[tuple[str, str, str], dict[int, int]] = defaultdict(dict)
        for family, status, starts_at, bucket, n in bind.exec_driver_sql(
            f"SELECT family, status, starts_at, bucket, stays FROM {old} WHERE stays <> 0"  # noqa: S608
        ):
            rows[(family, status, starts_at)][int(bucket)] = int(n)
        values = [
            (*key, json.dumps([buckets.get(b, 0) for b in range(max(buckets) + 1)]))
            for key, buckets in rows.items()
        ]
        statement = f"INSERT INTO {new} (family, status, starts_at, stays) VALUES (?, ?, ?, ?)"  # noqa: S608
    else:
        values = [
            (family, status, starts_at, bucket, n)
            for family, status, starts_at, stays in bind.exec_driver_sql(
                f"SELECT family, status, starts_at, stays FROM {old}"  # noqa: S608
            )
            for bucket, n in enumerate(json.loads(stays))
            if n
        ]
        statement = f"INSERT INTO {new} (family, status, starts_at, bucket, stays) VALUES (?, ?, ?, ?, ?)"  # noqa: S608
    if values:
        bind.exec_driver_sql(statement, values)


def _reshape(*, histogram: bool) -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("SET LOCAL statement_timeout = 0")
    for unit in UNITS:
        name = f"job_state_time_{unit}"
        old = f"{name}_old"
        op.rename_table(name, old)
        if postgres:  # the primary key's index name is taken until the old table goes
            op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{name} TO pk_{old}")
        _create(name, histogram=histogram)
        if postgres:
            op.execute((TO_HISTOGRAMS if histogram else TO_BUCKETS).format(new=name, old=old))
        else:
            _convert_sqlite(old, name, histogram=histogram)
        op.drop_table(old)
    if postgres:
        op.execute("ANALYZE job_state_time_day, job_state_time_week")


def upgrade() -> None:
    """Per-bucket rows to one histogram row per (family, status, period)."""
    _reshape(histogram=True)


def downgrade() -> None:
    """Histogram rows back to one row per bucket."""
    _reshape(histogram=False)
