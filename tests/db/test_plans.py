"""Every list the API or dashboard can ask for is an ordered index scan on PostgreSQL at scale.

About 200k seeded jobs, ANALYZEd; each status filter alone and combined, times each ordering, times the
first page and a deep cursor page, must plan an index scan on ``job`` with no Sort node and no Seq Scan.
"""

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import event, text

from db import cursor as cursors
from db import migrate, queries
from db.engine import Database
from db.models import STATUSES
from db.queries import JobFilter
from db.seed import seed
from tests.conftest import requires_postgres, scratch_postgres_database

pytestmark = requires_postgres
SEEDED_JOBS = 200_000
STATUS_FILTERS = [
    (),
    *((s,) for s in STATUSES),
    *itertools.combinations(STATUSES, 2),
    *itertools.combinations(STATUSES, 3),
    *itertools.combinations(STATUSES, 4),
]


@pytest.fixture(scope="module")
def big_database():
    with scratch_postgres_database("plans") as url:
        database = Database.connect(url)
        migrate.upgrade(database.writer)
        seed(database, jobs=SEEDED_JOBS, events_per_job=3, seed=1)
        yield database
        database.dispose()


def captured_plans(database, call):
    """Run ``call(conn)`` and EXPLAIN every statement it sent that reads ``job`` or ``job_status``."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("EXPLAIN") and (" job" in statement):
            statements.append((statement, parameters))

    event.listen(database.reader, "before_cursor_execute", capture)
    try:
        with database.read() as conn:
            call(conn)
    finally:
        event.remove(database.reader, "before_cursor_execute", capture)
    plans = []
    with database.reader.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
            plans.append(plan if isinstance(plan, list) else json.loads(plan))
    return plans


def nodes(plan_node):
    yield plan_node
    for child in plan_node.get("Plans", []):
        yield from nodes(child)


def assert_index_only_access(plans, table):
    assert plans, "no statement was captured"
    for plan in plans:
        every = list(nodes(plan[0]["Plan"]))
        kinds = [n["Node Type"] for n in every]
        assert "Sort" not in kinds and "Incremental Sort" not in kinds, json.dumps(plan, indent=1)
        assert not [n for n in every if n["Node Type"] == "Seq Scan"], json.dumps(plan, indent=1)
        scans = [n for n in every if n.get("Relation Name") == table]
        assert scans and all(n["Node Type"] in {"Index Scan", "Index Only Scan"} for n in scans), json.dumps(
            plan, indent=1
        )


def deep_cursor(database, filters, ordering):
    """A cursor about halfway through the list (found by SQL once, so the test need not walk there)."""
    key, desc = ordering.lstrip("-"), ordering.startswith("-")
    where = ""
    if filters.statuses:
        where = "WHERE current_status_type IN (" + ", ".join(f"'{s}'" for s in filters.statuses) + ")"
    direction = "DESC" if desc else "ASC"
    with database.reader.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM job {where}")).scalar_one()
        order = f"ORDER BY {key} {direction}, id {direction}"
        row = conn.execute(
            text(f"SELECT {key}, id FROM job {where} {order} OFFSET :n LIMIT 1"), {"n": count // 2}
        ).one()
    position = cursors.Cursor("next", row[0], row[1])
    return cursors.encode(position, scope=cursors.fingerprint("jobs", ordering, filters))


@pytest.mark.parametrize("statuses", STATUS_FILTERS, ids=lambda s: "+".join(s) or "all")
def test_every_list_variant_is_an_ordered_index_scan(big_database, statuses):
    filters = JobFilter.build(statuses=statuses)
    for ordering in queries.ORDERINGS:
        for cursor in (None, deep_cursor(big_database, filters, ordering)):
            plans = captured_plans(
                big_database,
                lambda conn, o=ordering, c=cursor: queries.list_jobs(
                    conn, filters=filters, ordering=o, cursor=c
                ),
            )
            assert_index_only_access(plans, "job")


COUNT_FILTERS = [
    {"q": "etl-orders"},  # common: estimated
    {"q": "ranker-42"},  # rare: counted exactly
    {"statuses": ["FAILED"], "q": "sync"},
]


@pytest.mark.parametrize("kwargs", COUNT_FILTERS, ids=range(len(COUNT_FILTERS)))
def test_counts_never_scan_the_whole_table(big_database, kwargs):
    filters = JobFilter.build(**kwargs)
    plans = captured_plans(big_database, lambda conn: queries.count_jobs(conn, filters=filters))
    if kwargs == {"q": "ranker-42"}:
        assert plans  # rare: counted, not estimated
    # Far above the cap the planner's (remembered) estimate is the whole answer: then nothing is read.
    for plan in plans:
        # A scan is fine only under the count's LIMIT: it stops after cap + 1 rows, whatever the table size.
        for node in nodes(plan[0]["Plan"]):
            if node["Node Type"] == "Limit":
                break
            assert node["Node Type"] not in {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def created_range(hours_ago_low, hours_ago_high, *, minutes=0):
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "created_after": now - dt.timedelta(hours=hours_ago_low, minutes=-minutes),
        "created_before": now - dt.timedelta(hours=hours_ago_high, minutes=minutes),
    }


AGGREGATE_COUNT_FILTERS = [
    {},
    {"statuses": ["FAILED"]},
    {"statuses": ["RUNNING", "CANCELLED"]},
    {"statuses": ["PENDING"]},
    created_range(24 * 30, 0),  # whole days and hours: count rows only
    created_range(24 * 90, 5, minutes=17),  # both edges inside an hour
    {"statuses": ["COMPLETED"], **created_range(24 * 7 + 3, 24 * 2, minutes=41)},
    created_range(3, 2, minutes=20),  # inside one hour
]


@pytest.mark.parametrize("kwargs", AGGREGATE_COUNT_FILTERS, ids=range(len(AGGREGATE_COUNT_FILTERS)))
def test_counts_without_a_search_read_count_rows_and_at_most_two_partial_hours(big_database, kwargs):
    """Exact at any size: the count tables, plus an index range of ``job`` bounded to a partial hour."""
    filters = JobFilter.build(**kwargs)
    plans = captured_plans(big_database, lambda conn: queries.count_jobs(conn, filters=filters))
    assert plans
    for plan in plans:
        for node in nodes(plan[0]["Plan"]):
            if node.get("Relation Name") == "job":
                assert node["Node Type"] in {"Index Scan", "Index Only Scan"}, json.dumps(plan, indent=1)
                assert "created_at >=" in node["Index Cond"] and "created_at <" in node["Index Cond"]
    with big_database.read() as conn:
        counted = queries.count_jobs(conn, filters=filters)
        where, params = ["true"], {}
        if filters.statuses:
            where.append("current_status_type = ANY(:statuses)")
            params["statuses"] = list(filters.statuses)
        if filters.created_after:
            where.append("created_at >= :a AND created_at < :b")
            params |= {"a": filters.created_after, "b": filters.created_before}
        recount = conn.execute(text(f"SELECT count(*) FROM job WHERE {' AND '.join(where)}"), params)
        assert counted == queries.Count(recount.scalar_one(), "exact")


def test_status_totals_at_scale_are_exact_from_count_rows(big_database):
    plans = captured_plans(big_database, queries.status_totals)
    assert all(
        node.get("Relation Name") in {None, "job_count_total"}
        for plan in plans
        for node in nodes(plan[0]["Plan"])
    )
    with big_database.read() as conn:
        totals = queries.status_totals(conn)
    assert totals.exact and totals.total == SEEDED_JOBS


def test_history_is_an_index_scan_on_job_status(big_database):
    job_id = SEEDED_JOBS // 2
    with big_database.read() as conn:
        page = queries.job_history(conn, job_id=job_id, page_size=2)
    first = captured_plans(big_database, lambda conn: queries.job_history(conn, job_id=job_id, page_size=2))
    assert_index_only_access(first[-1:], "job_status")
    deep = captured_plans(
        big_database,
        lambda conn: queries.job_history(conn, job_id=job_id, page_size=2, cursor=page.next_cursor),
    )
    assert_index_only_access(deep[-1:], "job_status")


# Name search (db/search.py): whatever the term, a page is one ordered walk of the ordering's index, stopped
# by a LIMIT of the budget + 1 entries; never a trigram bitmap scan (which reads a whole posting list), a
# Sort or a Seq Scan. One term per class the strategy names.
SEARCH_TERMS = {
    "common": "etl",
    "rare-clustered-old": "ranker-42",  # ids 42, 420…, 42000…: old jobs, far along -created_at
    "far-end-of-name": "train-ranker",  # sorts last by name
    "far-end-of-minus-name": "backup",  # sorts last by -name
    "one-char": "e",
    "two-chars": "-4",
    "no-match": "zzz-nothing",
    "non-ascii": "é",
    "wildcards": "%_\\",
}
SEARCH_FILTERS = [(), ("FAILED",), ("RUNNING", "CANCELLED")]


def analyzed_plans(database, call):
    """Like captured_plans, but EXPLAIN ANALYZE (what each statement really read), replayed in one
    transaction with the planner settings the call made (SET LOCAL) in the order it made them."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SET LOCAL") or (not statement.startswith("EXPLAIN") and " job" in statement):
            statements.append((statement, parameters))

    event.listen(database.reader, "before_cursor_execute", capture)
    try:
        with database.read() as conn:
            result = call(conn)
    finally:
        event.remove(database.reader, "before_cursor_execute", capture)
    plans = []
    with database.reader.connect() as conn, conn.begin():
        for statement, parameters in statements:
            if statement.startswith("SET LOCAL"):
                conn.exec_driver_sql(statement)
                continue
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
            ).scalar_one()
            plans.append(plan if isinstance(plan, list) else json.loads(plan))
    return result, plans


