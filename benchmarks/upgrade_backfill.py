"""A migration's backfill at size: ``jobdash db upgrade`` from the revision before it, as an operator runs it.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/upgrade_backfill.py                       # 0003 -> 0004 (duration) at 10M
    python benchmarks/upgrade_backfill.py --size 1m --from 0003
    python benchmarks/upgrade_backfill.py --ci                  # 2k jobs; no docs written

The shared ``jobdash_bench_<size>`` is only read: a copy of it (``CREATE DATABASE ... TEMPLATE``) is
taken down to ``--from`` with the migrations' own downgrade (which drops what the newer revisions added;
the rows keep their other columns), then brought back to the newest revision with ``jobdash db upgrade``,
timed. Reported with the load average, since the machine is shared: the upgrade's wall time; whether
every index of ``job`` is valid and usable by every transaction (``pg_index.indisvalid`` and not
``indcheckxmin``); and the plan of the first page of ``ordering=-duration`` right after the upgrade, on
a connection that was open across it, which must read an index, not sort the table. Then the copy is
dropped. Results: the ``upgrades`` section of ``docs/performance.md`` and ``docs/upgrade_backfill.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import psycopg
import sections
from insights import drop, template_copy
from sqlalchemy import make_url

from db import migrate
from db.engine import Database
from db.queries import list_jobs


def copy_at(size: str, revision: str, log: Any, *, ci: bool) -> str:
    """A fresh copy of the shared database of ``size``, taken down to ``revision``; its URL."""
    source = benchdb.ready_database(size, ci, log)
    name = f"{make_url(source).database}_upgrade"
    url = make_url(source).set(database=name).render_as_string(hide_password=False)
    drop(name)
    log(f"  copying {make_url(source).database} to {name} ...")
    template_copy(make_url(source).database, name, log)
    database = Database.connect(url, statement_timeout_ms=0, parallel_query=True)
    try:
        log(f"  downgrading {name} to {revision} ...")
        migrate.downgrade(database.writer, revision)
    finally:
        database.dispose()
    benchdb.vacuum(url)
    return url


def index_state(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every index of ``job``: valid, and usable by transactions older than it?"""
    rows = conn.execute(
        "SELECT c.relname, i.indisvalid, i.indcheckxmin FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'job'::regclass ORDER BY 1"
    ).fetchall()
    return [{"index": name, "valid": valid, "checkxmin": checkxmin} for name, valid, checkxmin in rows]


def measure(size: str, revision: str, log: Any, *, ci: bool) -> dict[str, Any]:
    """Downgrade a copy, then time the upgrade; the indexes and a duration page's plan after it."""
    url = copy_at(size, revision, log, ci=ci)
    name = make_url(url).database
    try:
        jobs = (benchdb.describe(url) or {}).get("jobs")
        # A pooled connection of a running server, open across the upgrade (outside a transaction).
        server = Database.connect(url)
        with server.read() as conn:
            conn.exec_driver_sql("SELECT id FROM job ORDER BY id LIMIT 1").all()  # this code reads head only
        load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
        log(f"  upgrading {name} ({jobs:,} jobs) from {revision} ...")
        started = time.perf_counter()
        benchdb._cli(url, "db", "upgrade", timeout=benchdb.SEED_TIMEOUT_S)
        seconds = round(time.perf_counter() - started, 1)
        log(f"  upgraded in {seconds} s")
        with psycopg.connect(benchdb.libpq_url(url), autocommit=True) as conn:
            indexes = index_state(conn)
        captured = benchdb.capture_statements(server, lambda c: list_jobs(c, ordering="-duration"))
        page = next(s for s in captured if s.sql.lstrip().upper().startswith("SELECT"))
        with server.reader.connect() as conn:
            plan = "\n".join(conn.exec_driver_sql("EXPLAIN " + page.sql, page.params).scalars())
        server.dispose()
        return {
            "database": name,
            "size": size,
            "jobs": jobs,
            "from": revision,
            "to": benchdb.head_revision(),
            "seconds": seconds,
            "load": [load_before, " ".join(f"{x:.2f}" for x in os.getloadavg())],
            "indexes": indexes,
            "duration_page_plan": plan,
            "duration_page_sorts": " Sort " in f" {plan} " or "Seq Scan" in plan,
        }
    finally:
        drop(name)


def markdown(results: dict[str, Any]) -> str:
    """The ``upgrades`` section."""
    r = results["result"]
    waiting = [i["index"] for i in r["indexes"] if i["checkxmin"] or not i["valid"]]
    return "\n".join(
        [
            "## A migration's backfill at size (`benchmarks/upgrade_backfill.py`)",
            "",
            f"Command: `{results['command']}`  ",
            f"Run: {results['started']}; load average before / after: {' / '.join(r['load'])}",
            "",
            f"`jobdash db upgrade` of a copy of `jobdash_bench_{r['size']}` ({r['jobs']:,} jobs) from "
            f"`{r['from']}` to `{r['to']}`: **{r['seconds']} s**.",
            "",
            f"Afterwards {len(r['indexes'])} indexes on `job`, "
            + (
                "every one valid and usable by every transaction (none `indcheckxmin`)"
                if not waiting
                else f"not yet usable by older transactions: {', '.join(waiting)}"
            )
            + "; the first page of `ordering=-duration`, planned on a pooled connection that was open across "
            + (
                "the upgrade, sorts the table."
                if r["duration_page_sorts"]
                else "the upgrade, reads an index:"
            ),
            "",
            "```",
            r["duration_page_plan"],
            "```",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and (unless --ci) write docs/performance.md's section and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10m")
    parser.add_argument("--from", dest="revision", default="0003", help="the revision to upgrade from")
    parser.add_argument("--ci", action="store_true", help="2k jobs; no docs written")
    args = parser.parse_args(argv)
    if args.ci:
        args.size = "2k"
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result = measure(args.size, args.revision, lambda message: print(message, flush=True), ci=args.ci)
    command = " ".join(
        ["python benchmarks/upgrade_backfill.py", *(argv if argv is not None else sys.argv[1:])]
    )
    results = {"command": command.strip(), "started": started, "result": result}
    text = markdown(results)
    print(text)
    sections.publish("upgrade_backfill", "upgrades", results, text, ci=args.ci)
    return 0


if __name__ == "__main__":
    sys.exit(main())
