"""SQLAlchemy 2 models, described in docs/architecture.md; Alembic migrations create the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The five states a job can be in, spelled as the API and the database spell them.
Status = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
STATUSES: tuple[Status, ...] = get_args(Status)
# A job in one of these is finished: its last event ends its history (it has no time "so far").
TERMINAL_STATUSES: frozenset[Status] = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
# Counter rows are striped by job id, so that concurrent writers to different jobs rarely wait on one
# row: the hour and day rows of a busy hour, and above all the all-time rows that every status move
# touches (docs/architecture.md, "Aggregates").
COUNT_STRIPES = 8
TOTAL_STRIPES = 64
NAME_MAX_LENGTH = 255
MESSAGE_MAX_LENGTH = 4096
# The status mix changes are striped like the created counts: every status move touches the rows of
# the current hour, day and month.
MIX_STRIPES = COUNT_STRIPES

# Deterministic constraint names keep migrations and autogenerate comparisons stable across databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-assigns ids for INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """TIMESTAMPTZ that refuses naive datetimes and always hands back aware UTC ones.

    SQLite has no zone-aware type, so values are stored there as naive UTC text in one fixed format,
    which keeps their text order equal to their time order (the keyset cursors rely on that).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware datetimes")
        utc: dt.datetime = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """None on PostgreSQL: psycopg already returns aware datetimes, in UTC (the session zone)."""
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text, e.g. from a bucketed aggregate
            value = dt.datetime.fromisoformat(value)
        return as_utc(value)


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime; a naive value is taken to be UTC already (SQLite)."""
    if value.tzinfo is dt.UTC:
        return value
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# The sort keys of the duration orderings: the duration, with an unfinished job's null replaced by a value
# past every real one in that direction (durations are never negative and never reach 1e12 s, some
# 31,700 years), so that unfinished jobs sort after every finished job both ways and each ordering is one
# (key, id) index.
UNFINISHED_LAST_ASC = "1000000000000"
UNFINISHED_LAST_DESC = "-1"


def duration_key(column: Any, *, descending: bool) -> Any:
    """The sort key of ``duration`` (or of ``-duration`` with ``descending``) over a duration column."""
    return func.coalesce(column, literal_column(UNFINISHED_LAST_DESC if descending else UNFINISHED_LAST_ASC))


_STATUS_CHECK = "{column} IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"


class Base(DeclarativeBase):
    """Declarative base whose metadata carries the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Job(Base):
    """A job; its current status is denormalized from its newest :class:`JobStatus` event."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    current_status_type: Mapped[str] = mapped_column(String(16))
    # The job's family (db/families.py), worked out from its name when it was created.
    family: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    # When the current status began: the start of the newest run of events in that status.
    status_since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Seconds from created_at to the terminal event for a finished job (current status in
    # TERMINAL_STATUSES: then updated_at is that event's time); null while it is unfinished.
    duration_s: Mapped[float | None] = mapped_column(Double())

    __table_args__ = (
        CheckConstraint(_STATUS_CHECK.format(column="current_status_type"), name="current_status_type"),
        # One (key, id) index per ordering, and one per status + ordering, so that every list the API
        # or the dashboard can ask for is an ordered index range scan with no sort, at any depth.
        Index(None, "created_at", "id"),
        Index(None, "updated_at", "id"),
        Index(None, "name", "id"),
        Index(None, "current_status_type", "created_at", "id"),
        Index(None, "current_status_type", "updated_at", "id"),
        Index(None, "current_status_type", "name", "id"),
        # A family's list in each ordering, one ordered branch per status (merged as for several
        # statuses), and its PENDING / RUNNING jobs by how long they have been so (stuck jobs).
        Index(None, "family", "current_status_type", "created_at", "id"),
        Index(None, "family", "current_status_type", "updated_at", "id"),
        Index(None, "family", "current_status_type", "name", "id"),
        Index(None, "family", "current_status_type", "status_since", "id"),
        # Substring search (``q``) on PostgreSQL; SQLite scans, which is fine at its sizes.
        Index(
            "ix_job_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )


# The duration orderings, indexed on their sort keys (duration_key) at the three levels above: all jobs,
# per status, per family and status.
DURATION_INDEX_LEVELS: dict[str, tuple[str, ...]] = {
    "": (),
    "_current_status_type": ("current_status_type",),
    "_family_current_status_type": ("family", "current_status_type"),
}
for _prefix, _columns in DURATION_INDEX_LEVELS.items():
    for _way, _descending in (("asc", False), ("desc", True)):
        Index(
            f"ix_job{_prefix}_duration_{_way}_id",
            *(Job.__table__.c[c] for c in _columns),
            duration_key(Job.__table__.c.duration_s, descending=_descending),
            Job.__table__.c.id,
        )


class JobStatus(Base):
    """One immutable event in a job's status history."""

    __tablename__ = "job_status"

    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigId, ForeignKey("job.id", ondelete="CASCADE"))
    status_type: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_STATUS_CHECK.format(column="status_type"), name="status_type"),
        CheckConstraint(f"message IS NULL OR length(message) <= {MESSAGE_MAX_LENGTH}", name="message_length"),
        Index("ix_job_status_job_id_timestamp_id", "job_id", timestamp.desc(), id.desc()),
    )


