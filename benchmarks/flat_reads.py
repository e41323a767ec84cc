"""Flat reads: totals, time series, the overview, list counts and name search, at 10k, 1M and 10M jobs.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/flat_reads.py                         # 10k, 1m, 10m; writers at 1m
    python benchmarks/flat_reads.py --sizes 10k,1m --writers-size 1m
    python benchmarks/flat_reads.py --ci                    # 2k jobs, a few requests; no docs written

Per size it reuses ``jobdash_bench_<size>`` (seeding it when missing; a database at an older revision is
brought up with ``jobdash db upgrade``, and the time that took, the count tables' backfill, is reported),
starts the real server (1 gunicorn worker, uncached) and times, with one keep-alive client, each of:

- the unfiltered first list page: the reference every target is a ratio to;
- ``/api/stats/``; ``/api/stats/timeseries/`` for each of the overview's ranges;
- the overview's callback for each range, posted to ``/_dash-update-component`` as the browser does
  (with the database part of its ``Server-Timing``);
- a list page with its count for each status filter (the count must say exact);
- name searches (``q``) of every class, in every ordering, first page and a deep page.

Beside each aggregate it runs the naive SQL the count tables replace (``GROUP BY`` over ``job``) on a
plain psycopg connection: the "before" column. Then, at ``--writers-size``, 8 concurrent writers over
HTTP against this checkout and against the release before the count tables (``git worktree`` of
``--baseline-rev``, on a template copy of the same database), in alternating rounds; the invariant and
the count tables are checked afterwards. Results: a section of ``docs/performance.md`` and
``docs/flat_reads.json``. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import psycopg
import sections
from client import HttpError, KeepAliveClient, Measurement, expect_ok, summarize
from phases import _writers
from servers import HOST, ROOT, PortPool, app_server, base_env, running
from sqlalchemy.engine import make_url

from db.models import STATUSES
from db.queries import ORDERINGS

# Name search terms by class (seeded names are `<family>-<id>`, e.g. `etl-orders-123`, `train-ranker-42`).
Q_TERMS = {
    "rare, old matches": "ranker-42",
    "common": "etl",
    "common (sync)": "sync",
    "far end of name order": "train-ranker",
    "far end of -name order": "backup",
    "one character": "e",
    "two characters": "-4",
    "no match": "zzz",
    "non-ASCII, no match": "é",
}
OVERVIEW_RANGES = ("24h", "7d", "30d", "90d", "1y")
DOCS = ROOT / "docs"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,1m,10m")
    parser.add_argument("--requests", type=int, default=100, help="measured requests per target")
    parser.add_argument("--q-requests", type=int, default=20, help="measured requests per name-search page")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--naive-requests", type=int, default=5, help="runs of each naive GROUP BY")
    parser.add_argument("--writers-size", default="1m", help="size for the writers comparison ('' skips it)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--writer-seconds", type=float, default=20.0, help="per round")
    parser.add_argument("--writer-rounds", type=int, default=2, help="alternating rounds per release")
    parser.add_argument("--baseline-rev", default=None, help="the release before the count tables")
    parser.add_argument("--ci", action="store_true", help="2k jobs, few requests, no docs written")
    args = parser.parse_args(argv)
    if args.ci:
        args.sizes, args.requests, args.q_requests, args.warmup = "2k", 10, 3, 2
        args.naive_requests, args.writers_size, args.writer_seconds, args.writer_rounds = 2, "2k", 3.0, 1
    return args


# ------------------------------------------------------------------------------------------ database


def ensure(size: str, log: Any) -> dict[str, Any]:
    """The benchmark database of ``size`` at the newest revision, upgraded in place when it is older."""
    return benchdb.ensure_database(size, benchdb.parse_size(size), fresh=False, log=log)


def naive_sql(
    url: str, statements: dict[str, tuple[str, list[Any]]], runs: int
) -> dict[str, dict[str, float]]:
    """p50/p95 of each naive statement, run ``runs`` times on a plain psycopg connection."""
    out = {}
    with psycopg.connect(benchdb.libpq_url(url), autocommit=True, options="-c timezone=UTC") as conn:
        for name, (sql, params) in statements.items():
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                conn.execute(sql, params).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = summarize(samples)
    return out


# ------------------------------------------------------------------------------------------ requests


def overview_payload(client: KeepAliveClient, range_key: str) -> bytes:
    """The overview callback's request body, built from the app's own ``/_dash-dependencies``."""
    dependencies = expect_ok(client.get("/_dash-dependencies"), "dependencies").json()
    for dependency in dependencies:
        outputs = dependency["output"].strip(".").split("...")
        if "overview-kpis.children" in outputs:
            break
    else:
        raise HttpError("no overview callback in /_dash-dependencies")
    values = {"overview-range.value": range_key, "overview-refresh.n_clicks": None}
    payload = {
        "output": dependency["output"],
        "outputs": [{"id": o.split(".")[0], "property": o.split(".", 1)[1]} for o in outputs],
        "inputs": [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dependency["inputs"]],
        "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dependency["state"]],
        "changedPropIds": ["overview-range.value"],
    }
    return json.dumps(payload).encode()


def timed(client: KeepAliveClient, send: Any, requests: int, warmup: int) -> dict[str, Any]:
    """Summary of ``requests`` timed calls of ``send(client)`` after ``warmup`` discarded ones."""
    measurement = Measurement()
    for _ in range(warmup):
        send(client)
    for _ in range(requests):
        measurement.add_response(send(client))
    return summary(measurement)


def summary(measurement: Measurement) -> dict[str, Any]:
    """``measurement``'s result, with the p95 of the database time the server reported when it did."""
    result = measurement.result()
    if measurement.server_db_ms:
        result["server_db_p95"] = summarize(measurement.server_db_ms)["p95"]
    return result


