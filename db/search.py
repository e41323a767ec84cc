"""Name search (``q``) with bounded cost: an ordered walk of the list's own index with a budget.

The planner cannot estimate a substring's selectivity, and a trigram bitmap scan reads a term's whole
posting list before any LIMIT applies, so neither decides the plan here. Instead every ``q`` page
walks the ordering's btree index (the same ordered scan an unfiltered page uses, statuses and created
range included) from the cursor, reads at most ``BUDGET_PER_ROW`` index entries per row of the page,
and keeps the names that match. A page never reads more than that, whatever the term and table size:

- a common term fills the page after a few hundred entries (exact page, ordinary cursor);
- a rare term, a term whose matches sit far along the ordering, a one-character term or a term with
  no match at all stops at the budget: the page is *partial*, holds every match in the entries it
  read, says how many it read and where it stopped, and its ``next`` (or ``previous``) cursor
  continues the walk right after that point. Walking the continuations visits every match once, in
  order.

See docs/search.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, literal, or_, select, true

from db import cursor as cursors
from db import queries, validation
from db.queries import Count, JobFilter, Page

# Index entries a page may read, per row it holds: a term matching 1 % of the jobs fills a page (5,000
# entries for the default 50 rows, 20,000 for the largest, 200). The count reads COUNT_BUDGET entries,
# as many as the exact-count cap of the other filters.
BUDGET_PER_ROW = 100
COUNT_BUDGET = 1_000


@dataclass(frozen=True)
class SearchPage(Page):
    """A page of a name search; ``partial`` when the budget ran out before the page filled."""

    partial: bool = False
    # Index entries this page read, and the last one (its sort key and id) when the page is partial.
    scanned: int = 0
    through: dict[str, Any] | None = None


def _contains(name: ColumnElement[str], q: str) -> ColumnElement[bool]:
    """``name ILIKE '%q%'`` (``q`` literal), spelt ``lower(name) LIKE lower('%q%')``: the same test (on a
    multibyte database PostgreSQL's ILIKE lowers both sides itself, and SQLite's ILIKE is this), but a
    third of the cost per row on PostgreSQL, and the walk runs it on every entry it reads."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(name).like(func.lower(literal(f"%{escaped}%")), escape="\\")


@functools.lru_cache(maxsize=1024)
def _walk_statement(
    filters: JobFilter,
    key_name: str,
    split: bool,
    descending: bool,
    with_cursor: bool,
    budget: int,
    limit: int,
    family_order: bool = False,
) -> Select[Any]:
    """At most ``budget`` rows of the list without its row-by-row filters (``q``, ranges of other
    columns than the ordering's), in order; of those, the matches, plus the first and the last row read
    (``rn`` 1 and ``budget``) and the row after (``budget`` + 1, only looked at to know whether the list
    goes on), so the caller knows where the walk ended."""
    unfiltered = filters.aligned(key_name)
    # One row past the budget tells a walk that stopped at the budget from one that reached the end.
    window = queries._jobs_page_statement(
        unfiltered, key_name, split, descending, with_cursor, budget + 1, family_order=family_order
    ).subquery()
    label = queries.key_label(key_name)
    # Ordered by family first too when the window is (see queries._jobs_page_statement): no Sort.
    lead = [window.c.family.desc() if descending else window.c.family.asc()] if family_order else []
    order = [*lead, *queries._order(window.c[label], window.c.id, descending)]
    numbered = select(
        window,
        func.row_number().over(order_by=order).label("rn"),
        _hit(window, filters).label("hit"),
    ).subquery()
    keep = or_(numbered.c.hit, numbered.c.rn.in_((1, budget, budget + 1)))
    outer_lead = [numbered.c.family.desc() if descending else numbered.c.family.asc()] if family_order else []
    outer_order = [*outer_lead, *queries._order(numbered.c[label], numbered.c.id, descending)]
    return select(numbered).where(keep).order_by(*outer_order).limit(limit)


def _hit(window: Any, filters: JobFilter) -> ColumnElement[bool]:
    """Whether a row of ``window`` passes the filters tested row by row (any that ``window`` already
    applied as its index range pass again, harmlessly)."""
    conds = filters.range_conditions(window.c.created_at, window.c.updated_at, window.c.duration)
    if filters.q:
        conds.append(_contains(window.c.name, filters.q))
    return and_(true(), *conds)


# The walk must be the ordered index scan even where the planner would rather read a small status whole
# and sort it (a bitmap scan of every row before the cursor): that cost grows with the table.
_ordered_walk = queries.ordered_only


