"""Job families, status_since, and the history aggregates: status mix changes, transitions, time in state.

Adds ``job.family`` and ``job.status_since`` (with their indexes), ``job_family``, ``job_count_family``,
``job_mix_hour`` / ``_day`` / ``_month``, ``job_transition_hour`` / ``_day``, ``job_state_time_day`` /
``_week`` and ``job_disallowed_transition`` (docs/architecture.md, "History aggregates"), and backfills all
of them from the event log while writers are locked out: one pass over ``job_status`` replaying every
job's history (``db.history.rebuild``, the same code as ``jobdash db check --repair``), with the family
pattern of ``JOBDASH_FAMILY_PATTERN`` / ``JOBDASH_MAX_FAMILIES`` (the defaults when unset). The indexes on
the new columns are built after the backfill.

The backfill calls the application's rebuild, which writes these tables as the models define them at
this revision: a later revision that changes them must freeze a copy of what this one needs. Revision
0005 made ``job_state_time_day`` / ``_week`` one histogram row per period: the rebuild here leaves them
to :func:`_backfill_stays_by_bucket`, which writes this revision's rows, one per bucket.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = sa.String(16)
FAMILY = sa.String(255)
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_JOB_INDEXES = {
    "ix_job_family_current_status_type_created_at_id": ["family", "current_status_type", "created_at", "id"],
    "ix_job_family_current_status_type_updated_at_id": ["family", "current_status_type", "updated_at", "id"],
    "ix_job_family_current_status_type_name_id": ["family", "current_status_type", "name", "id"],
    "ix_job_family_current_status_type_status_since_id": [
        "family",
        "current_status_type",
        "status_since",
        "id",
    ],
}


def _table(name: str, *columns: sa.Column, keys: tuple[str, ...]) -> None:
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*keys, name=f"pk_{name}"))


def _create_tables() -> None:
    _table("job_family", sa.Column("name", FAMILY, nullable=False), keys=("name",))
    _table(
        "job_count_family",
        sa.Column("family", FAMILY, nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        keys=("family", "status", "stripe"),
    )
    for unit in ("hour", "day", "month"):
        _table(
            f"job_mix_{unit}",
            sa.Column("starts_at", TIME, nullable=False),
            sa.Column("status", STATUS, nullable=False),
            sa.Column("stripe", sa.SmallInteger(), nullable=False),
            sa.Column("jobs", sa.BigInteger(), nullable=False),
            keys=("starts_at", "status", "stripe"),
        )
    for unit in ("hour", "day"):
        _table(
            f"job_transition_{unit}",
            sa.Column("starts_at", TIME, nullable=False),
            sa.Column("family", FAMILY, nullable=False),
            sa.Column("from_status", STATUS, nullable=False),
            sa.Column("to_status", STATUS, nullable=False),
            sa.Column("transitions", sa.BigInteger(), nullable=False),
            keys=("starts_at", "family", "from_status", "to_status"),
        )
    for unit in ("day", "week"):
        _table(
            f"job_state_time_{unit}",
            sa.Column("family", FAMILY, nullable=False),
            sa.Column("status", STATUS, nullable=False),
            sa.Column("starts_at", TIME, nullable=False),
            sa.Column("bucket", sa.SmallInteger(), nullable=False),
            sa.Column("stays", sa.BigInteger(), nullable=False),
            keys=("family", "status", "starts_at", "bucket"),
        )
    op.create_table(
        "job_disallowed_transition",
        sa.Column("event_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("job_id", BIG_ID, nullable=False),
        sa.Column("family", FAMILY, nullable=False),
        sa.Column("from_status", STATUS, nullable=False),
        sa.Column("to_status", STATUS, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["job_status.id"],
            name="fk_job_disallowed_transition_event_id_job_status",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_job_disallowed_transition"),
    )
    op.create_index(
        "ix_job_disallowed_transition_at_event_id", "job_disallowed_transition", ["at", "event_id"]
    )
    op.create_index(
        "ix_job_disallowed_transition_family_at_event_id",
        "job_disallowed_transition",
        ["family", "at", "event_id"],
    )


STAY_TABLES = ("job_state_time_day", "job_state_time_week")


def _backfill_stays_by_bucket(bind: sa.Connection) -> None:
    """This revision's time-in-state rows, (family, status, period, bucket) -> stays, from the replay of
    the event log the rebuild just made: on PostgreSQL its temporary table of stays per day (r_stays, kept
    until the commit), on SQLite a replay of its own."""
    if bind.dialect.name == "postgresql":
        op.execute(
            "INSERT INTO job_state_time_day (family, status, starts_at, bucket, stays) "
            "SELECT family, status, starts_at, bucket, stays FROM r_stays"
        )
        op.execute(
            "INSERT INTO job_state_time_week (family, status, starts_at, bucket, stays) "
            "SELECT family, status, date_trunc('week', starts_at, 'UTC'), bucket, sum(stays) "
            "FROM r_stays GROUP BY 1, 2, 3, 4"
        )
        return
    from db import history
    from db.models import UTCDateTime

    tally = history.replay(bind).tally
    for name in STAY_TABLES:
        rows = [
            {"family": family, "status": status, "starts_at": at, "bucket": bucket, "stays": n}
            for (family, status, at, bucket), n in sorted(tally.rows[name].items())
            if n
        ]
        table = sa.table(
            name,
            sa.column("family"),
            sa.column("status"),
            sa.column("starts_at", UTCDateTime()),
            sa.column("bucket"),
            sa.column("stays"),
        )
        if rows:
            bind.execute(sa.insert(table), rows)


def _secondary_job_indexes() -> dict[str, str]:
    """Name -> CREATE INDEX statement of every index on ``job`` but its primary key (PostgreSQL)."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = 'job' AND indexname <> 'pk_job'"
        )
    )
    return {name: definition for name, definition in rows}


