"""What one job's history contributes to the history aggregates, and how one new event changes that.

Pure functions over a job's events in history order (by ``(timestamp, id)``), shared by the write path
(``db/writes.py``), seeding, the migration's backfill and ``jobdash db check`` (``db/history.py``), so
that every one of them counts by the same rules (docs/architecture.md, "History aggregates"):

- A **run** is a maximal sequence of consecutive events in one status: a progress event in the status
  the job is already in does not start a new one. The job is in a run's status from the run's first
  event to the next run's first event (the last run is open); ``status_since`` is the last run's start.
- **Status mix**: a run starting at ``t`` adds the job to its status at ``t`` and takes it out of the
  previous run's status at ``t``; summed over events before ``T``, that is the mix as of ``T``.
- **Transitions**: every consecutive pair of events ``a -> b``, counted at ``b``'s time (progress
  ``RUNNING -> RUNNING`` included); a pair the lifecycle does not allow is flagged, keyed by ``b``.
- **Time in state**: every closed run is one stay in its status, of ``next start - start``, counted at
  its end, in a log-scaled duration bucket (:func:`duration_bucket`).

A late event (older than the job's newest) changes only the runs next to where it lands: its
:class:`Neighbourhood` is enough to work out the change (:func:`insert_changes`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from db import lifecycle

MS = dt.timedelta(milliseconds=1)
# Quarter-octave buckets: bucket i >= 1 holds durations in [BOUNDS[i-1], BOUNDS[i]) milliseconds, bucket 0
# those under 1 ms, the last one everything from 2^40 ms (35 years) on. Integer bounds, so that Python
# (bisect) and PostgreSQL (width_bucket) put every duration in the same bucket.
BUCKETS_PER_OCTAVE = 4
BOUNDS: tuple[int, ...] = tuple(
    sorted({math.ceil(2 ** (k / BUCKETS_PER_OCTAVE)) for k in range(40 * BUCKETS_PER_OCTAVE + 1)})
)
# Within a bucket a duration is estimated at its place on a log scale, so the estimate and the true value
# share a bucket: at most a bucket's width apart (2^(1/4), +19 %, from 8 ms on; wider below).
MAX_RELATIVE_ERROR = BOUNDS[-1] / BOUNDS[-2] - 1

# Stands for "some other status" after the neighbourhood of a late event: it only closes a run.
_BOUNDARY = "~"

Event = tuple[str, dt.datetime]  # (status, timestamp)
IdEvent = tuple[int, str, dt.datetime]  # (event id, status, timestamp)


def duration_bucket(duration: dt.timedelta) -> int:
    """The bucket of a stay of ``duration`` (0 under a millisecond)."""
    return bisect.bisect_right(BOUNDS, duration // MS)


def bucket_range(bucket: int) -> tuple[float, float]:
    """The [low, high) milliseconds of ``bucket``; the last bucket is given one octave of width."""
    if bucket <= 0:
        return 0.0, 1.0
    low = float(BOUNDS[bucket - 1])
    high = float(BOUNDS[bucket]) if bucket < len(BOUNDS) else low * 2
    return low, high


# How many buckets there are: 0 (under a millisecond) to len(BOUNDS) (from 2^40 ms on).
BUCKET_COUNT = len(BOUNDS) + 1


def dense(buckets: Mapping[int, int]) -> list[int]:
    """A histogram given as {bucket: stays} as the list stored in the time-in-state rows: element ``i``
    holds bucket ``i``'s stays, up to the highest bucket with any (``[]`` when none has)."""
    top = max((bucket for bucket, n in buckets.items() if n), default=-1)
    return [buckets.get(bucket, 0) for bucket in range(top + 1)]


def summed(histograms: Iterable[Sequence[int]]) -> list[int]:
    """The element-wise sum of stored histograms (a shorter one counts as zeros past its end)."""
    return list(map(sum, itertools.zip_longest(*histograms, fillvalue=0)))


def percentiles_ms(histogram: Sequence[int], fractions: Iterable[float]) -> list[float | None]:
    """The ``fractions`` percentiles (nearest rank) of a histogram (element ``i``: bucket ``i``'s stays),
    in milliseconds; None for each if it has no stays.

    The bucket holding rank ``ceil(fraction * n)`` is found in the cumulative sums (O(buckets) once, then
    a binary search per fraction); the value is placed inside it on a log scale (linearly in bucket 0) by
    the rank's position among its stays.
    """
    cumulative = list(itertools.accumulate(histogram))
    total = cumulative[-1] if cumulative else 0
    out: list[float | None] = []
    for fraction in fractions:
        if total <= 0:
            out.append(None)
            continue
        rank = max(1, math.ceil(fraction * total))
        bucket = bisect.bisect_left(cumulative, rank)
        count = histogram[bucket]
        share = (rank - (cumulative[bucket] - count) - 0.5) / count
        low, high = bucket_range(bucket)
        out.append(high * share if low <= 0 else float(low * (high / low) ** share))
    return out


def percentile_ms(histogram: Sequence[int], fraction: float) -> float | None:
    """One percentile of :func:`percentiles_ms`."""
    return percentiles_ms(histogram, (fraction,))[0]