class _CreatedCount:
    """Jobs created in one UTC hour (or day) whose current status is ``status``, one row per stripe."""

    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    jobs: Mapped[int] = mapped_column(BigInteger)


class JobCountHour(_CreatedCount, Base):
    """Jobs per (created hour, current status, stripe ``job_id % COUNT_STRIPES``)."""

    __tablename__ = "job_count_hour"


class JobCountDay(_CreatedCount, Base):
    """Jobs per (created UTC day, current status, stripe ``job_id % COUNT_STRIPES``)."""

    __tablename__ = "job_count_day"


class JobCountTotal(Base):
    """Jobs per (current status, stripe ``job_id % TOTAL_STRIPES``), all time."""

    __tablename__ = "job_count_total"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    jobs: Mapped[int] = mapped_column(BigInteger)


class JobFamily(Base):
    """An admitted job family; at most the configured cap of them (the rest count as ``other``)."""

    __tablename__ = "job_family"

    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), primary_key=True)


class JobCountFamily(Base):
    """Jobs per (family, current status, stripe ``job_id % COUNT_STRIPES``), all time."""

    __tablename__ = "job_count_family"

    family: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    jobs: Mapped[int] = mapped_column(BigInteger)


class _MixChange:
    """The net change, over the events of one UTC hour (day, month), in how many jobs are in ``status``."""

    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    jobs: Mapped[int] = mapped_column(BigInteger)


class JobMixHour(_MixChange, Base):
    """Status mix changes per (event hour, status, stripe ``job_id % MIX_STRIPES``)."""

    __tablename__ = "job_mix_hour"


class JobMixDay(_MixChange, Base):
    """Status mix changes per (event UTC day, status, stripe)."""

    __tablename__ = "job_mix_day"


class JobMixMonth(_MixChange, Base):
    """Status mix changes per (event UTC month, status, stripe)."""

    __tablename__ = "job_mix_month"


class _Transitions:
    """How many ``from_status -> to_status`` transitions of jobs of ``family`` happened in one period."""

    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    family: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), primary_key=True)
    from_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    to_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    transitions: Mapped[int] = mapped_column(BigInteger)


class JobTransitionHour(_Transitions, Base):
    """Transitions per (UTC hour of the later event, family, from, to)."""

    __tablename__ = "job_transition_hour"


class JobTransitionDay(_Transitions, Base):
    """Transitions per (UTC day of the later event, family, from, to)."""

    __tablename__ = "job_transition_day"


