"""Vacuuming, while writes flow, of the aggregate tables that the write path updates in place.

Writes add to a few rows of the aggregate tables: counts on every create and status move, and the
current hour's and day's status mix and transitions of a family, its stays this day and this week (on
PostgreSQL by the folds of the delta log, db/folding.py, whose own rows are inserted and deleted). On
PostgreSQL each add writes a new version of its row and leaves the old one dead; a version that does not
fit on its row's page goes to another page, with a new index entry, and every later add to the same key
walks past all of those versions until VACUUM removes them. The same rows are added to hundreds of times
a second under load, and autovacuum visits a database at most once per ``autovacuum_naptime`` (a minute
by default): the cost of a write grew with the writes since the last visit (measured before the delta
log: backend CPU per append went from 0.8 ms to 2.4 ms over 3,000 appends to 64 jobs, and stayed at
0.8 ms with these tables vacuumed every 300).

So a process that writes vacuums them itself: after every ``JOBDASH_VACUUM_EVERY`` write transactions,
a background thread (:class:`db.upkeep.EveryWrites`) runs one ``VACUUM (SKIP_LOCKED)`` of
:data:`HOT_TABLES`. Only one such VACUUM runs at a time per database, whatever the number of processes (a
session advisory lock; a process that finds it taken skips its turn), and a VACUUM that fails is logged
and retried at the next turn: writes never wait for it. The visibility map lets VACUUM skip the pages
that did not change, but each pass updates the tables' statistics, after which every connection plans
its statements again: passes too close together cost more than they save (docs/architecture.md gives
the measurements behind the default). SQLite has nothing of the kind to do (its writers take the
database's lock, and freed pages are reused as they are).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from db.models import (
    job_count_day_table,
    job_count_family_table,
    job_count_hour_table,
    job_count_total_table,
    job_disallowed_transition_table,
    job_history_delta_table,
    job_mix_day_table,
    job_mix_hour_table,
    job_mix_month_table,
    job_state_time_day_table,
    job_state_time_week_table,
    job_transition_day_table,
    job_transition_hour_table,
)

# The tables whose rows writes update in place (or insert and delete: the flags, the delta log).
HOT_TABLES = tuple(
    table.name
    for table in (
        job_count_hour_table,
        job_count_day_table,
        job_count_total_table,
        job_count_family_table,
        job_mix_hour_table,
        job_mix_day_table,
        job_mix_month_table,
        job_transition_hour_table,
        job_transition_day_table,
        job_state_time_day_table,
        job_state_time_week_table,
        job_disallowed_transition_table,
        job_history_delta_table,
    )
)
# The advisory lock key that makes the passes of every process take turns: "jobdash vacuum" in ASCII.
LOCK_KEY = 0x6A6F6264617368
_VACUUM = "VACUUM (SKIP_LOCKED) " + ", ".join(HOT_TABLES)


def vacuum_hot_tables(engine: Engine) -> bool:
    """One VACUUM of :data:`HOT_TABLES`; False (and nothing done) when another session holds the turn."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar():
            return False
        try:
            # Not under the requests' statement timeout: a pass that outlives it would be cancelled and
            # its work lost; SKIP_LOCKED already keeps it from waiting for locks.
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text(_VACUUM))
        finally:
            conn.execute(text("RESET statement_timeout"))
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
    return True