def list_matches(
    conn: Connection,
    *,
    filters: JobFilter,
    ordering: str,
    page_size: int,
    max_page_size: int,
    cursor: str | None,
    budget: int | None = None,
) -> SearchPage:
    """One page of jobs whose name contains ``filters.q``, reading at most ``budget`` index entries."""
    key_name, descending = queries._ordering(ordering)
    page_size = validation.page_size(page_size, maximum=max_page_size)
    budget = budget if budget is not None else BUDGET_PER_ROW * page_size
    scope = cursors.fingerprint("jobs", ordering, filters)
    key_type = queries._key_type(key_name)
    position = cursors.decode(cursor, scope=scope, key_type=key_type) if cursor is not None else None
    backwards = position is not None and position.direction == "prev"
    split = filters.split(conn)
    # At most page_size + 1 matches, plus the first and the last row read and the one after.
    # A family is read from its own indexes only, as for a list without walk (queries._jobs_page_statement).
    family_order = filters.family is not None and conn.dialect.name == "postgresql"
    stmt = _walk_statement(
        filters,
        key_name,
        split,
        descending != backwards,
        position is not None,
        budget,
        page_size + 4,
        family_order,
    )
    params = {}
    if position is not None:
        params = {"cursor_key": queries.bind_key(key_name, position.key), "cursor_id": position.id}
    with _ordered_walk(conn):
        result = conn.execute(stmt, params)
        rows = result.all()
    columns = list(result.keys())
    names = [n for n in columns if n not in ("rn", "hit", queries.SORT_KEY)]
    hits: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    last: dict[str, Any] | None = None  # the row read at the budget, if the walk got that far
    goes_on = False  # the list has rows past the budget
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        job = {n: values[n] for n in names}
        if values["rn"] == budget + 1:
            goes_on = True
            break
        if values["rn"] == 1:
            first = job
        if values["rn"] == budget:
            last = job
        if values["hit"]:
            hits.append(job)
            if len(hits) > page_size:
                last = None  # the page filled before the budget ran out
                break
    more = len(hits) > page_size
    del hits[page_size:]
    partial = not more and goes_on and last is not None
    scanned = budget if partial else 0
    if backwards:
        hits.reverse()

    def token(direction: cursors.Direction, row: dict[str, Any]) -> str:
        return cursors.encode(
            cursors.Cursor(direction, row[queries.row_key(key_name)], row["id"]), scope=scope
        )

    # Walking on: after the last match when the page filled, after the last row read when partial.
    onward = token("prev" if backwards else "next", last) if partial and last else None
    if more:
        onward = token("prev", hits[0]) if backwards else token("next", hits[-1])
    # Walking back: before the first match, or (no match on this page) before the first row read.
    back: str | None = None
    if position is not None:
        if hits:
            back = token("next", hits[-1]) if backwards else token("prev", hits[0])
        elif first is not None:
            back = token("next" if backwards else "prev", first)
    through = None
    if partial and last is not None:
        key = queries.row_key(key_name)
        through = {"key": key, "value": last[key], "id": last["id"]}
    return SearchPage(
        results=hits,
        next_cursor=back if backwards else onward,
        previous_cursor=onward if backwards else back,
        whole=position is None and not more and not partial,
        partial=partial,
        scanned=scanned if partial else 0,
        through=through,
    )


def _count_key(filters: JobFilter) -> str:
    """The ordering a count walks: the one whose index holds a range filter as a range (the updated
    range, else the duration range), else creation order."""
    ranges = filters.ranges()
    if ranges["updated"]:
        return "updated_at"
    return "duration" if ranges["duration"] else "created_at"


@functools.lru_cache(maxsize=1024)
def _count_statement(filters: JobFilter, split: bool, budget: int, family_order: bool) -> Select[int, int]:
    """Of the first ``budget`` jobs of the walked ordering (the list without its row-by-row filters):
    how many, how many match."""
    key = _count_key(filters)
    window = queries._jobs_page_statement(
        filters.aligned(key), key, split, False, False, budget, family_order=family_order
    ).subquery()
    return select(func.count(), func.count().filter(_hit(window, filters))).select_from(window)


def count_matches(
    conn: Connection, *, filters: JobFilter, page: Page | None = None, budget: int = COUNT_BUDGET
) -> Count:
    """How many jobs match ``filters`` (with ``q``), reading at most ``budget`` index entries.

    Exact when the first page held every match, or when the whole list (without ``q``) fits in the
    budget; otherwise a lower bound from the matches among the first ``budget`` jobs by creation time.
    """
    if page is not None and page.whole:
        return Count(len(page.results), "exact")
    split = filters.split(conn)
    with _ordered_walk(conn):
        family_order = filters.family is not None and conn.dialect.name == "postgresql"
        read, found = conn.execute(_count_statement(filters, split, budget, family_order)).one()
    if read < budget:
        return Count(int(found), "exact")
    # "more than found - 1"; with no match yet the count knows nothing beyond "not known to be any".
    return Count(max(int(found) - 1, 0), "at_least")