def upgrade() -> None:
    """Create the tables and columns, backfill them from the event log, then index the new columns."""
    from db import history
    from db.families import DEFAULT_CAP, FamilyRules

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    _create_tables()
    # NOT NULL from the start, with placeholder defaults the backfill overwrites: PostgreSQL adds such a
    # column without rewriting the table, and SQLite without recreating it (which would cascade the
    # implicit delete of the old table to every event).
    op.add_column("job", sa.Column("family", FAMILY, nullable=False, server_default=""))
    op.add_column(
        "job", sa.Column("status_since", TIME, nullable=False, server_default="1970-01-01 00:00:00+00:00")
    )
    if postgres:
        # The UPDATE of every job row may take minutes on a large table: no request timeout here.
        op.execute("SET LOCAL statement_timeout = 0")
        op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    rules = FamilyRules.parse(
        os.environ.get("JOBDASH_FAMILY_PATTERN"), int(os.environ.get("JOBDASH_MAX_FAMILIES") or DEFAULT_CAP)
    )
    # The backfill rewrites every job row: keeping its secondary indexes up to date row by row costs
    # more than building them again afterwards (they are dropped and re-created with the same definitions).
    indexes = _secondary_job_indexes() if postgres else {}
    for name in indexes:
        op.execute(f'DROP INDEX "{name}"')
    history.rebuild(bind, rules, tables=tuple(t for t in history.HISTORY_TABLES if t not in STAY_TABLES))
    _backfill_stays_by_bucket(bind)
    for definition in indexes.values():
        op.execute(definition)
    if postgres:
        op.execute("ALTER TABLE job ALTER COLUMN family DROP DEFAULT, ALTER COLUMN status_since DROP DEFAULT")
    for name, columns in NEW_JOB_INDEXES.items():
        op.create_index(name, "job", columns)
    if postgres:
        op.execute(
            "ANALYZE job, job_family, job_count_family, job_mix_hour, job_mix_day, job_mix_month, "
            "job_transition_hour, job_transition_day, job_state_time_day, job_state_time_week, "
            "job_disallowed_transition"
        )


def downgrade() -> None:
    """Drop what the upgrade added; the jobs and their events are untouched."""
    for name in NEW_JOB_INDEXES:
        op.drop_index(name, table_name="job")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too): no table is recreated.
    op.drop_column("job", "status_since")
    op.drop_column("job", "family")
    for table in (
        "job_disallowed_transition",
        "job_state_time_week",
        "job_state_time_day",
        "job_transition_day",
        "job_transition_hour",
        "job_mix_month",
        "job_mix_day",
        "job_mix_hour",
        "job_count_family",
        "job_family",
    ):
        op.drop_table(table)