def assert_bounded_walk(plans, budget):
    """Every statement reads ``job`` only by ordered index scans under a LIMIT, and reads at most the
    budget + 1 entries (per status branch) in all."""
    assert plans, "no statement was captured"
    for plan in plans:
        every = list(nodes(plan[0]["Plan"]))
        kinds = [n["Node Type"] for n in every]
        dump = json.dumps(plan, indent=1)
        assert not {"Sort", "Incremental Sort", "Seq Scan", "Bitmap Heap Scan", "Bitmap Index Scan"} & set(
            kinds
        ), dump
        scans = [n for n in every if n.get("Relation Name") == "job"]
        assert scans and all(n["Node Type"] in {"Index Scan", "Index Only Scan"} for n in scans), dump
        assert all("trgm" not in n.get("Index Name", "") for n in scans), dump
        read = sum(n["Actual Rows"] * n["Actual Loops"] for n in scans)
        assert read <= (budget + 1) * len(scans), dump


@pytest.mark.parametrize("statuses", SEARCH_FILTERS, ids=lambda s: "+".join(s) or "all")
@pytest.mark.parametrize("term_class", SEARCH_TERMS)
def test_every_search_page_is_a_bounded_ordered_walk(big_database, term_class, statuses):
    from db import search

    filters = JobFilter.build(q=SEARCH_TERMS[term_class], statuses=statuses)
    budget = search.BUDGET_PER_ROW * queries.DEFAULT_PAGE_SIZE
    for ordering in queries.ORDERINGS:
        for cursor in (None, deep_cursor(big_database, filters, ordering)):
            page, plans = analyzed_plans(
                big_database,
                lambda conn, o=ordering, c=cursor: queries.list_jobs(
                    conn, filters=filters, ordering=o, cursor=c
                ),
            )
            assert_bounded_walk(plans, budget)
            assert page.partial or len(page.results) == queries.DEFAULT_PAGE_SIZE or page.next_cursor is None


