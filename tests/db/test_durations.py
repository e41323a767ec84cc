"""Durations and the last-update range: kept by the write path, listed, sorted, filtered, counted, paged
across unfinished jobs in both directions, checked and repaired; on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from db import check, queries, search, writes
from db.errors import ValidationError
from db.models import job_table
from db.queries import JobFilter
from tests.conftest import T0, make_job
from tests.invariant import invariant_violations
from tests.recount import assert_history_matches

M = dt.timedelta(minutes=1)
# (history after creation) per job: finished, unfinished, retried (unfinished again), late events.
HISTORIES = [
    (("RUNNING", 1), ("COMPLETED", 30)),
    (("RUNNING", 2),),
    (("RUNNING", 1), ("FAILED", 5)),
    (("RUNNING", 1), ("FAILED", 5), ("PENDING", 6)),  # a retry: unfinished again
    (("CANCELLED", 3),),
    (),
    (("RUNNING", 4), ("COMPLETED", 9), ("RUNNING", 2)),  # a late event: still finished at 9
    (("RUNNING", 1), ("COMPLETED", 30)),  # the same duration as the first: ties broken by id
]


@pytest.fixture
def jobs(database):
    made = []
    for i in range(24):
        created = T0 + i * M
        history = tuple(
            (s, created + minutes * M + i * dt.timedelta(seconds=7)) for s, minutes in HISTORIES[i % 8]
        )
        made.append(make_job(database, name=f"job-{i}", created_at=created, history=history)["id"])
    return made


def every_job(database):
    t = job_table.c
    with database.read() as conn:
        from sqlalchemy import select

        rows = conn.execute(
            select(t.id, t.name, t.family, t.current_status_type, t.created_at, t.updated_at, t.duration_s)
        ).all()
    keys = ("id", "name", "family", "status", "created_at", "updated_at", "duration")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def expected_ids(rows, filters, ordering):
    def keep(r):
        f = filters
        checks = [
            not f.statuses or r["status"] in f.statuses,
            f.family is None or r["family"] == f.family,
            f.q is None or f.q in r["name"],
            f.created_after is None or r["created_at"] >= f.created_after,
            f.created_before is None or r["created_at"] < f.created_before,
            f.updated_after is None or r["updated_at"] >= f.updated_after,
            f.updated_before is None or r["updated_at"] < f.updated_before,
            f.min_duration is None or (r["duration"] is not None and r["duration"] >= f.min_duration),
            f.max_duration is None or (r["duration"] is not None and r["duration"] <= f.max_duration),
        ]
        return all(checks)

    kept = [r for r in rows if keep(r)]
    key, descending = ordering.lstrip("-"), ordering.startswith("-")
    if key == "duration":
        finished = sorted(
            (r for r in kept if r["duration"] is not None), key=lambda r: (r["duration"], r["id"])
        )
        unfinished = sorted((r for r in kept if r["duration"] is None), key=lambda r: r["id"])
        if descending:
            finished.reverse()
            unfinished.reverse()
        return [r["id"] for r in finished + unfinished]
    ordered = sorted(kept, key=lambda r: (r[key], r["id"]), reverse=descending)
    return [r["id"] for r in ordered]


def walk_all(database, filters, ordering, page_size):
    """Every page forward, then every page back from the last: the ids both ways, and partial pages."""
    forward, pages, cursor = [], [], None
    with database.read() as conn:
        while True:
            page = queries.list_jobs(
                conn, filters=filters, ordering=ordering, page_size=page_size, cursor=cursor
            )
            forward += [r["id"] for r in page.results]
            pages.append(page)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        backward, cursor = [], pages[-1].previous_cursor
        while cursor is not None:
            page = queries.list_jobs(
                conn, filters=filters, ordering=ordering, page_size=page_size, cursor=cursor
            )
            backward = [r["id"] for r in page.results] + backward
            cursor = page.previous_cursor
    return forward, backward + [r["id"] for r in pages[-1].results]


def test_the_write_path_keeps_durations(database, jobs):
    rows = {r["id"]: r for r in every_job(database)}
    first = rows[jobs[0]]
    assert first["status"] == "COMPLETED"
    assert first["duration"] == pytest.approx(30 * 60.0, abs=1e-6)
    assert rows[jobs[1]]["duration"] is None  # running
    assert rows[jobs[3]]["duration"] is None  # retried: unfinished again
    assert rows[jobs[6]]["duration"] == pytest.approx(
        (9 * 60 + 6 * 7), abs=1e-6
    )  # the late event changes nothing
    assert invariant_violations(database) == []
    assert_history_matches(database)
    with database.write() as conn:
        done = writes.create_job(conn, name="born-done", status="COMPLETED", timestamp=T0)["id"]
        writes.append_status(conn, job_id=jobs[3], status="RUNNING", timestamp=T0 + 40 * M)
        writes.append_status(conn, job_id=jobs[3], status="COMPLETED", timestamp=T0 + 50 * M)
        writes.delete_job(conn, job_id=jobs[0])
    rows = {r["id"]: r for r in every_job(database)}
    assert rows[done]["duration"] == 0.0
    assert rows[jobs[3]]["duration"] == pytest.approx((50 - 3) * 60.0, abs=1e-6)
    assert jobs[0] not in rows
    assert invariant_violations(database) == []


@pytest.mark.parametrize("ordering", queries.ORDERINGS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"min_duration": 5 * 60},
        {"max_duration": 20 * 60, "statuses": ["COMPLETED", "FAILED"]},
        {"min_duration": 0, "max_duration": 0},
        {"updated_after": T0 + 10 * M},
        {"updated_after": T0 + 10 * M, "updated_before": T0 + 30 * M, "min_duration": 60},
        {"created_after": T0 + 5 * M, "updated_before": T0 + 25 * M, "family": "job"},
        {"statuses": ["PENDING", "RUNNING"]},
        {"q": "job-1", "min_duration": 1},
    ],
    ids=range(9),
)
def test_lists_match_a_recount_in_every_ordering_both_ways(database, jobs, ordering, kwargs):
    filters = JobFilter.build(**kwargs)
    wanted = expected_ids(every_job(database), filters, ordering)
    for page_size in (2, 50):
        forward, backward = walk_all(database, filters, ordering, page_size)
        assert forward == wanted, page_size
        assert backward == wanted, page_size
    with database.read() as conn:
        count = queries.count_jobs(conn, filters=filters)
    assert count == queries.Count(len(wanted), "exact")


def test_a_tiny_budget_walks_a_range_in_partial_pages_that_visit_every_match(database, jobs):
    filters = JobFilter.build(min_duration=60)
    wanted = expected_ids(every_job(database), filters, "name")
    seen, cursor, partial = [], None, 0
    with database.read() as conn:
        while True:
            page = search.list_matches(
                conn,
                filters=filters,
                ordering="name",
                page_size=2,
                max_page_size=200,
                cursor=cursor,
                budget=3,
            )
            seen += [r["id"] for r in page.results]
            partial += page.partial
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == wanted and partial


def test_counts_beyond_the_budget_are_lower_bounds(database, jobs):
    filters = JobFilter.build(updated_after=T0)
    with database.read() as conn:
        exact = search.count_matches(conn, filters=filters)
        bounded = search.count_matches(conn, filters=filters, budget=5)
    assert exact == queries.Count(24, "exact")
    assert bounded.kind == "at_least" and bounded.value < 24


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"updated_after": T0 + M, "updated_before": T0}, "updated_before"),
        ({"updated_after": T0, "updated_before": T0}, "updated_before"),
        ({"updated_after": "yesterday"}, "updated_after"),
        ({"min_duration": -1}, "min_duration"),
        ({"max_duration": "soon"}, "max_duration"),
        ({"min_duration": float("nan")}, "min_duration"),
        ({"min_duration": 10, "max_duration": 5}, "max_duration"),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        JobFilter.build(**kwargs)
    assert [e.field for e in caught.value.errors] == [field]


def test_a_duration_cursor_cannot_be_used_for_another_ordering(database, jobs):
    with database.read() as conn:
        page = queries.list_jobs(conn, ordering="duration", page_size=2)
        with pytest.raises(ValidationError):
            queries.list_jobs(conn, ordering="-duration", page_size=2, cursor=page.next_cursor)


def test_check_finds_a_wrong_duration_and_repair_fixes_it(database, jobs):
    with database.write() as conn:
        conn.execute(update(job_table).where(job_table.c.id == jobs[0]).values(duration_s=1.5))
        conn.execute(update(job_table).where(job_table.c.id == jobs[1]).values(duration_s=2.0))
    with database.write() as conn:
        report = check.check(conn)
    lines = [p for p in report.problems if p.startswith("duration:")]
    assert len(lines) == 2 and f"job {jobs[0]} says 1.500000 s" in lines[0]
    assert invariant_violations(database) != []
    with database.write() as conn:
        check.repair(conn)
    with database.write() as conn:
        assert check.check(conn).ok
    assert invariant_violations(database) == []
