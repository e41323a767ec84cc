"""Every list the API or dashboard can ask for is an ordered index scan on PostgreSQL at scale.

About 200k seeded jobs, ANALYZEd; each status filter alone and combined, times each ordering, times the
first page and a deep cursor page, must plan an index scan on ``job`` with no Sort node and no Seq Scan.
Each filter alone and each pair of filters, times each ordering, first and deep page, must read ``job``
by ordered index scans only, each reading (rows kept plus rows filtered out) at most a page or a walk's
budget; their counts read at most their budgets.
"""

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import event, text

from db import cursor as cursors
from db import migrate, queries
from db.engine import Database
from db.models import STATUSES, UNFINISHED_LAST_ASC, UNFINISHED_LAST_DESC
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


def explained(database, call, *, analyze=False):
    """Run ``call(conn)``; return what it returned and the plans of every statement it sent that reads
    ``job`` or ``job_status`` (EXPLAIN, or with ``analyze`` EXPLAIN ANALYZE: what each really read),
    replayed in one transaction with the planner settings it made (SET / RESET) in the order it made them."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith(("SET ", "RESET ")) or (
            not statement.startswith("EXPLAIN") and " job" in statement
        ):
            statements.append((statement, parameters))

    event.listen(database.reader, "before_cursor_execute", capture)
    try:
        with database.read() as conn:
            result = call(conn)
    finally:
        event.remove(database.reader, "before_cursor_execute", capture)
    explain = "EXPLAIN (ANALYZE, FORMAT JSON) " if analyze else "EXPLAIN (FORMAT JSON) "
    plans = []
    with database.reader.connect() as conn, conn.begin():
        for statement, parameters in statements:
            if statement.startswith(("SET ", "RESET ")):
                conn.exec_driver_sql(statement)
                continue
            plan = conn.exec_driver_sql(explain + statement, parameters).scalar_one()
            plans.append(plan if isinstance(plan, list) else json.loads(plan))
    return result, plans


def captured_plans(database, call):
    """The plans of what ``call(conn)`` sent (see explained)."""
    return explained(database, call)[1]


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
    """A cursor about halfway through the list of the statuses and family of ``filters`` (found by SQL
    once, so the test need not walk there); a position, whatever the other filters."""
    key, desc = ordering.lstrip("-"), ordering.startswith("-")
    conditions = []
    if filters.statuses:
        conditions.append("current_status_type IN (" + ", ".join(f"'{s}'" for s in filters.statuses) + ")")
    if filters.family:
        conditions.append(f"family = '{filters.family}'")
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    direction = "DESC" if desc else "ASC"
    column, sort_key = key, key
    if key == "duration":
        column, sort_key = (
            "duration_s",
            f"coalesce(duration_s, {UNFINISHED_LAST_DESC if desc else UNFINISHED_LAST_ASC})",
        )
    with database.reader.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM job {where}")).scalar_one()
        order = f"ORDER BY {sort_key} {direction}, id {direction}"
        row = conn.execute(
            text(f"SELECT {column}, id FROM job {where} {order} OFFSET :n LIMIT 1"), {"n": count // 2}
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


FAMILY_FILTERS = [(), ("FAILED",), ("RUNNING", "CANCELLED"), ("PENDING", "RUNNING", "COMPLETED")]


@pytest.mark.parametrize("statuses", FAMILY_FILTERS, ids=lambda s: "+".join(s) or "all")
def test_every_family_list_is_an_ordered_index_scan(big_database, statuses):
    """A family alone is read as one ordered branch per status of its (family, status, key, id) index,
    merged; with statuses, one branch per chosen status."""
    filters = JobFilter.build(statuses=statuses, family="train-ranker")
    for ordering in queries.ORDERINGS:
        for cursor in (None, deep_cursor(big_database, filters, ordering)):
            plans = captured_plans(
                big_database,
                lambda conn, o=ordering, c=cursor: queries.list_jobs(
                    conn, filters=filters, ordering=o, cursor=c
                ),
            )
            assert_index_only_access(plans, "job")
            for plan in plans:
                used = [n["Index Name"] for n in nodes(plan[0]["Plan"]) if n.get("Relation Name") == "job"]
                assert all(name.startswith("ix_job_family_") for name in used), (ordering, cursor, used)


@pytest.mark.parametrize("created", [False, True], ids=["all-time", "created-range"])
def test_family_counts_read_count_rows_or_a_bounded_index_range(big_database, created):
    kwargs = {"family": "sync-crm", "statuses": ["COMPLETED", "FAILED"]}
    if created:
        kwargs.update(created_range(24 * 30, 0))
    filters = JobFilter.build(**kwargs)
    plans = captured_plans(big_database, lambda conn: queries.count_jobs(conn, filters=filters))
    assert plans
    for plan in plans:
        every = list(nodes(plan[0]["Plan"]))
        if not created:
            assert {n.get("Relation Name") for n in every} <= {None, "job_count_family"}, plan
            continue
        under_limit = False
        for node in every:
            under_limit = under_limit or node["Node Type"] == "Limit"
            if node.get("Relation Name") == "job":
                assert under_limit and node["Node Type"] in {"Index Scan", "Index Only Scan"}, plan
                assert node["Index Name"] == "ix_job_family_current_status_type_created_at_id", plan
    with big_database.read() as conn:
        counted = queries.count_jobs(conn, filters=filters)
        where = "family = 'sync-crm' AND current_status_type IN ('COMPLETED', 'FAILED')"
        params = {}
        if created:
            where += " AND created_at >= :a AND created_at < :b"
            params = {"a": filters.created_after, "b": filters.created_before}
        exact = conn.execute(text(f"SELECT count(*) FROM job WHERE {where}"), params).scalar_one()
    if counted.exact:
        assert counted.value == exact
    else:
        assert counted.kind == "at_least" and counted.value < exact


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
    """What ``call(conn)`` returned, and what each statement it sent really read (see explained)."""
    return explained(database, call, analyze=True)


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


# Insight reads (db/insights.py) sum rows of the history aggregates; they never read the job or event
# tables, and they read the tables that grow with time by index ranges only.
TIME_TABLES = {
    "job_mix_hour",
    "job_mix_day",
    "job_transition_hour",
    "job_transition_day",
    "job_state_time_day",
    "job_state_time_week",
}


def insight_reads():
    from db import insights

    now = dt.datetime.now(dt.UTC)
    return {
        "as-of 200 days ago": lambda conn: insights.status_mix_as_of(
            conn, now - dt.timedelta(days=200, hours=5)
        ),
        "as-of 3 hours ago": lambda conn: insights.status_mix_as_of(conn, now - dt.timedelta(hours=3)),
        "transitions 30 days": lambda conn: insights.transition_counts(
            conn, since=now - dt.timedelta(days=30), until=now
        ),
        "transitions of a family": lambda conn: insights.transition_counts(
            conn, since=now - dt.timedelta(days=30), until=now, family="etl-orders"
        ),
        "time in state 30 days": lambda conn: insights.time_in_state(
            conn, since=now - dt.timedelta(days=30), until=now
        ),
        "stuck thresholds": lambda conn: insights.stuck_thresholds(conn, now=now),
    }


@pytest.mark.parametrize("read", list(insight_reads()))
def test_insight_reads_read_aggregate_rows_only(big_database, read):
    plans = captured_plans(big_database, insight_reads()[read])
    assert plans
    for plan in plans:
        for node in nodes(plan[0]["Plan"]):
            relation = node.get("Relation Name")
            assert relation not in {"job", "job_status"}, json.dumps(plan, indent=1)
            if relation in TIME_TABLES:
                assert node["Node Type"] != "Seq Scan", json.dumps(plan, indent=1)


def test_a_stuck_page_walks_only_stuck_jobs_by_index(big_database):
    from db import insights

    with big_database.read() as conn:
        first = insights.stuck_jobs(conn, page_size=20, max_page_size=200)
    assert len(first.results) == 20 and first.next_cursor
    for cursor in (None, first.next_cursor):
        _page, plans = analyzed_plans(
            big_database,
            lambda conn, c=cursor: insights.stuck_jobs(conn, page_size=20, max_page_size=200, cursor=c),
        )
        stuck_plan = plans[-1]
        scans = [n for n in nodes(stuck_plan[0]["Plan"]) if n.get("Relation Name") == "job"]
        walks = [n for n in scans if n["Index Name"] == "ix_job_family_current_status_type_status_since_id"]
        assert walks, json.dumps(stuck_plan, indent=1)
        for walk in walks:
            # Each (family, status) walk reads at most the page and one more row.
            assert walk["Actual Rows"] <= 21
        # Then the merged page's own jobs, and only those, are read by id.
        (fetch,) = [n for n in scans if n not in walks]
        assert fetch["Index Name"] == "pk_job"
        assert fetch["Actual Rows"] * fetch["Actual Loops"] <= 21
    with big_database.read() as conn:
        second = insights.stuck_jobs(conn, page_size=20, max_page_size=200, cursor=first.next_cursor)
    assert not {r["id"] for r in first.results} & {r["id"] for r in second.results}
    deadlines = [r["deadline"] for r in first.results + second.results]
    assert deadlines == sorted(deadlines)


# Each filter, with a value that is selective at 200k jobs; the ranges are on the seeded data's spans
# (created over 180 days; durations around ten minutes, a long tail).
def filter_values():
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "statuses": {"statuses": ["FAILED", "CANCELLED"]},
        "q": {"q": "ranker-42"},
        "created": {
            "created_after": now - dt.timedelta(days=40),
            "created_before": now - dt.timedelta(days=30),
        },
        "updated": {
            "updated_after": now - dt.timedelta(days=100),
            "updated_before": now - dt.timedelta(days=95),
        },
        "duration": {"min_duration": 1800, "max_duration": 7200},
        "family": {"family": "train-ranker"},
    }


FILTER_NAMES = ["statuses", "q", "created", "updated", "duration", "family"]
FILTER_SETS = [(name,) for name in FILTER_NAMES] + list(itertools.combinations(FILTER_NAMES, 2))


def assert_bounded_reads(plans, budget):
    """No Sort, no Seq Scan, no bitmap scan on ``job``; each ``job`` scan is an index scan reading (kept
    plus filtered out) at most ``budget`` + 1 entries: no filter walk over an unbounded range."""
    assert plans, "no statement was captured"
    for plan in plans:
        every = list(nodes(plan[0]["Plan"]))
        dump = json.dumps(plan, indent=1)
        kinds = {n["Node Type"] for n in every}
        assert not {"Sort", "Incremental Sort", "Seq Scan", "Bitmap Heap Scan"} & kinds, dump
        for node in every:
            if node.get("Relation Name") != "job":
                continue
            assert node["Node Type"] in {"Index Scan", "Index Only Scan"}, dump
            read = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
            assert read <= budget + 1, dump


@pytest.mark.parametrize("names", FILTER_SETS, ids=lambda n: "+".join(n))
def test_every_filter_and_pair_of_filters_reads_a_bounded_range_in_every_ordering(big_database, names):
    from db import search

    values = filter_values()
    kwargs = {k: v for name in names for k, v in values[name].items()}
    filters = JobFilter.build(**kwargs)
    budget = search.BUDGET_PER_ROW * queries.DEFAULT_PAGE_SIZE
    for ordering in queries.ORDERINGS:
        for cursor in (None, deep_cursor(big_database, filters, ordering)):
            page, plans = analyzed_plans(
                big_database,
                lambda conn, o=ordering, c=cursor: queries.list_jobs(
                    conn, filters=filters, ordering=o, cursor=c
                ),
            )
            walked = filters.walks(queries._ordering(ordering)[0])
            assert_bounded_reads(plans, budget if walked else queries.DEFAULT_PAGE_SIZE)
            assert (
                getattr(page, "partial", False)
                or len(page.results) == queries.DEFAULT_PAGE_SIZE
                or (page.next_cursor is None)
            )
    count, plans = analyzed_plans(big_database, lambda conn: queries.count_jobs(conn, filters=filters))
    if plans:  # the count tables alone (statuses, created range) read no job row
        job_read = [p for p in plans if any(n.get("Relation Name") == "job" for n in nodes(p[0]["Plan"]))]
        for plan in job_read:
            assert_bounded_reads([plan], max(search.COUNT_BUDGET, queries.FAMILY_COUNT_BUDGET))
    assert count.kind in ("exact", "at_least")