@pytest.mark.parametrize("term_class", SEARCH_TERMS)
def test_search_counts_read_at_most_their_budget(big_database, term_class):
    from db import search

    filters = JobFilter.build(q=SEARCH_TERMS[term_class])
    count, plans = analyzed_plans(big_database, lambda conn: queries.count_jobs(conn, filters=filters))
    assert_bounded_walk(plans, search.COUNT_BUDGET)
    assert count.kind in ("exact", "at_least")


def test_search_classes_get_the_pages_the_strategy_promises(big_database):
    from db import search

    with big_database.read() as conn:
        common = queries.list_jobs(conn, filters=JobFilter.build(q="etl"))
        none = queries.list_jobs(conn, filters=JobFilter.build(q="zzz-nothing"))
        far = queries.list_jobs(conn, filters=JobFilter.build(q="train-ranker"), ordering="name")
    budget = search.BUDGET_PER_ROW * queries.DEFAULT_PAGE_SIZE
    # A common term fills its first page within the budget; no match and the far end of the ordering
    # read the budget and say so, with a cursor that continues.
    assert not common.partial and len(common.results) == queries.DEFAULT_PAGE_SIZE
    assert none.partial and none.results == [] and none.scanned == budget and none.next_cursor
    assert far.partial and far.results == [] and far.through["key"] == "name" and far.next_cursor
