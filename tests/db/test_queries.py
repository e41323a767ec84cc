"""list_jobs, count_jobs, status_totals, get_job, job_history, created_timeseries."""

import base64
import datetime as dt
import itertools
import json

import pytest

from db import queries, writes
from db.errors import NotFound, ValidationError
from db.models import STATUSES
from db.queries import JobFilter
from tests.conftest import T0

H = dt.timedelta(hours=1)
NAMES = [
    "alpha",
    "Beta",
    "gamma",
    "delta",
    "Epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
]


@pytest.fixture
def jobs(database):
    """Twelve jobs with distinct creation hours, repeated update times, and every status."""
    made = []
    with database.write() as conn:
        for i, name in enumerate(NAMES):
            job = writes.create_job(conn, name=name, timestamp=T0 + i * H)
            status = STATUSES[i % len(STATUSES)]
            # Two jobs share each update time, so the id tie-break is exercised.
            writes.append_status(conn, job_id=job["id"], status=status, timestamp=T0 + 100 * H + (i // 2) * H)
            updated = T0 + 100 * H + (i // 2) * H
            finished = status in ("COMPLETED", "FAILED", "CANCELLED")
            duration = (updated - job["created_at"]).total_seconds() if finished else None
            made.append({**job, "status": status, "updated_at": updated, "duration": duration})
    return made


def expected(rows, filters: JobFilter, ordering: str):
    key, desc = ordering.lstrip("-"), ordering.startswith("-")
    chosen = [
        r
        for r in rows
        if (not filters.statuses or r["status"] in filters.statuses)
        and (not filters.q or filters.q.lower() in r["name"].lower())
        and (not filters.created_after or r["created_at"] >= filters.created_after)
        and (not filters.created_before or r["created_at"] < filters.created_before)
    ]
    if key == "duration":
        # Unfinished jobs (null) after every finished one, in both directions.
        sign = -1 if desc else 1
        chosen.sort(key=lambda r: (r["duration"] is None, sign * (r["duration"] or 0), sign * r["id"]))
        return [r["id"] for r in chosen]
    return [r["id"] for r in sorted(chosen, key=lambda r: (r[key], r["id"]), reverse=desc)]


def walk(database, *, filters=None, ordering="-created_at", page_size=5):
    """Follow next from the first page, then previous back; return ids forward and pages backward."""
    filters = filters or JobFilter()
    forward, pages = [], []
    cursor = None
    while True:
        with database.read() as conn:
            page = queries.list_jobs(
                conn, filters=filters, ordering=ordering, page_size=page_size, cursor=cursor
            )
        pages.append([r["id"] for r in page.results])
        forward.extend(pages[-1])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    backward = [pages[-1]]
    previous = page.previous_cursor
    while previous is not None:
        with database.read() as conn:
            page = queries.list_jobs(
                conn, filters=filters, ordering=ordering, page_size=page_size, cursor=previous
            )
        backward.append([r["id"] for r in page.results])
        previous = page.previous_cursor
    return forward, pages, backward


FILTERS = [
    JobFilter(),
    JobFilter.build(statuses=["FAILED"]),
    JobFilter.build(statuses=["running", "CANCELLED"]),
    JobFilter.build(statuses=["PENDING", "RUNNING", "COMPLETED"]),
    JobFilter.build(q="ET"),
    JobFilter.build(created_after=T0 + 3 * H, created_before=T0 + 9 * H),
    JobFilter.build(statuses=["COMPLETED", "FAILED"], q="a", created_after=T0 + H),
]


@pytest.mark.parametrize("ordering", queries.ORDERINGS)
@pytest.mark.parametrize("filters", FILTERS, ids=range(len(FILTERS)))
def test_walking_next_visits_each_match_once_in_order_and_previous_walks_back(
    database, jobs, filters, ordering
):
    forward, pages, backward = walk(database, filters=filters, ordering=ordering, page_size=3)
    assert forward == expected(jobs, filters, ordering)
    assert backward == pages[::-1]
    assert all(0 < len(p) <= 3 for p in pages) or forward == []


def test_the_first_page_has_no_previous_and_the_last_no_next(database, jobs):
    with database.read() as conn:
        whole = queries.list_jobs(conn, page_size=12)
        first = queries.list_jobs(conn, page_size=5)
    assert whole.next_cursor is None and whole.previous_cursor is None
    assert first.previous_cursor is None and first.next_cursor is not None


def test_list_items_carry_only_the_list_fields(database, jobs):
    with database.read() as conn:
        row = queries.list_jobs(conn, page_size=1).results[0]
    assert set(row) == {"id", "name", "family", "status", "created_at", "updated_at", "duration"}
    assert row["created_at"].tzinfo is dt.UTC


def test_search_is_case_insensitive_and_treats_wildcards_literally(database, job_factory):
    for name in ("Ünïcode ÉTL", "100% done", "under_score", "plain"):
        job_factory(name=name)
    cases = {"étl": ["Ünïcode ÉTL"], "%": ["100% done"], "_": ["under_score"], "ÜNÏ": ["Ünïcode ÉTL"]}
    for q, names in cases.items():
        with database.read() as conn:
            page = queries.list_jobs(conn, filters=JobFilter.build(q=q))
        assert [r["name"] for r in page.results] == names, q


def test_new_jobs_do_not_shift_a_walk_in_progress(database, jobs, job_factory):
    with database.read() as conn:
        first = queries.list_jobs(conn, page_size=4)
    job_factory(name="newest", created_at=T0 + 1000 * H)
    with database.read() as conn:
        second = queries.list_jobs(conn, page_size=4, cursor=first.next_cursor)
    ids = [r["id"] for r in first.results + second.results]
    assert ids == expected(jobs, JobFilter(), "-created_at")[:8]


def _token(payload):
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def test_bad_and_foreign_cursors_are_rejected(database, jobs):
    with database.read() as conn:
        page = queries.list_jobs(conn, page_size=2)
        failed_page = queries.list_jobs(conn, filters=JobFilter.build(statuses=["FAILED"]), page_size=1)
    version, scope, direction, key, ident = json.loads(base64.urlsafe_b64decode(page.next_cursor + "=="))
    bad = [
        "",
        "not a cursor",
        "%%%",
        page.next_cursor[:-3],
        _token([version, scope, direction, key]),
        _token([version, "0" * 12, direction, key, ident]),
        _token([version, scope, "x", key, ident]),
        _token([version, scope, direction, "yesterday", ident]),
        _token([version, scope, direction, "2026-01-01T00:00:00", ident]),
        _token([version, scope, direction, key, "7"]),
        _token([version, scope, direction, key, -1]),
        _token([version + 1, scope, direction, key, ident]),
        "A" * 5000,
    ]
    for cursor in bad:
        with pytest.raises(ValidationError) as caught, database.read() as conn:
            queries.list_jobs(conn, page_size=2, cursor=cursor)
        assert caught.value.errors[0].field == "cursor", cursor
    # A cursor from another ordering or another filter does not belong to this list.
    for kwargs in ({"ordering": "name"}, {"filters": JobFilter.build(statuses=["FAILED"])}):
        with pytest.raises(ValidationError), database.read() as conn:
            queries.list_jobs(conn, page_size=2, cursor=page.next_cursor, **kwargs)
    with pytest.raises(ValidationError), database.read() as conn:
        queries.list_jobs(conn, page_size=1, cursor=failed_page.next_cursor)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": "5"}, "page_size"),
        ({"ordering": "id"}, "ordering"),
        ({"ordering": "-status"}, "ordering"),
    ],
)
def test_list_rejects_bad_arguments(database, kwargs, field):
    with pytest.raises(ValidationError) as caught, database.read() as conn:
        queries.list_jobs(conn, **kwargs)
    assert caught.value.errors[0].field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"statuses": ["DONE"]}, "status"),
        ({"q": "x" * 101}, "q"),
        ({"q": 3}, "q"),
        ({"created_after": dt.datetime(2026, 1, 1)}, "created_after"),
        ({"created_before": "2026-01-01"}, "created_before"),
        ({"created_after": T0 + H, "created_before": T0}, "created_before"),
    ],
)
def test_filters_reject_bad_values(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        JobFilter.build(**kwargs)
    assert caught.value.errors[0].field == field


def test_page_size_maximum_is_the_callers(database, jobs):
    with database.read() as conn:
        assert len(queries.list_jobs(conn, page_size=12, max_page_size=12).results) == 12
    with pytest.raises(ValidationError), database.read() as conn:
        queries.list_jobs(conn, page_size=13, max_page_size=12)


def test_counts_without_a_search_are_exact(database, jobs):
    with database.read() as conn:
        assert queries.count_jobs(conn) == queries.Count(12, "exact")
        assert queries.count_jobs(conn, filters=JobFilter.build(statuses=["FAILED", "PENDING"])).value == 5
        ranged = JobFilter.build(statuses=["RUNNING"], created_after=T0 + H / 2, created_before=T0 + 9 * H)
        assert queries.count_jobs(conn, filters=ranged) == queries.Count(
            len(expected(jobs, ranged, "name")), "exact"
        )


def test_a_first_page_holding_every_match_is_its_own_count(database, jobs):
    failed = JobFilter.build(statuses=["FAILED"])
    with database.read() as conn:
        whole = queries.list_jobs(conn, filters=failed, page_size=50)
        partial = queries.list_jobs(conn, filters=failed, page_size=1)
        deeper = queries.list_jobs(conn, filters=failed, page_size=50, cursor=partial.next_cursor)
        assert whole.whole and not partial.whole and not deeper.whole
        assert queries.count_jobs(conn, filters=failed, page=whole) == queries.Count(2, "exact")
        assert queries.count_jobs(conn, filters=failed, page=partial) == queries.Count(2, "exact")
        assert queries.count_jobs(conn, filters=failed, page=deeper) == queries.Count(2, "exact")


def test_status_totals(database, jobs):
    with database.read() as conn:
        totals = queries.status_totals(conn)
    assert totals.exact and totals.total == 12
    assert totals.by_status == {"PENDING": 3, "RUNNING": 3, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}


def test_get_job_and_history_of_a_missing_job(database):
    for call in (queries.get_job, queries.job_history):
        with pytest.raises(NotFound), database.read() as conn:
            call(conn, job_id=404)
        with pytest.raises(ValidationError), database.read() as conn:
            call(conn, job_id=0)


def test_history_pages_newest_first_by_time_then_id(database, job_factory):
    times = [T0 + H, T0 + 3 * H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H]
    job = job_factory(created_at=T0)
    with database.write() as conn:
        events = [
            writes.append_status(conn, job_id=job["id"], status="RUNNING", timestamp=t, message=str(i))
            for i, t in enumerate(times)
        ]
    seen, cursor = [], None
    while True:
        with database.read() as conn:
            page = queries.job_history(conn, job_id=job["id"], page_size=2, cursor=cursor)
        seen.extend(page.results)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    everything = [(e["timestamp"], e["id"]) for e in events] + [(T0, min(e["id"] for e in events) - 1)]
    assert [(e["timestamp"], e["id"]) for e in seen] == sorted(everything, reverse=True)
    assert set(seen[0]) == {"id", "status", "timestamp", "message"}
    other = job_factory()
    with pytest.raises(ValidationError), database.read() as conn:
        queries.job_history(conn, job_id=other["id"], cursor=page.previous_cursor)


def test_created_timeseries_buckets_in_sql(database, job_factory):
    for minutes, status in [(0, "FAILED"), (10, "FAILED"), (70, "COMPLETED"), (60 * 26, "FAILED")]:
        job_factory(created_at=T0 + dt.timedelta(minutes=minutes), status=status)
    with database.read() as conn:
        hourly = queries.created_timeseries(conn, bucket="hour", since=T0, until=T0 + 48 * H)
        daily = queries.created_timeseries(
            conn, bucket="day", since=T0, until=T0 + 48 * H, statuses=["failed"]
        )
        narrow = queries.created_timeseries(conn, bucket="hour", since=T0 + H, until=T0 + 2 * H)
    assert hourly == [
        {"bucket": T0, "status": "FAILED", "count": 2},
        {"bucket": T0 + H, "status": "COMPLETED", "count": 1},
        {"bucket": T0 + 26 * H, "status": "FAILED", "count": 1},
    ]
    assert daily == [
        {"bucket": T0, "status": "FAILED", "count": 2},
        {"bucket": T0 + 24 * H, "status": "FAILED", "count": 1},
    ]
    assert narrow == [{"bucket": T0 + H, "status": "COMPLETED", "count": 1}]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bucket": "minute"}, "bucket"),
        ({"bucket": "hour", "until": T0 + 1001 * H}, "since"),
        ({"bucket": "day", "until": T0 - H}, "until"),
        ({"bucket": "day", "since": dt.datetime(2026, 1, 1)}, "since"),
        ({"bucket": "day", "statuses": ["nope"]}, "status"),
    ],
)
def test_created_timeseries_is_bounded_and_validated(database, kwargs, field):
    arguments = {"since": T0, "until": T0 + 24 * H, **kwargs}
    with pytest.raises(ValidationError) as caught, database.read() as conn:
        queries.created_timeseries(conn, **arguments)
    assert caught.value.errors[0].field == field


def test_every_status_combination_lists_the_right_jobs(database, jobs):
    for size in (2, 3, 4, 5):
        for combo in itertools.combinations(STATUSES, size):
            filters = JobFilter.build(statuses=combo)
            with database.read() as conn:
                got = [r["id"] for r in queries.list_jobs(conn, filters=filters, page_size=200).results]
            assert got == expected(jobs, filters, "-created_at"), combo
