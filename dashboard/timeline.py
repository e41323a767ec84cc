"""Time spent in each status, worked out from a job's status events (a bounded list of the newest)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from db.models import TERMINAL_STATUSES


@dataclass(frozen=True)
class Segment:
    """One period in one status: from its event to the next event (or to now, while it lasts)."""

    status: str
    start: dt.datetime
    end: dt.datetime
    ongoing: bool

    @property
    def duration(self) -> dt.timedelta:
        """How long the period lasted (so far)."""
        return self.end - self.start


def status_segments(events: Iterable[Mapping[str, Any]], *, now: dt.datetime) -> list[Segment]:
    """Periods in time order. A terminal last status has no length; an active one runs until ``now``."""
    ordered = sorted(events, key=lambda event: (event["timestamp"], event["id"]))
    segments = []
    for index, event in enumerate(ordered):
        start = event["timestamp"]
        if index + 1 < len(ordered):
            end, ongoing = ordered[index + 1]["timestamp"], False
        elif event["status"] in TERMINAL_STATUSES:
            end, ongoing = start, False
        else:
            end, ongoing = max(now, start), True
        segments.append(Segment(status=event["status"], start=start, end=end, ongoing=ongoing))
    return segments


def time_in_status(segments: Sequence[Segment]) -> dict[str, dt.timedelta]:
    """Total time per status over ``segments`` (statuses never entered are left out)."""
    totals: dict[str, dt.timedelta] = {}
    for segment in segments:
        totals[segment.status] = totals.get(segment.status, dt.timedelta()) + segment.duration
    return totals


def total_duration(job: Mapping[str, Any], *, now: dt.datetime) -> tuple[dt.timedelta, bool]:
    """From creation to the last update for a finished job, or to ``now`` for an active one (True)."""
    if job["status"] in TERMINAL_STATUSES:
        return job["updated_at"] - job["created_at"], False
    return max(now, job["created_at"]) - job["created_at"], True
