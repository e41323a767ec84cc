"""Name search with a budget (db/search.py): partial pages and their continuations, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import cursor as cursors
from db import queries, search
from db.errors import ValidationError
from db.queries import JobFilter
from tests.conftest import T0, make_job

NAMES = [
    "etl-orders-1",
    "train-ranker-42",
    "sync-crm-9",
    "ÉTL-Été-3",
    "backup_db%7",
    "train-ranker-420",
    "report-weekly-5",
    "etl-orders-42",
    "sync-crm-4242",
    "train-ranker-8",
]


@pytest.fixture
def jobs(database):
    """60 jobs: ten name families, created a minute apart, updated in a different order."""
    made = []
    for i in range(60):
        created = T0 + dt.timedelta(minutes=i)
        later = T0 + dt.timedelta(hours=2, minutes=(i * 37) % 60)
        made.append(
            make_job(
                database,
                name=f"{NAMES[i % len(NAMES)]}-{i}",
                created_at=created,
                history=(("RUNNING", later),) if i % 3 else (),
            )
        )
    return made


def expected(database, q, ordering):
    """Every match, in the ordering, computed in Python from the whole table."""
    key, descending = ordering.lstrip("-"), ordering.startswith("-")
    with database.read() as conn:
        every = queries.list_jobs(conn, ordering=ordering, page_size=200).results
    assert len(every) < 200
    folded = q.casefold()
    rows = [r for r in every if folded in r["name"].casefold()]
    return [r["id"] for r in sorted(rows, key=lambda r: (r[key], r["id"]), reverse=descending)]


def walk(database, filters, ordering, *, page_size, budget, backwards_from=None):
    """Follow next links from the first page; return every page."""
    pages, cursor = [], None
    with database.read() as conn:
        while True:
            page = search.list_matches(
                conn,
                filters=filters,
                ordering=ordering,
                page_size=page_size,
                max_page_size=200,
                cursor=cursor,
                budget=budget,
            )
            pages.append(page)
            assert len(pages) < 200, "the walk does not end"
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


# Terms whose matches are many, few, clustered (ranker-42 in three families), or absent; ASCII-only terms,
# because SQLite folds only ASCII case (the non-ASCII term is checked on both databases below, exactly).
TERMS = ["etl", "ranker-42", "-4", "e", "zzz", "_", "%"]


@pytest.mark.parametrize("ordering", queries.ORDERINGS)
@pytest.mark.parametrize("q", TERMS)
def test_the_partial_walk_visits_every_match_once_in_order(database, jobs, q, ordering):
    filters = JobFilter.build(q=q)
    pages = walk(database, filters, ordering, page_size=3, budget=7)
    seen = [r["id"] for p in pages for r in p.results]
    assert seen == expected(database, q, ordering)
    assert all(len(p.results) <= 3 for p in pages)
    # A small budget over 60 jobs cannot answer every page exactly: some pages say they are partial.
    partial = [p for p in pages if p.partial]
    assert (bool(partial) or q == "e") and all(p.scanned == 7 and p.through is not None for p in partial)
    assert all(p.through["key"] == ordering.lstrip("-") for p in partial)


@pytest.mark.parametrize("ordering", ["-created_at", "name", "updated_at"])
def test_previous_links_walk_back_over_the_same_matches(database, jobs, ordering):
    filters = JobFilter.build(q="ranker")
    pages = walk(database, filters, ordering, page_size=2, budget=5)
    forward = [[r["id"] for r in p.results] for p in pages]
    back, cursor = [], pages[-1].previous_cursor
    with database.read() as conn:
        while cursor is not None:
            page = search.list_matches(
                conn,
                filters=filters,
                ordering=ordering,
                page_size=2,
                max_page_size=200,
                cursor=cursor,
                budget=5,
            )
            back.insert(0, [r["id"] for r in page.results])
            cursor = page.previous_cursor
    flat_back = [i for ids in back for i in ids]
    flat_forward = [i for ids in forward[:-1] for i in ids]
    assert flat_back == flat_forward


def test_a_large_enough_budget_gives_whole_exact_pages(database, jobs):
    filters = JobFilter.build(q="sync")
    with database.read() as conn:
        page = search.list_matches(
            conn, filters=filters, ordering="name", page_size=50, max_page_size=200, cursor=None, budget=1000
        )
        count = search.count_matches(conn, filters=filters, page=page, budget=1000)
    assert not page.partial and page.whole and page.through is None
    assert [r["id"] for r in page.results] == expected(database, "sync", "name")
    assert count == queries.Count(len(page.results), "exact")


def test_the_count_is_exact_within_its_budget_and_a_lower_bound_beyond(database, jobs):
    filters = JobFilter.build(q="etl")
    truth = len(expected(database, "etl", "created_at"))
    with database.read() as conn:
        assert search.count_matches(conn, filters=filters, budget=1000) == queries.Count(truth, "exact")
        bounded = search.count_matches(conn, filters=filters, budget=20)
        nothing = search.count_matches(conn, filters=JobFilter.build(q="zzz"), budget=20)
    assert bounded.kind == "at_least" and 0 < bounded.value < truth
    assert nothing == queries.Count(0, "at_least")


def test_statuses_and_search_combine(database, jobs):
    filters = JobFilter.build(q="ranker", statuses=["PENDING", "RUNNING"])
    pages = walk(database, filters, "-updated_at", page_size=2, budget=4)
    seen = [r["id"] for p in pages for r in p.results]
    assert seen == expected(database, "ranker", "-updated_at")  # every job is PENDING or RUNNING


def test_the_list_and_count_delegate_to_the_search(database, jobs):
    filters = JobFilter.build(q="Été")
    with database.read() as conn:
        page = queries.list_jobs(conn, filters=filters, ordering="name")
        count = queries.count_jobs(conn, filters=filters, page=page)
    assert isinstance(page, search.SearchPage) and not page.partial
    names = {r["name"] for r in page.results}
    # Both databases match the exact case; PostgreSQL's ILIKE also folds it where SQLite's LIKE cannot.
    assert names and all("été" in n.casefold() for n in names)
    assert count.exact and count.value == len(page.results)


def test_continuation_cursors_are_bound_to_their_list(database, jobs):
    filters = JobFilter.build(q="zzz")
    with database.read() as conn:
        page = search.list_matches(
            conn, filters=filters, ordering="name", page_size=3, max_page_size=200, cursor=None, budget=5
        )
        assert page.partial and page.next_cursor
        for other_filters, other_ordering in (
            (JobFilter.build(q="zz"), "name"),
            (filters, "-name"),
            (JobFilter.build(q="zzz", statuses=["FAILED"]), "name"),
        ):
            with pytest.raises(ValidationError):
                queries.list_jobs(
                    conn, filters=other_filters, ordering=other_ordering, cursor=page.next_cursor
                )
        forged = cursors.encode(cursors.Cursor("next", "x", 1), scope="000000000000")
        for bad in (forged, page.next_cursor[:-3], "!!", page.next_cursor + "A"):
            with pytest.raises(ValidationError):
                queries.list_jobs(conn, filters=filters, ordering="name", cursor=bad)


hostile = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=100)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=hostile | st.sampled_from(["%", "_", "\\", "%_\\", "'", "é", "ß", "İ", "\u200b", "🙂", "a" * 100]))
def test_hostile_terms_answer_or_refuse_never_fail(database, q):
    make_job(database, name="etl-orders-1")
    try:
        filters = JobFilter.build(q=q)
    except ValidationError:
        return
    for ordering in ("-created_at", "name"):
        with database.read() as conn:
            page = queries.list_jobs(conn, filters=filters, ordering=ordering, page_size=5)
            queries.count_jobs(conn, filters=filters, page=page)
        if filters.q is not None:
            assert all(filters.q.casefold() in r["name"].casefold() for r in page.results) or not page.results
