"""Brute-force recounts of every history aggregate straight from the event table, written independently
of db/timeline.py (no runs, no deltas: each answer worked out from the sorted events), and a comparison
of all of them with what the write path kept. Reused by the replay, stress and API tests."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections import Counter, defaultdict

from sqlalchemy import select

from db import history, insights, lifecycle, timeline
from db.aggregates import day_start, hour_start
from db.engine import Database
from db.models import as_utc, job_status_table, job_table

H = dt.timedelta(hours=1)


def load(database: Database):
    """(jobs {id: (family, status_since)}, histories {job id: [(ts, id, status)] sorted by (ts, id)})."""
    with database.read() as conn:
        jobs = {
            row.id: (row.family, as_utc(row.status_since))
            for row in conn.execute(select(job_table.c.id, job_table.c.family, job_table.c.status_since))
        }
        e = job_status_table.c
        histories = defaultdict(list)
        for job_id, event_id, status, at in conn.execute(select(e.job_id, e.id, e.status_type, e.timestamp)):
            histories[job_id].append((as_utc(at), event_id, status))
    for events in histories.values():
        events.sort()
    return jobs, dict(histories)


def mix_at(histories, instant):
    """Jobs per status at ``instant``: each job in the status of its newest event before it."""
    counts = Counter()
    for events in histories.values():
        before = [status for at, _id, status in events if at < instant]
        if before:
            counts[before[-1]] += 1
    return counts


def transitions(jobs, histories):
    """(hour of the later event, family, from, to) -> count, and the flagged event ids."""
    counts, flagged = Counter(), {}
    for job_id, events in histories.items():
        family = jobs[job_id][0]
        for (_a, _ai, before), (at, event_id, after) in itertools.pairwise(events):
            counts[(hour_start(at), family, before, after)] += 1
            if (before, after) not in lifecycle.ALLOWED:
                flagged[event_id] = (job_id, family, before, after, at)
    return counts, flagged


def stays(jobs, histories):
    """(family, status, day ended, bucket) -> stays, and {job id: status_since}.

    A stay starts at an event whose predecessor has another status (or none) and ends at the next such
    event; progress events in between do not count."""
    counts, since = Counter(), {}
    for job_id, events in histories.items():
        family = jobs[job_id][0]
        starts = [
            (at, status) for i, (at, _id, status) in enumerate(events) if i == 0 or events[i - 1][2] != status
        ]
        since[job_id] = starts[-1][0]
        for (start, status), (end, _next) in itertools.pairwise(starts):
            ms = (end - start) // dt.timedelta(milliseconds=1)
            bucket = bisect.bisect_right(timeline.BOUNDS, ms)
            counts[(family, status, day_start(end), bucket)] += 1
    return counts, since


def _nonzero(counter):
    return Counter({k: n for k, n in counter.items() if n})


def _kept(conn, name, fold=None):
    out = Counter()
    for key, n in history.kept_rows(conn, name).items():
        out[fold(key) if fold else key] += n
    return _nonzero(out)


def assert_durations_match(database: Database, histories):
    """Every job's duration is the seconds from its creation to its newest event when that event is
    terminal (finished), else null (unfinished, a retried job included)."""
    t = job_table.c
    with database.read() as conn:
        stored = {i: (as_utc(c), d) for i, c, d in conn.execute(select(t.id, t.created_at, t.duration_s))}
    for job_id, events in histories.items():
        created, duration = stored[job_id]
        at, _id, status = events[-1]
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            assert duration is not None and abs(duration - (at - created).total_seconds()) <= 1e-6, job_id
        else:
            assert duration is None, (job_id, duration)


def assert_history_matches(database: Database, *, hours: tuple[dt.datetime, dt.datetime] | None = None):
    """Every history aggregate equals a brute-force recount from the event table, and every duration
    one worked out from the newest event; with ``hours``, the status mix as of every hour in that range
    too."""
    jobs, histories = load(database)
    assert_durations_match(database, histories)
    expected_transitions, expected_flags = transitions(jobs, histories)
    expected_stays, expected_since = stays(jobs, histories)
    with database.read() as conn:
        kept_hour = _kept(conn, "job_transition_hour")
        kept_day = _kept(conn, "job_transition_day")
        stays_day = _kept(conn, "job_state_time_day")
        stays_week = _kept(conn, "job_state_time_week")
        flags = history.kept_flags(conn)
        mix = {
            unit: _kept(conn, f"job_mix_{unit}", lambda k: (k[0], k[1])) for unit in ("hour", "day", "month")
        }
        as_of = {}
        if hours is not None:
            at = hour_start(hours[0])
            while at <= hours[1]:
                as_of[at] = insights.status_mix_as_of(conn, at).by_status
                at += H
    assert kept_hour == _nonzero(expected_transitions)
    by_day = Counter()
    for (at, family, a, b), n in expected_transitions.items():
        by_day[(day_start(at), family, a, b)] += n
    assert kept_day == _nonzero(by_day)
    assert stays_day == _nonzero(expected_stays)
    by_week = Counter()
    for (family, status, day, bucket), n in expected_stays.items():
        by_week[(family, status, history.week_start(day), bucket)] += n
    assert stays_week == _nonzero(by_week)
    assert flags == expected_flags
    assert {
        job_id: since for job_id, (_f, since) in jobs.items() if job_id in expected_since
    } == expected_since
    # The mix change of a period is the mix at its end minus the mix at its start.
    changed_hours = {hour_start(at) for events in histories.values() for at, _id, _s in events}
    expected_mix = {"hour": Counter(), "day": Counter(), "month": Counter()}
    for start in changed_hours:
        before, after = mix_at(histories, start), mix_at(histories, start + H)
        for status in set(before) | set(after):
            change = after[status] - before[status]
            expected_mix["hour"][(start, status)] += change
            expected_mix["day"][(day_start(start), status)] += change
            expected_mix["month"][(day_start(start).replace(day=1), status)] += change
    for unit, kept in mix.items():
        assert kept == _nonzero(expected_mix[unit]), unit
    for at, kept in as_of.items():
        expected = mix_at(histories, at)
        assert {s: n for s, n in kept.items() if n} == {s: n for s, n in expected.items() if n}, at
