"""The delta log of the history aggregates (PostgreSQL): what appends change, until a fold adds it up.

An appended event changes a handful of rows of the history aggregates (:mod:`db.history`): the status
mix of the current hour, day and month, the transitions of its hour and day, the stays of its day and
week. Updated in the event's own statement, each of those is an upsert the executor sets up and runs
on every append, and every one writes a new version of a row that the appends of every other writer
update too: with eight writers that cost 2.5 times the database work of an append without them.

So on PostgreSQL an append writes those changes as one row of ``job_history_delta`` (parallel arrays per
relation: the ``m``, ``t`` and ``s`` of :mod:`db.history`, see :data:`LOG_CTE`), in the same statement as
the event, and a fold (:mod:`db.folding`) later deletes a batch of rows and adds their sum to the
aggregates, in one transaction: many events share the same hour, family and status, so a batch of a few
hundred events updates each aggregate row once. Until then, reads add the rows not yet folded
(:data:`MIX_TAIL`, :data:`MOVE_TAIL`, :data:`STAY_TAIL`) in the same statement as the aggregate rows: one
snapshot sees each change exactly once, in the log or in the aggregates, since a fold moves it from one
to the other atomically. The tail is bounded by the fold's cadence, not by the data.

The created counts (``d``) stay in the event's statement (the list's counts and the current status
read them on every page). Creating and deleting a job keep every aggregate in their own statements, as
before: they are rarer, and a delete must take out what the job's history put in. SQLite writes no
deltas: its appends update the aggregates directly (one writer at a time; nothing to gain).
"""

from __future__ import annotations

from db.models import MIX_STRIPES

# The advisory lock key that makes folds (db/folding.py) take turns, and that a rebuild waits for.
FOLD_LOCK_KEY = 0x6A6F62666F6C64  # "jobfold" in ASCII

# The appended event's changes, one row: ``nb`` is the statement's one-row relation of the job (id,
# family); ``m`` (at, job_id, status, n), ``t`` (at, family, from_status, to_status, n) and ``s`` (at,
# family, status, bucket, n) its deltas. An empty relation is stored as null (unnest reads no rows).
LOG_CTE = """, logged AS (
    INSERT INTO job_history_delta (
        job_id, family, mix_at, mix_status, mix_n, move_at, move_from, move_to, move_n,
        stay_at, stay_status, stay_bucket, stay_n
    )
    SELECT nb.id, nb.family, mm.*, tt.*, ss.*
    FROM nb,
        (SELECT array_agg(at), array_agg(status), array_agg(n::integer) FROM m) AS mm,
        (SELECT array_agg(at), array_agg(from_status), array_agg(to_status), array_agg(n::integer) FROM t)
            AS tt,
        (SELECT array_agg(at), array_agg(status), array_agg(bucket::smallint), array_agg(n::integer) FROM s)
            AS ss
)"""


def mix_rows(source: str) -> str:
    """SQL: the status mix deltas (at, job_id, status, n) of the delta rows of ``source``."""
    return (
        f"SELECT u.at, {source}.job_id, u.status, u.n FROM {source} "  # noqa: S608 - fixed names
        f"CROSS JOIN LATERAL unnest({source}.mix_at, {source}.mix_status, {source}.mix_n) AS u(at, status, n)"
    )


def move_rows(source: str) -> str:
    """SQL: the transition deltas (at, family, from_status, to_status, n) of the delta rows of ``source``."""
    return (
        f"SELECT u.at, {source}.family, u.from_status, u.to_status, u.n FROM {source} "  # noqa: S608
        f"CROSS JOIN LATERAL unnest({source}.move_at, {source}.move_from, {source}.move_to, {source}.move_n) "
        "AS u(at, from_status, to_status, n)"
    )


def stay_rows(source: str) -> str:
    """SQL: the stay deltas (at, family, status, bucket, n) of the delta rows of ``source``."""
    return (
        f"SELECT u.at, {source}.family, u.status, u.bucket, u.n FROM {source} "  # noqa: S608
        f"CROSS JOIN LATERAL unnest({source}.stay_at, {source}.stay_status, {source}.stay_bucket, "
        f"{source}.stay_n) AS u(at, status, bucket, n)"
    )


# The deltas not yet folded, as relations of the same shape as the folded ones.
MIX_TAIL, MOVE_TAIL, STAY_TAIL = (rows("job_history_delta") for rows in (mix_rows, move_rows, stay_rows))


def _period(unit: str) -> str:
    return f"date_trunc('{unit}', at, 'UTC')"


# Per history table, the unfolded deltas as rows of that table (keys..., v), a histogram bucket by bucket.
_MIX_KEYS = f"status, CAST(mod(job_id, {MIX_STRIPES}) AS smallint)"
TAIL_ROWS: dict[str, str] = {
    **{
        f"job_mix_{unit}": f"SELECT {_period(unit)}, {_MIX_KEYS}, n FROM ({MIX_TAIL}) AS tail"  # noqa: S608
        for unit in ("hour", "day", "month")
    },
    **{
        f"job_transition_{unit}": f"SELECT {_period(unit)}, family, from_status, to_status, n "  # noqa: S608
        f"FROM ({MOVE_TAIL}) AS tail"
        for unit in ("hour", "day")
    },
    **{
        f"job_state_time_{unit}": f"SELECT family, status, {_period(unit)}, bucket, n "  # noqa: S608
        f"FROM ({STAY_TAIL}) AS tail"
        for unit in ("day", "week")
    },
}
