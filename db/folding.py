"""Folding the delta log (:mod:`db.deltas`) into the history aggregates.

A fold deletes a batch of the oldest delta rows and adds their sum to the aggregate rows, in one
statement: the upserts of :func:`db.history.with_history` over the batch's deltas, which sum each key's
deltas first (a key whose deltas cancel out is not written at all) and take the rows in key order, as
every other writer of those tables does, so a fold cannot deadlock with them. One fold runs at a time
per database (a transaction-level advisory lock; a process that finds it taken skips its turn: the
fold running will get to its rows, or the next one).

A writing process folds in the background every ``JOBDASH_FOLD_EVERY`` write transactions
(:class:`db.upkeep.EveryWrites`); ``jobdash db check`` and a rebuild count the rows left unfolded, and
the downgrade that drops the log folds it all first.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from db import deltas
from db.history import with_history

# Delta rows one fold takes (a few milliseconds of work at most; more are left to the next statement).
BATCH = 2_000
_FOLD_CTES = f"""
    WITH gone AS (
        DELETE FROM job_history_delta WHERE id IN (
            SELECT id FROM job_history_delta ORDER BY id LIMIT :batch
        )
        RETURNING *
    ), m AS ({deltas.mix_rows("gone")}
    ), t AS ({deltas.move_rows("gone")}
    ), s AS ({deltas.stay_rows("gone")}
    )"""  # noqa: S608 - fixed text
_FOLD = text(with_history(_FOLD_CTES, "SELECT count(*) FROM gone", relations="mts"))


def unfolded(conn: Connection, *, cap: int = 100_000) -> int:
    """How many appends wait in the delta log for a fold (at most ``cap`` counted); 0 on SQLite."""
    sql = text("SELECT count(*) FROM (SELECT 1 FROM job_history_delta LIMIT :cap) AS waiting")
    return int(conn.execute(sql, {"cap": cap}).scalar_one())


def fold(conn: Connection, *, batch: int = BATCH, wait: bool = False) -> int | None:
    """Fold up to ``batch`` of the oldest delta rows in the caller's transaction; how many, or None when
    another transaction's fold holds the turn (unless ``wait``: then wait for it)."""
    if wait:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": deltas.FOLD_LOCK_KEY})
    elif not conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": deltas.FOLD_LOCK_KEY}
    ).scalar():
        return None
    return int(conn.execute(_FOLD, {"batch": batch}).scalar_one())


def fold_all(conn: Connection) -> int:
    """Fold every delta row, in the caller's transaction (waiting for a fold under way); how many."""
    total = 0
    while folded := fold(conn, wait=True):
        total += folded
    return total


def fold_deltas(engine: Engine) -> bool:
    """Fold the delta log, a batch per transaction, until less than a batch is left; False (and nothing
    done) when another session's fold holds the turn."""
    while True:
        with engine.begin() as conn:
            folded = fold(conn)
        if folded is None:
            return False
        if folded < BATCH:
            return True