class Histogram(TypeDecorator[list[int]]):
    """A histogram of durations: element i holds the count of bucket i (db/timeline.py: quarter-octave
    buckets of milliseconds), up to the highest bucket with any. A ``bigint[]`` on PostgreSQL, whose
    lists psycopg hands back as they are (no per-element processing on the way out), and a JSON array on
    SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(JSON())

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


class _StateTime:
    """The stays in ``status`` of jobs of ``family`` that ended in one period, as a histogram of their
    durations: one row per period however many stays it holds, so that a percentile over a range reads
    a few rows per (family, status), the same on a young table as on a full one."""

    family: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    stays: Mapped[list[int]] = mapped_column(Histogram())


class JobStateTimeDay(_StateTime, Base):
    """Stays per (family, status, UTC day they ended), by duration bucket."""

    __tablename__ = "job_state_time_day"


class JobStateTimeWeek(_StateTime, Base):
    """Stays per (family, status, UTC week (from Monday) they ended), by duration bucket."""

    __tablename__ = "job_state_time_week"


class JobDisallowedTransition(Base):
    """An event whose predecessor in its job's history may not lead to it (db/lifecycle.py)."""

    __tablename__ = "job_disallowed_transition"

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("job_status.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    job_id: Mapped[int] = mapped_column(BigId)
    family: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index(None, "at", "event_id"),
        Index(None, "family", "at", "event_id"),
    )


def _list_of(item: Any) -> Any:
    """An array column on PostgreSQL (a JSON list on SQLite, where nothing writes it)."""
    return ARRAY(item).with_variant(JSON(), "sqlite")


class JobHistoryDelta(Base):
    """What one appended event changes in the history aggregates, until a fold adds it to them.

    The delta log of db/deltas.py: on PostgreSQL an append writes its changes to the status mix, the
    transitions and the stays here, one row per event (parallel arrays per relation, as ``m``, ``t``,
    ``s`` of db/history.py), instead of updating the aggregate rows itself; a background fold sums a
    batch of rows into the aggregates and deletes them in one transaction, and reads add the rows not yet
    folded. Always empty on SQLite, whose appends update the aggregates directly.
    """

    __tablename__ = "job_history_delta"

    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    family: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    # Status mix changes: (at, status, n).
    mix_at: Mapped[list[dt.datetime] | None] = mapped_column(_list_of(DateTime(timezone=True)))
    mix_status: Mapped[list[str] | None] = mapped_column(_list_of(String(16)))
    mix_n: Mapped[list[int] | None] = mapped_column(_list_of(Integer()))
    # Transitions: (at, from_status, to_status, n).
    move_at: Mapped[list[dt.datetime] | None] = mapped_column(_list_of(DateTime(timezone=True)))
    move_from: Mapped[list[str] | None] = mapped_column(_list_of(String(16)))
    move_to: Mapped[list[str] | None] = mapped_column(_list_of(String(16)))
    move_n: Mapped[list[int] | None] = mapped_column(_list_of(Integer()))
    # Closed stays: (at the stay ended, status, duration bucket, n).
    stay_at: Mapped[list[dt.datetime] | None] = mapped_column(_list_of(DateTime(timezone=True)))
    stay_status: Mapped[list[str] | None] = mapped_column(_list_of(String(16)))
    stay_bucket: Mapped[list[int] | None] = mapped_column(_list_of(SmallInteger()))
    stay_n: Mapped[list[int] | None] = mapped_column(_list_of(Integer()))


job_table: Table = Job.__table__  # type: ignore[assignment]
job_status_table: Table = JobStatus.__table__  # type: ignore[assignment]
job_count_hour_table: Table = JobCountHour.__table__  # type: ignore[assignment]
job_count_day_table: Table = JobCountDay.__table__  # type: ignore[assignment]
job_count_total_table: Table = JobCountTotal.__table__  # type: ignore[assignment]
job_family_table: Table = JobFamily.__table__  # type: ignore[assignment]
job_count_family_table: Table = JobCountFamily.__table__  # type: ignore[assignment]
job_mix_hour_table: Table = JobMixHour.__table__  # type: ignore[assignment]
job_mix_day_table: Table = JobMixDay.__table__  # type: ignore[assignment]
job_mix_month_table: Table = JobMixMonth.__table__  # type: ignore[assignment]
job_transition_hour_table: Table = JobTransitionHour.__table__  # type: ignore[assignment]
job_transition_day_table: Table = JobTransitionDay.__table__  # type: ignore[assignment]
job_state_time_day_table: Table = JobStateTimeDay.__table__  # type: ignore[assignment]
job_state_time_week_table: Table = JobStateTimeWeek.__table__  # type: ignore[assignment]
job_disallowed_transition_table: Table = JobDisallowedTransition.__table__  # type: ignore[assignment]
job_history_delta_table: Table = JobHistoryDelta.__table__  # type: ignore[assignment]
