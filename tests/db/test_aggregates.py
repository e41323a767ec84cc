"""The count and history tables kept by the write path: exact under concurrent writers (every one of
them equal to a recount from the job and event tables), and the counts at every range edge."""

import contextlib
import datetime as dt
import random
import threading

import pytest

from db import aggregates, check, folding, queries, writes
from db.errors import NotFound
from db.models import STATUSES
from db.queries import JobFilter
from tests.conftest import T0
from tests.invariant import invariant_violations
from tests.recount import assert_history_matches

WRITERS = 8
STEPS_PER_WRITER = 40
M = dt.timedelta(minutes=1)


def recount_by_status(rows, since=None, until=None):
    counts = dict.fromkeys(STATUSES, 0)
    for created, status in rows:
        if (since is None or created >= since) and (until is None or created < until):
            counts[status] += 1
    return counts


def test_concurrent_creates_appends_and_deletes_keep_every_count_exact(database):
    """8 writers create jobs (in a few shared hours, of a few shared families), append events with
    shuffled and colliding times to shared jobs, and delete some; afterwards every count row equals a
    recount of the jobs, and every history row (status mix, transitions, time in state, flags,
    status_since) a recount from the event table, hour by hour."""
    with database.write() as conn:
        shared = [
            writes.create_job(conn, name=f"shared-{i}", timestamp=T0 + i * 7 * M)["id"] for i in range(6)
        ]
    start = threading.Barrier(WRITERS)
    errors = []
    everyone = []

    def writer(seed):
        rnd = random.Random(seed)
        mine = []
        try:
            start.wait()
            for step in range(STEPS_PER_WRITER):
                roll = rnd.random()
                with database.write() as conn:
                    if roll < 0.3 or not mine:
                        # Few distinct creation hours, so writers share hour, day and total rows.
                        at = T0 + rnd.randrange(0, 4 * 60) * M
                        name = f"{rnd.choice(('etl', 'sync', 'train'))}-{seed}{step:03d}"
                        mine.append(writes.create_job(conn, name=name, timestamp=at)["id"])
                        everyone.append(mine[-1])
                    elif roll < 0.85:
                        # Any writer's job, so appends race the deletes of other writers.
                        job_id = rnd.choice(shared + everyone)
                        # Minute resolution over a short span: ties on time and late events are common.
                        at = T0 + rnd.randrange(0, 6 * 60) * M
                        with contextlib.suppress(NotFound):  # deleted by another writer meanwhile
                            writes.append_status(
                                conn, job_id=job_id, status=rnd.choice(STATUSES), timestamp=at
                            )
                    else:
                        job_id = mine.pop(rnd.randrange(len(mine)))
                        writes.delete_job(conn, job_id=job_id)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    writing = threading.Event()

    def folder():  # PostgreSQL: folds of the delta log race the writers too
        try:
            while writing.is_set():
                folding.fold_deltas(database.writer)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    if database.dialect == "postgresql":
        writing.set()
        folds = threading.Thread(target=folder)
        folds.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if writing.is_set():
        writing.clear()
        folds.join(timeout=60)
    assert errors == []
    assert invariant_violations(database) == []
    hours = (T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=7))
    assert_history_matches(database, hours=hours)
    if database.dialect == "postgresql":  # what was left in the log, folded, changes no read
        with database.write() as conn:
            folding.fold_all(conn)
            assert conn.exec_driver_sql("SELECT count(*) FROM job_history_delta").scalar() == 0
        assert_history_matches(database, hours=hours)
    with database.write() as conn:  # the check reads one snapshot
        assert check.check(conn).problems == []
    with database.read() as conn:
        assert aggregates.drift(conn) == []
        jobs = conn.exec_driver_sql("SELECT created_at, current_status_type FROM job")
        rows = [(_aware(created), status) for created, status in jobs]
        assert queries.status_totals(conn).by_status == recount_by_status(rows)
        for since, until in [(T0 + 17 * M, T0 + 143 * M), (None, T0 + 61 * M), (T0 + 59 * M, None)]:
            filters = JobFilter.build(created_after=since, created_before=until)
            assert queries.count_jobs(conn, filters=filters).value == sum(
                recount_by_status(rows, since, until).values()
            )


def _aware(value):
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@pytest.fixture
def spread(database):
    """Jobs created every 37 minutes over four days, in every status."""
    made = []
    with database.write() as conn:
        for i in range(160):
            created = T0 + i * 37 * M
            job = writes.create_job(conn, name=f"spread-{i}", timestamp=created)
            status = STATUSES[i % len(STATUSES)]
            if status != "PENDING":
                writes.append_status(conn, job_id=job["id"], status=status, timestamp=created + M)
            made.append((created, status))
    return made


EDGES = [
    (T0, T0 + dt.timedelta(days=4)),  # whole days
    (
        T0 + 3 * M,
        T0 + dt.timedelta(days=3, hours=5, minutes=11),
    ),  # partial hours and whole hours at both ends
    (T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=9)),  # whole hours inside one day
    (T0 + dt.timedelta(hours=5, minutes=10), T0 + dt.timedelta(hours=5, minutes=50)),  # inside one hour
    (T0 + dt.timedelta(hours=23, minutes=30), T0 + dt.timedelta(days=1, minutes=30)),  # across midnight
    (None, T0 + dt.timedelta(days=2, minutes=1)),
    (T0 + dt.timedelta(days=1, hours=1, minutes=1), None),
]


@pytest.mark.parametrize(("since", "until"), EDGES)
@pytest.mark.parametrize("statuses", [(), ("FAILED",), ("RUNNING", "COMPLETED")])
def test_counts_are_exact_at_every_range_edge(database, spread, since, until, statuses):
    expected = recount_by_status(spread, since, until)
    filters = JobFilter.build(statuses=statuses, created_after=since, created_before=until)
    with database.read() as conn:
        count = queries.count_jobs(conn, filters=filters)
    assert count == queries.Count(
        sum(n for s, n in expected.items() if not statuses or s in statuses), "exact"
    )


@pytest.mark.parametrize("bucket", ["hour", "day"])
@pytest.mark.parametrize(("since", "until"), [e for e in EDGES if e[0] and e[1]])
def test_timeseries_is_exact_per_bucket_at_every_range_edge(database, spread, bucket, since, until):
    start_of = aggregates.hour_start if bucket == "hour" else aggregates.day_start
    expected = {}
    for created, status in spread:
        if since <= created < until:
            key = (start_of(created), status)
            expected[key] = expected.get(key, 0) + 1
    with database.read() as conn:
        series = queries.created_timeseries(conn, bucket=bucket, since=since, until=until)
    assert {(row["bucket"], row["status"]): row["count"] for row in series} == expected
    assert [(row["bucket"], row["status"]) for row in series] == sorted(expected)


def test_a_progress_event_and_a_late_event_leave_the_counts_alone(database):
    with database.write() as conn:
        job = writes.create_job(conn, name="steady", timestamp=T0)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + M)
        writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=T0 + 2 * M)  # progress
        writes.append_status(conn, job_id=job["id"], status="FAILED", timestamp=T0 + M / 2)  # late
    with database.read() as conn:
        assert queries.status_totals(conn).by_status["RUNNING"] == 1
        assert aggregates.drift(conn) == []