def get(path: str) -> Any:
    """A ``send`` that GETs ``path`` and insists on 200."""
    return lambda client: expect_ok(client.get(path), path)


def window(range_key: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, str]:
    """The overview's own window for a range button (from the page module: one definition)."""
    from dashboard.pages import overview

    return overview.time_window(range_key, now=now)


def deep_page(client: KeepAliveClient, path: str, hops: int = 10) -> str:
    """The page reached by following ``next`` up to ``hops`` times from ``path`` (itself if none)."""
    here = path
    for _ in range(hops):
        nxt = expect_ok(client.get(here), here).json().get("next")
        if not nxt:
            break
        here = nxt
    return here


def measure_size(
    size: str, args: argparse.Namespace, pool: PortPool, log_dir: Path, log: Any
) -> dict[str, Any]:
    """Every read target of one size, beside the naive SQL."""
    url = benchdb.database_url(size)
    out: dict[str, Any] = {"jobs": benchdb.parse_size(size), "database": ensure(size, log)}
    now = dt.datetime.now(dt.UTC)
    naive: dict[str, tuple[str, list[Any]]] = {
        "stats": ("SELECT current_status_type, count(*) FROM job GROUP BY 1", []),
    }
    for key in OVERVIEW_RANGES:
        since, until, bucket = window(key, now)
        naive[f"timeseries {key}"] = (
            "SELECT date_trunc(%s, created_at, 'UTC'), current_status_type, count(*) FROM job "
            "WHERE created_at >= %s AND created_at < %s GROUP BY 1, 2",
            [bucket, since, until],
        )
    for status in STATUSES:
        naive[f"count {status}"] = ("SELECT count(*) FROM job WHERE current_status_type = %s", [status])
    log("  naive SQL (before) ...")
    out["naive"] = naive_sql(url, naive, args.naive_requests)
    targets: dict[str, dict[str, Any]] = {}
    with running(pool, app_server, f"flat-{size}", base_env(url), log_dir) as server:
        client = KeepAliveClient(HOST, server.port)
        n, w = args.requests, args.warmup
        log("  list, stats, timeseries, overview, counts ...")
        targets["list"] = timed(client, get("/api/jobs/"), n, w)
        targets["stats"] = timed(client, get("/api/stats/"), n, w)
        for key in OVERVIEW_RANGES:
            since, until, bucket = window(key, now)
            query = urlencode({"bucket": bucket, "since": since.isoformat(), "until": until.isoformat()})
            targets[f"timeseries {key}"] = timed(client, get(f"/api/stats/timeseries/?{query}"), n, w)
            body = overview_payload(client, key)

            def post(c: KeepAliveClient, b: bytes = body) -> Any:
                headers = {"Content-Type": "application/json"}
                return expect_ok(c.request("POST", "/_dash-update-component", b, headers), "overview")

            targets[f"overview {key}"] = timed(client, post, max(n // 4, 3), w)
        for status in STATUSES:
            path = f"/api/jobs/?status={status}"
            page = expect_ok(client.get(path), path).json()
            if not page["count_exact"]:
                raise HttpError(f"{path}: count is not exact")
            targets[f"count {status}"] = {**timed(client, get(path), n, w), "count": page["count"]}
        log("  name search ...")
        for label, term in Q_TERMS.items():
            for ordering in ORDERINGS:
                first = "/api/jobs/?" + urlencode({"q": term, "ordering": ordering})
                deep = deep_page(client, first)
                for where, path in (("first", first), ("deep", deep)):
                    partial = bool(expect_ok(client.get(path), path).json().get("partial"))
                    targets[f"q {label} ({term}) {ordering} {where}"] = {
                        **timed(client, get(path), args.q_requests, 1),
                        "partial": partial,
                    }
        client.close()
    out["targets"] = targets
    return out


# ------------------------------------------------------------------------------------------- writers


@contextlib.contextmanager
def baseline_checkout(rev: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``rev`` in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="jobdash-baseline-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
            check=False,
            capture_output=True,
        )


def default_baseline() -> str:
    """The commit before the one that added the count tables' migration."""
    added = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "log",
            "--format=%H",
            "--diff-filter=A",
            "-1",
            "--",
            "migrations/versions/0002_job_counts.py",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not added:
        raise SystemExit("cannot find the commit that added the count tables; pass --baseline-rev")
    return f"{added}^"


@contextlib.contextmanager
def database_copy(url: str, suffix: str) -> Iterator[str]:
    """A ``CREATE DATABASE ... TEMPLATE`` copy of ``url``'s database, dropped afterwards."""
    source = make_url(url).database
    name = f"{source}_{suffix}"
    with psycopg.connect(benchdb.libpq_url(benchdb.ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(  # a template must have no other connection
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [source],
        )
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(benchdb.libpq_url(benchdb.ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def aggregate_violations(url: str) -> int:
    """Count rows (per stripe) that differ from a recount of ``job``."""
    from db import aggregates
    from db.engine import Database

    database = Database.connect(url, statement_timeout_ms=0)
    try:
        with database.read() as conn:
            return len(aggregates.drift(conn))
    finally:
        database.dispose()


def writers(args: argparse.Namespace, pool: PortPool, log_dir: Path, log: Any) -> dict[str, Any]:
    """8 writers against this checkout and the baseline release, alternating rounds, same data."""
    url = benchdb.database_url(args.writers_size)
    ensure(args.writers_size, log)
    rev = args.baseline_rev or default_baseline()
    job_ids = benchdb.pick_ids(url, benchdb.parse_size(args.writers_size))["writer_jobs"]
    rounds: dict[str, list[dict[str, Any]]] = {"with counts": [], "baseline": []}
    with baseline_checkout(rev) as folder, database_copy(url, "baseline") as baseline_url:
        old_env = {**base_env(baseline_url), "PYTHONPATH": str(folder)}
        for number in range(args.writer_rounds):
            for name in ("baseline", "with counts") if number % 2 else ("with counts", "baseline"):
                log(f"  writers round {number + 1}: {name} ...")
                # The same command line for both; the baseline runs from its own checkout.
                target, folder_of_code = (url, ROOT) if name == "with counts" else (baseline_url, folder)
                env = base_env(url) if name == "with counts" else old_env
                port = pool.take()
                try:
                    server = app_server(f"writers-{name.replace(' ', '-')}", port, env, log_dir)
                    server.cwd = folder_of_code
                    with server:
                        rounds[name].append(_writers(server, target, job_ids, args))
                finally:
                    pool.give_back(port)
    violations = aggregate_violations(url)
    if violations:
        raise RuntimeError(f"writers: {violations} count rows drifted")
    rate = {name: statistics.mean(r["events_per_s"] for r in runs) for name, runs in rounds.items()}
    return {
        "baseline_rev": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True, check=True
        ).stdout.strip(),
        "rounds": rounds,
        "events_per_s": rate,
        "ratio": round(rate["with counts"] / rate["baseline"], 3) if rate["baseline"] else None,
        "aggregate_violations": violations,
        "invariant_violations": sum(r["invariant_violations"] for runs in rounds.values() for r in runs),
    }


# -------------------------------------------------------------------------------------------- report


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


def markdown(results: dict[str, Any]) -> str:
    """The flat-reads section of ``docs/performance.md``."""
    lines = [
        "## Flat reads: aggregates and name search (`benchmarks/flat_reads.py`)",
        "",
        f"Command: `{results['command']}`  ",
        f"Run: {results['started']} - {results['finished']}; load average at start / end: "
        f"{results['load'][0]} / {results['load'][1]}",
        "",
        "One gunicorn worker, uncached, one keep-alive client. Ratios are to the unfiltered first list page "
        '(`GET /api/jobs/`) p95 of the same size in the same run. "Before" is the naive SQL the count '
        "tables replace (a `GROUP BY` or `count(*)` over `job` through psycopg, no HTTP). Overview rows "
        "give the callback's database time (`Server-Timing` db, p95) beside its whole time.",
        "",
    ]
    for data in results["sizes"].values():
        targets, naive = data["targets"], data["naive"]
        ref = targets["list"]["p95"]
        db = data["database"]
        lines += [f"### {data['jobs']:,} jobs", ""]
        for step in db.get("upgrades", []):
            lines += [
                f"`jobdash db upgrade` of this database from {step['from']} to {step['to']} (the backfill): "
                f"**{step['seconds']} s** ({step['at']}, load average {step['load']})",
                "",
            ]
        lines += [
            "| target | p50 ms | p95 ms | p95 / list p95 | db p95 ms | db / list p95 | before (naive SQL) "
            "p50 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, t in targets.items():
            if name.startswith("q "):
                continue
            db_p95 = t.get("server_db_p95")
            before = naive.get(name, {}).get("p50")
            extra = f" ({t['count']:,})" if "count" in t else ""
            lines.append(
                f"| {name}{extra} | {_ms(t['p50'])} | {_ms(t['p95'])} | {t['p95'] / ref:.2f} | "
                f"{_ms(db_p95)} | "
                f"{'' if db_p95 is None else f'{db_p95 / ref:.2f}'} | {_ms(before)} |"
            )
        lines += [
            "",
            "Name search (`q`), every ordering, first page and a deep page (`next` followed up to 10 times, "
            "through partial pages too); P marks a partial page (the search budget ran out first):",
            "",
        ]
        lines += [
            "| term | ordering | first p50 | first p95 | deep p50 | deep p95 | worst p95 / list p95 |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, term in Q_TERMS.items():
            for ordering in ORDERINGS:
                first = targets[f"q {label} ({term}) {ordering} first"]
                deep = targets[f"q {label} ({term}) {ordering} deep"]
                worst = max(first["p95"], deep["p95"]) / ref
                marks = ["P" if page["partial"] else "" for page in (first, deep)]
                lines.append(
                    f"| {label} `{term}` | `{ordering}` | {_ms(first['p50'])}{marks[0]} | "
                    f"{_ms(first['p95'])} | {_ms(deep['p50'])}{marks[1]} | {_ms(deep['p95'])} | {worst:.1f} |"
                )
        lines.append("")
    if results.get("writers"):
        w = results["writers"]
        lines += [
            f"### 8 concurrent writers over HTTP ({results['writers_size']} jobs)",
            "",
            f"Alternating rounds of {results['writer_seconds']:.0f} s against this checkout and the release "
            f"before the count tables (`{w['baseline_rev']}`) on a template copy of the same database.",
            "",
            "| release | events/s per round | mean |",
            "|---|---|---|",
        ]
        for name, runs in w["rounds"].items():
            per_round = ", ".join(f"{r['events_per_s']:.0f}" for r in runs)
            lines.append(f"| {name} | {per_round} | {w['events_per_s'][name]:.0f} |")
        lines += [
            "",
            f"With counts / baseline: **{w['ratio']}**; invariant violations {w['invariant_violations']}, "
            f"count rows drifted {w['aggregate_violations']}.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every size, then the writers; write the report."""
    args = parse_args(argv)
    log_dir = ROOT / "benchmarks" / "results" / "logs"

    def log(message: str) -> None:
        print(message, flush=True)

    # The overview's windows come from the page module, which registers itself with a Dash app.
    from dashboard import create_app
    from dashboard.settings import Settings

    create_app(Settings.from_env({}, database_url="sqlite://"))
    results: dict[str, Any] = {
        "command": "python benchmarks/flat_reads.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": [" ".join(f"{x:.2f}" for x in os.getloadavg())],
        "sizes": {},
        "writers_size": args.writers_size,
        "writer_seconds": args.writer_seconds,
    }
    pool = PortPool()
    for size in args.sizes.split(","):
        log(f"== {size}")
        results["sizes"][size] = measure_size(size.strip(), args, pool, log_dir, log)
    if args.writers_size:
        log(f"== writers at {args.writers_size}")
        results["writers"] = writers(args, pool, log_dir, log)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["load"].append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    text = markdown(results)
    print(text)
    sections.publish("flat_reads", "flat-reads", results, text, ci=args.ci)
    return 0


if __name__ == "__main__":
    sys.exit(main())