@dataclass
class Changes:
    """Signed changes to the history aggregates of one job (its family, created time and id are implied).

    ``current`` is the job's current status count (+1 joins, -1 leaves); ``flags`` are disallowed
    transitions to add (``event id`` None stands for the event being written) and ``unflag`` the ids of
    events whose flag goes away.
    """

    current: Counter[str] = field(default_factory=Counter)
    mix: Counter[tuple[dt.datetime, str]] = field(default_factory=Counter)
    transitions: Counter[tuple[dt.datetime, str, str]] = field(default_factory=Counter)
    stays: Counter[tuple[dt.datetime, str, int]] = field(default_factory=Counter)
    flags: list[tuple[int | None, str, str, dt.datetime]] = field(default_factory=list)
    unflag: list[int] = field(default_factory=list)

    def negated(self) -> Changes:
        """The changes that undo these (flags are not negated: deleting events deletes their flags)."""
        return Changes(
            current=Counter({k: -v for k, v in self.current.items()}),
            mix=Counter({k: -v for k, v in self.mix.items()}),
            transitions=Counter({k: -v for k, v in self.transitions.items()}),
            stays=Counter({k: -v for k, v in self.stays.items()}),
        )


def runs(events: Iterable[Event]) -> list[Event]:
    """(status, start) of each run of ``events`` (in history order)."""
    out: list[Event] = []
    for status, at in events:
        if not out or out[-1][0] != status:
            out.append((status, at))
    return out


def _mix(run_list: Sequence[Event]) -> Counter[tuple[dt.datetime, str]]:
    mix: Counter[tuple[dt.datetime, str]] = Counter()
    for index, (status, start) in enumerate(run_list):
        mix[(start, status)] += 1
        if index:
            mix[(start, run_list[index - 1][0])] -= 1
    return mix


def _stays(run_list: Sequence[Event]) -> Counter[tuple[dt.datetime, str, int]]:
    stays: Counter[tuple[dt.datetime, str, int]] = Counter()
    for (status, start), (_next_status, end) in itertools.pairwise(run_list):
        if status != _BOUNDARY:
            stays[(end, status, duration_bucket(end - start))] += 1
    return stays


K = TypeVar("K")


def _diff(after: Counter[K], before: Counter[K]) -> Counter[K]:
    out: Counter[K] = Counter(after)
    out.subtract(before)
    return Counter({key: n for key, n in out.items() if n})


def whole_history(events: Sequence[IdEvent]) -> tuple[Changes, dt.datetime | None]:
    """Everything a job's history (in order) contributes, and its ``status_since`` (None if empty)."""
    changes = Changes()
    if not events:
        return changes, None
    plain = [(status, at) for _id, status, at in events]
    run_list = runs(plain)
    changes.current[run_list[-1][0]] += 1
    changes.mix = _mix(run_list)
    changes.stays = _stays(run_list)
    for (_a, before, _at), (event_id, after, at) in itertools.pairwise(events):
        changes.transitions[(at, before, after)] += 1
        if not lifecycle.allowed(before, after):
            changes.flags.append((event_id, before, after, at))
    return changes, run_list[-1][1]


@dataclass(frozen=True)
class Neighbourhood:
    """Where a new event lands in a job's history, and what the runs around that place look like.

    ``before`` / ``after``: the events just before and just after it (None at either end).
    ``before_run_start``: when the run holding ``before`` began. ``after_run_end``: when the run holding
    ``after`` ends (the next event in another status), None if that run is the job's last.
    ``status_since``: the job's current ``status_since``.
    """

    before: IdEvent | None
    before_run_start: dt.datetime | None
    after: IdEvent | None
    after_run_end: dt.datetime | None
    status_since: dt.datetime | None


def insert_changes(place: Neighbourhood, status: str, at: dt.datetime) -> tuple[Changes, dt.datetime]:
    """The changes of inserting an event (``status``, ``at``) at ``place``, and the new ``status_since``.

    Only the runs around the place move: the run holding ``before`` (from ``before_run_start``), the
    one holding ``after`` (to ``after_run_end``); those before and after them are untouched. So the
    change is the difference between that short stretch of runs with and without the new event.
    """
    local: list[Event] = []
    if place.before is not None:
        assert place.before_run_start is not None
        local.append((place.before[1], place.before_run_start))
    tail: list[Event] = []
    if place.after is not None:
        tail.append((place.after[1], place.after[2]))
        if place.after_run_end is not None:
            tail.append((_BOUNDARY, place.after_run_end))
    before_runs = runs([*local, *tail])
    after_runs = runs([*local, (status, at), *tail])
    changes = Changes()
    changes.mix = _diff(_mix(after_runs), _mix(before_runs))
    changes.stays = _diff(_stays(after_runs), _stays(before_runs))
    if place.before is not None:
        changes.transitions[(at, place.before[1], status)] += 1
        if not lifecycle.allowed(place.before[1], status):
            changes.flags.append((None, place.before[1], status, at))
    if place.after is not None:
        after_id, after_status, after_at = place.after
        changes.transitions[(after_at, status, after_status)] += 1
        if not lifecycle.allowed(status, after_status):
            changes.flags.append((after_id, status, after_status, after_at))
        if place.before is not None:
            changes.transitions[(after_at, place.before[1], after_status)] -= 1
            if not lifecycle.allowed(place.before[1], after_status):
                changes.unflag.append(after_id)
    else:
        # The new event is the newest: the job's current status moves to it.
        old = place.before[1] if place.before is not None else None
        if old != status:
            changes.current[status] += 1
            if old is not None:
                changes.current[old] -= 1
    changes.transitions = Counter({k: n for k, n in changes.transitions.items() if n})
    # The last run's start, unless the stretch ends before the job's last run does.
    if place.after is not None and place.after_run_end is not None:
        assert place.status_since is not None
        return changes, place.status_since
    return changes, after_runs[-1][1]
