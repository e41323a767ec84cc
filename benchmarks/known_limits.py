"""The known limits at size: a range filter on another column than the ordering's, page by page.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/known_limits.py                  # jobdash_bench_1m and jobdash_bench_10m
    python benchmarks/known_limits.py --sizes 10m --runs 5
    python benchmarks/known_limits.py --ci             # 2k jobs, one run; no docs written

A list whose range filter is on another column than its ordering's (``min_duration`` while sorted by
name, say) cannot read that range from an index: it walks the ordering's index and tests the range row
by row, at most ``db.search.BUDGET_PER_ROW`` index entries per row of the page, and answers a *partial*
page when the range is rare there; its count is exact up to ``db.search.COUNT_BUDGET`` jobs read. README's
"Known limits" quotes what that costs. For every range filter below and every ordering that walks for it,
this times, in the app's own code on the shared database (only read): the first page with its count
(``list_and_count_jobs``, what a list view reads) and the tenth page (following ``next``), the median of
``--runs`` each, with how many rows the page held and the count's kind. Results: the ``known-limits``
section of ``docs/performance.md`` and ``docs/known_limits.json``. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import sections

from db.engine import Database
from db.queries import ORDERINGS, JobFilter, _ordering, list_and_count_jobs, list_jobs

PAGE_SIZE = 50
DEEP_PAGE = 10


def ranges(now: dt.datetime) -> dict[str, JobFilter]:
    """The range filters measured: a 5-day window a month back on each time column, and duration bounds
    from rare to common (seeded durations run from a few minutes to about two hours)."""
    window = {"after": now - dt.timedelta(days=35), "before": now - dt.timedelta(days=30)}
    return {
        "created in 5 days, a month back": JobFilter.build(
            created_after=window["after"], created_before=window["before"]
        ),
        "updated in 5 days, a month back": JobFilter.build(
            updated_after=window["after"], updated_before=window["before"]
        ),
        "min_duration=7000 (about 1 in 1,000)": JobFilter.build(min_duration=7_000),
        "max_duration=300 (about 1 in 100)": JobFilter.build(max_duration=300),
        "max_duration=1600 (about half)": JobFilter.build(max_duration=1_600),
    }


def timed(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median milliseconds of ``runs`` calls, and the last call's answer."""
    times, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


def measure(database: Database, filters: JobFilter, ordering: str, runs: int) -> dict[str, Any]:
    """First page and count, then the tenth page, of ``filters`` in ``ordering``."""
    with database.read() as conn:
        first_ms, (page, count) = timed(
            lambda: list_and_count_jobs(conn, filters=filters, ordering=ordering, page_size=PAGE_SIZE), runs
        )
        cursor, reached = page.next_cursor, 1
        while cursor is not None and reached < DEEP_PAGE - 1:
            cursor = list_jobs(
                conn, filters=filters, ordering=ordering, page_size=PAGE_SIZE, cursor=cursor
            ).next_cursor
            reached += 1
        deep: dict[str, Any] = {"reached": reached + 1 if cursor is not None else reached}
        if cursor is not None:
            deep_ms, deep_page = timed(
                lambda: list_jobs(
                    conn, filters=filters, ordering=ordering, page_size=PAGE_SIZE, cursor=cursor
                ),
                runs,
            )
            deep.update(ms=round(deep_ms, 1), rows=len(deep_page.results))
    return {
        "first_ms": round(first_ms, 1),
        "rows": len(page.results),
        "partial": bool(getattr(page, "partial", False)),
        "count": {"value": count.value, "kind": count.kind},
        "deep": deep,
    }


def run(sizes: list[str], runs: int, log: Callable[[str], None], *, ci: bool) -> dict[str, Any]:
    """Every walking (range, ordering) pair at each size."""
    out: dict[str, Any] = {}
    for size in sizes:
        url = benchdb.ready_database(size, ci, log)
        state = benchdb.describe(url) or {}
        if not state.get("jobs"):
            raise SystemExit(f"{url.rsplit('/', 1)[-1]} is empty: seed it first")
        database = Database.connect(url)
        now = dt.datetime.now(dt.UTC)
        entry: dict[str, Any] = {"jobs": state["jobs"], "cases": []}
        try:
            for label, filters in ranges(now).items():
                for ordering in ORDERINGS:
                    if not filters.walks(_ordering(ordering)[0]):
                        continue
                    result = measure(database, filters, ordering, runs)
                    log(f"  {size} {label} by {ordering}: {result}")
                    entry["cases"].append({"range": label, "ordering": ordering, **result})
        finally:
            database.dispose()
        out[size] = entry
    return out


def markdown(results: dict[str, Any]) -> str:
    """The ``known-limits`` section."""
    lines = [
        "## Known limits: a range on another column than the ordering's (`benchmarks/known_limits.py`)",
        "",
        f"Command: `{results['command']}`  ",
        f"Run: {results['started']}; load average at start / end: {' / '.join(results['load'])}",
        "",
        f"In the app's own code on the shared database, one connection; median of {results['runs']} runs. "
        f"First page ({PAGE_SIZE} rows asked) with its count, as a list view reads them; then page "
        f"{DEEP_PAGE}, reached by following `next`. A page with fewer rows than asked and a `next` is "
        "partial: the walk's budget ran out in a stretch of the ordering where the range is rare.",
    ]
    for entry in results["sizes"].values():
        lines += [
            "",
            f"### {entry['jobs']:,} jobs",
            "",
            f"| range | ordering | first page + count ms | rows | count | page {DEEP_PAGE} ms | rows |",
            "|---|---|---|---|---|---|---|",
        ]
        for case in entry["cases"]:
            count = case["count"]
            shown = {"exact": "{:,}", "at_least": "> {:,}", "estimate": "~{:,}"}[count["kind"]].format(
                count["value"]
            )
            deep = case["deep"]
            pages = f"{deep['reached']} page{'s' if deep['reached'] != 1 else ''}"
            deep_ms = f"{deep['ms']:.1f}" if "ms" in deep else f"(only {pages})"
            partial = " (partial)" if case["partial"] else ""
            cells = [case["range"], f"`{case['ordering']}`", f"{case['first_ms']:.1f}"]
            cells += [f"{case['rows']}{partial}", shown, deep_ms, str(deep.get("rows", ""))]
            lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and (unless --ci) write docs/performance.md's section and docs/known_limits.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ci", action="store_true", help="2k jobs, one run; no docs written")
    args = parser.parse_args(argv)
    if args.ci:
        args.sizes, args.runs = "2k", 1
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    load = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    measured = run(sizes, args.runs, lambda message: print(message, flush=True), ci=args.ci)
    load.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    command = " ".join(["python benchmarks/known_limits.py", *(argv if argv is not None else sys.argv[1:])])
    results = {
        "command": command.strip(),
        "started": started,
        "load": load,
        "runs": args.runs,
        "sizes": measured,
    }
    text = markdown(results)
    print(text)
    sections.publish("known_limits", "known-limits", results, text, ci=args.ci)
    return 0


if __name__ == "__main__":
    sys.exit(main())
