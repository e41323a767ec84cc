"""Vacuuming, while writes flow, of the aggregate tables that the write path updates in place.

Every write adds to a few rows of the aggregate tables: the current hour's and day's transitions of the
job's family, the stays of its family this day and this week, counts. On PostgreSQL each add writes a
new version of its row and leaves the old one dead; a version that does not fit on its row's page goes
to another page, with a new index entry, and every later add to the same key walks past all of those
versions until VACUUM removes them. The same rows are added to hundreds of times a second under load,
and autovacuum visits a database at most once per ``autovacuum_naptime`` (a minute by default): the cost
of a write grew with the writes since the last visit (measured: backend CPU per append went from 0.8 ms
to 2.4 ms over 3,000 appends to 64 jobs, and stayed at 0.8 ms with these tables vacuumed every 300).

So a process that writes vacuums them itself: after every ``every`` write transactions, a background
thread runs one ``VACUUM (SKIP_LOCKED)`` of :data:`HOT_TABLES`. Only one such VACUUM runs at a time
per database, whatever the number of processes (a session advisory lock; a process that finds it taken
skips its turn), and a VACUUM that fails is logged and retried at the next turn: writes never wait for
it. The visibility map lets VACUUM skip the pages that did not change, but each pass updates the tables'
statistics, after which every connection plans its statements again: passes too close together cost
more than they save (docs/architecture.md gives the measurements behind the default). SQLite has
nothing of the kind to do (its writers take the database's lock, and freed pages are reused as they are).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, text

from db.models import (
    job_count_day_table,
    job_count_family_table,
    job_count_hour_table,
    job_count_total_table,
    job_disallowed_transition_table,
    job_mix_day_table,
    job_mix_hour_table,
    job_mix_month_table,
    job_state_time_day_table,
    job_state_time_week_table,
    job_transition_day_table,
    job_transition_hour_table,
)

log = logging.getLogger(__name__)

# The tables whose rows writes update in place (or insert and delete, for the flags).
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


class Vacuumer:
    """Counts a process's write transactions and, every ``every`` of them, has a background thread run
    :func:`vacuum_hot_tables`. ``every`` 0 turns it off."""

    def __init__(self, engine: Engine, every: int) -> None:
        self.engine = engine
        self.every = every
        self.passes = 0  # VACUUMs run by this process
        self.skipped = 0  # turns skipped because another session's pass was running
        self.failures = 0
        self._writes = 0
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._done = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """One write transaction committed; start a pass in the background when one is due."""
        if self.every <= 0:
            return
        with self._lock:
            self._writes += 1
            if self._writes < self.every:
                return
            self._writes = 0
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jobdash-vacuum", daemon=True)
                self._thread.start()
        self._due.set()

    def wait_for(self, turns: int, timeout: float) -> bool:
        """Wait until this process has taken ``turns`` turns (run, skipped or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self.passes + self.skipped + self.failures < turns:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            outcome = "failures"
            try:
                outcome = "passes" if vacuum_hot_tables(self.engine) else "skipped"
            except Exception:  # a pass is an optimisation: log it, never stop the writes
                log.warning("VACUUM of the aggregate tables failed; retried at the next turn", exc_info=True)
            with self._done:
                setattr(self, outcome, getattr(self, outcome) + 1)
                self._done.notify_all()
