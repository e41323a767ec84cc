"""Upkeep a writing process does in the background, every so many of its write transactions.

On PostgreSQL two jobs ride on the writes: folding the delta log into the history aggregates
(:func:`db.folding.fold_deltas`, every ``JOBDASH_FOLD_EVERY``) and vacuuming the tables writes update
in place (:func:`db.vacuum.vacuum_hot_tables`, every ``JOBDASH_VACUUM_EVERY``). Each runs in a thread of
its own, so that no request waits for it; each takes turns across processes by an advisory lock (a
process that finds the turn taken skips it), and a run that fails is logged and tried again at the next
turn: it is upkeep, never a reason for a write to fail.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class EveryWrites:
    """Counts a process's write transactions and, every ``every`` of them, has a background thread run
    ``task(engine)`` (True: it ran; False: another session held its turn). ``every`` 0 turns it off."""

    def __init__(self, engine: Engine, every: int, task: Callable[[Engine], bool], name: str) -> None:
        self.engine = engine
        self.every = every
        self.task = task
        self.name = name
        self.passes = 0  # runs of the task by this process
        self.skipped = 0  # turns skipped because another session's run held the turn
        self.failures = 0
        self._writes = 0
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._done = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """One write transaction committed; start a run in the background when one is due."""
        if self.every <= 0:
            return
        with self._lock:
            self._writes += 1
            if self._writes < self.every:
                return
            self._writes = 0
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"jobdash-{self.name}", daemon=True)
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
                outcome = "passes" if self.task(self.engine) else "skipped"
            except Exception:  # upkeep: log it, never stop the writes
                log.warning("background %s failed; tried again at the next turn", self.name, exc_info=True)
            with self._done:
                setattr(self, outcome, getattr(self, outcome) + 1)
                self._done.notify_all()
