"""Keyset pagination over HTTP: every ordering and filter, forward and back, and while jobs are inserted."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from urllib.parse import urlencode

import pytest

from db import queries, writes
from tests.conftest import T0

FILTERS = {
    "none": {},
    "one status": {"status": "RUNNING"},
    "two statuses": {"status": "pending,FAILED"},
    "name": {"q": "al"},
    "created range": {"created_after": "2026-01-01T02:00:00+00:00", "created_before": "2026-01-01T09:00:00Z"},
    "everything": {
        "status": ["RUNNING", "completed", "PENDING"],
        "q": "a",
        "created_after": "2026-01-01T01:00:00Z",
    },
    "updated range": {"updated_after": "2026-01-01T03:00:00Z", "updated_before": "2026-01-01T10:00:00Z"},
    "duration range": {"min_duration": "3600", "max_duration": "7200", "status": "completed,FAILED,running"},
}
# Lower-case ASCII names sort the same in Python and in any database collation; repeats test the id tiebreak.
WORDS = ["alpha", "beta", "gamma", "delta", "kappa"]
STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
PAGE_SIZE = 4


def seed_jobs(database, count, rnd, *, hours=12):
    """Jobs whose names, creation and update times collide often, in one transaction."""
    jobs = []
    with database.write() as conn:
        for _ in range(count):
            created = T0 + dt.timedelta(hours=rnd.randrange(hours))
            job = writes.create_job(conn, name=rnd.choice(WORDS), status="PENDING", timestamp=created)
            status = rnd.choice(STATUSES)
            updated = created + dt.timedelta(hours=rnd.randrange(3))
            # Never older than the first event, and a tie on time goes to this (greater) id: it is current.
            writes.append_status(conn, job_id=job["id"], status=status, timestamp=updated)
            duration = (updated - created).total_seconds() if status in TERMINAL else None
            jobs.append(job | {"status": status, "updated_at": updated, "duration": duration})
    return jobs


def matches(job, params):
    """Python's reading of the filter, to compare the API with."""
    statuses = params.get("status", [])
    statuses = statuses if isinstance(statuses, list) else statuses.split(",")
    if statuses and job["status"] not in {s.upper() for s in statuses}:
        return False
    if "q" in params and params["q"].lower() not in job["name"].lower():
        return False
    if "created_after" in params and job["created_at"] < dt.datetime.fromisoformat(params["created_after"]):
        return False
    if "created_before" in params and job["created_at"] >= dt.datetime.fromisoformat(
        params["created_before"]
    ):
        return False
    if "updated_after" in params and job["updated_at"] < dt.datetime.fromisoformat(params["updated_after"]):
        return False
    if "updated_before" in params and job["updated_at"] >= dt.datetime.fromisoformat(
        params["updated_before"]
    ):
        return False
    for name, keep in (("min_duration", lambda d, v: d >= v), ("max_duration", lambda d, v: d <= v)):
        if name in params and (job["duration"] is None or not keep(job["duration"], float(params[name]))):
            return False
    return True


def sort_key(ordering):
    field = ordering.lstrip("-")
    return lambda job: (job[field], job["id"])


def expected_ids(jobs, params, ordering):
    if ordering.lstrip("-") == "duration":
        # Unfinished jobs (no duration) after every finished job, in both directions.
        sign = -1 if ordering.startswith("-") else 1
        chosen = sorted(
            (j for j in jobs if matches(j, params)),
            key=lambda j: (j["duration"] is None, sign * (j["duration"] or 0), sign * j["id"]),
        )
        return [j["id"] for j in chosen]
    chosen = sorted((j for j in jobs if matches(j, params)), key=sort_key(ordering))
    ids = [j["id"] for j in chosen]
    return ids[::-1] if ordering.startswith("-") else ids


def first_url(params, ordering, page_size=PAGE_SIZE):
    return "/api/jobs/?" + urlencode({**params, "ordering": ordering, "page_size": page_size}, doseq=True)


def walk(client, url, direction="next", limit=500):
    """Follow ``direction`` links from ``url``; the pages (lists of jobs), their URLs, the last body."""
    pages, urls = [], []
    while url is not None and len(pages) < limit:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        pages.append(body["results"])
        urls.append(url)
        url = body[direction]
    assert len(pages) < limit, "the walk did not end"
    return pages, urls, body


@pytest.mark.parametrize("ordering", queries.ORDERINGS)
@pytest.mark.parametrize("filter_name", list(FILTERS))
def test_next_visits_every_match_once_in_order_and_previous_walks_back(
    client, database, ordering, filter_name
):
    rnd = random.Random(f"{ordering}{filter_name}")
    jobs = seed_jobs(database, 30, rnd)
    params = FILTERS[filter_name]
    expected = expected_ids(jobs, params, ordering)

    forward, urls, last = walk(client, first_url(params, ordering))
    assert [job["id"] for page in forward for job in page] == expected
    assert all(len(page) == PAGE_SIZE for page in forward[:-1])
    assert last["count"] == len(expected) and last["count_exact"] is True
    assert last["next"] is None

    backward, _, first = walk(client, urls[-1], "previous")
    assert backward == forward[::-1]
    assert first["previous"] is None


@pytest.mark.parametrize("ordering", queries.ORDERINGS)
def test_a_walk_while_jobs_are_inserted_skips_and_repeats_nothing(client, database, ordering):
    rnd = random.Random(ordering)
    jobs = seed_jobs(database, 40, rnd)
    params = {"status": "PENDING,RUNNING,COMPLETED,FAILED,CANCELLED"}
    existing = set(expected_ids(jobs, params, ordering))
    done = threading.Event()
    inserted = []
    failures = []

    def inserter():
        local = random.Random(7)
        try:
            for _ in itertools.takewhile(lambda _: not done.is_set(), range(400)):
                inserted.extend(seed_jobs(database, 1, local))
        except Exception as exc:  # surfaced in the test thread
            failures.append(exc)

    thread = threading.Thread(target=inserter)
    thread.start()
    try:
        pages, _, _ = walk(client, first_url(params, ordering, page_size=3))
    finally:
        done.set()
        thread.join(timeout=60)
    assert failures == []
    assert inserted, "the writer thread never ran during the walk"
    seen = [job for page in pages for job in page]
    ids = [job["id"] for job in seen]
    assert len(ids) == len(set(ids)), "a job was returned twice"
    assert existing <= set(ids), "a job that existed when the walk began was skipped"
    field = ordering.lstrip("-")
    if field == "duration":
        # Finished jobs by duration, then the unfinished ones (null) by id, in the ordering's direction.
        sign = -1 if ordering.startswith("-") else 1
        keys = [(job["duration"] is None, sign * (job["duration"] or 0), sign * job["id"]) for job in seen]
        assert keys == sorted(keys)
        return
    parse = str if field == "name" else dt.datetime.fromisoformat
    keys = [(parse(job[field]), job["id"]) for job in seen]
    assert keys == sorted(keys, reverse=ordering.startswith("-"))
