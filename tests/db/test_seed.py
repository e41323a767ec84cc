"""Seeding: realistic, deterministic for a seed, consistent with the invariant, on both databases."""

import datetime as dt
import itertools
from collections import Counter

import pytest
from sqlalchemy import select

from db import check, lifecycle
from db import seed as seeding
from db.models import STATUSES, job_status_table, job_table
from tests.conftest import empty_tables
from tests.invariant import invariant_violations

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def rows(database):
    with database.read() as conn:
        jobs = [tuple(r) for r in conn.execute(select(job_table).order_by(job_table.c.id))]
        events = [tuple(r) for r in conn.execute(select(job_status_table).order_by(job_status_table.c.id))]
    return jobs, events


def test_the_generator_is_deterministic_for_a_seed():
    def run(seed):
        return list(
            seeding.generate(jobs=300, events_per_job=5, seed=seed, first_job_id=1, first_event_id=1, now=NOW)
        )

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_generated_histories_are_realistic():
    generated = list(
        seeding.generate(jobs=2000, events_per_job=6, seed=1, first_job_id=1, first_event_id=1, now=NOW)
    )
    families = Counter(job[1].rsplit("-", 1)[0] for job, _ in generated)
    assert len(families) == len(seeding.FAMILIES)
    outcomes = Counter(job[4] for job, _ in generated)
    assert set(outcomes) == set(STATUSES)
    assert outcomes["COMPLETED"] > outcomes["FAILED"] > 0
    for job, events in generated:
        assert len(events) == 6
        assert events[0][2] == "PENDING"
        times = [e[3] for e in events]
        assert times == sorted(times) and times[0] == job[2] and times[-1] == job[3] <= NOW
        assert job[4] == events[-1][2]
        assert NOW - seeding.SPAN <= job[2] <= NOW
    retried = sum(1 for _, events in generated if [e[2] for e in events][2:4] == ["FAILED", "PENDING"])
    assert retried > 0
    creation = [job[2] for job, _ in generated]
    assert creation == sorted(creation)  # ids follow creation time


@pytest.mark.parametrize("events_per_job", [1, 2, 3, 4, 5, 6, 8])
def test_generated_histories_follow_the_lifecycle(events_per_job):
    # Recent jobs (the last day of the span) are often still in progress: make most of them recent.
    generated = seeding.generate(
        jobs=3000, events_per_job=events_per_job, seed=2, first_job_id=1, first_event_id=1, now=NOW
    )
    pairs = Counter()
    for _job, events in generated:
        statuses = [e[2] for e in events]
        pairs.update(itertools.pairwise(statuses))
    assert all(lifecycle.allowed(a, b) for a, b in pairs), pairs


@pytest.mark.parametrize("events_per_job", [1, 2, 5])
def test_seeding_writes_what_it_says_and_keeps_the_invariant(database, events_per_job):
    result = seeding.seed(database, jobs=120, events_per_job=events_per_job, seed=9, now=NOW)
    assert result == seeding.SeedResult(jobs=120, events=120 * events_per_job)
    jobs, events = rows(database)
    assert len(jobs) == 120 and len(events) == 120 * events_per_job
    assert invariant_violations(database) == []


def test_seeding_twice_appends_after_existing_ids(database, job_factory):
    job_factory(name="already here")
    seeding.seed(database, jobs=10, events_per_job=2, seed=1, now=NOW)
    seeding.seed(database, jobs=10, events_per_job=2, seed=1, now=NOW)
    jobs, events = rows(database)
    assert [j[0] for j in jobs] == list(range(1, 22))
    assert len(events) == 41
    assert invariant_violations(database) == []
    job_factory(name="after seeding")  # the id sequence moved past the explicit ids


def test_same_seed_gives_the_same_rows_across_runs(database):
    seeding.seed(database, jobs=50, events_per_job=3, seed=5, now=NOW)
    first = rows(database)
    empty_tables(database)
    seeding.seed(database, jobs=50, events_per_job=3, seed=5, now=NOW)
    assert rows(database) == first


def test_progress_is_reported_per_batch(database, monkeypatch):
    monkeypatch.setattr(seeding, "CHUNK_JOBS", 40)
    reported = []
    seeding.seed(database, jobs=100, events_per_job=1, seed=0, now=NOW, progress=reported.append)
    assert reported == [40, 40, 20]


def test_the_aggregates_are_written_once_for_every_chunk_and_match_a_replay(database, monkeypatch):
    # Once: written per chunk, in the seed's one transaction, each aggregate row would leave a dead
    # version per chunk behind it.
    monkeypatch.setattr(seeding, "CHUNK_JOBS", 40)
    written = []
    write_tally = seeding.history.write_tally

    def counted(conn, tally, **options):
        written.append(sum(len(rows) for rows in tally.rows.values()))
        write_tally(conn, tally, **options)

    monkeypatch.setattr(seeding.history, "write_tally", counted)
    seeding.seed(database, jobs=100, events_per_job=4, seed=3, now=NOW)
    assert len(written) == 1 and written[0] > 0
    with database.write() as conn:
        assert check.check(conn).problems == []


def test_bad_arguments_are_refused(database):
    with pytest.raises(ValueError, match="events_per_job"):
        seeding.seed(database, jobs=1, events_per_job=0)
