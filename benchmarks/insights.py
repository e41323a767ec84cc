"""Insights at 10k, 1M and 10M jobs: each insight read beside the unfiltered list page; 8 writers against
the release before the history aggregates; the bucketed percentile's error against the exact one.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/insights.py                                # 10k, 1m, 10m; writers at 1m
    python benchmarks/insights.py --sizes 10k,1m --writers-size 1m --suffix mine
    python benchmarks/insights.py --ci                           # 2k jobs, a few requests; no docs written

Per size it measures on ``jobdash_bench_<size>_<suffix>``: a copy (``CREATE DATABASE ... TEMPLATE``) of the
shared ``jobdash_bench_<size>``, made when missing and brought to this checkout's schema with ``jobdash db
upgrade`` (timed: that is the backfill of the history aggregates; remembered in
``benchmarks/results/insight_upgrades.json``), then ``VACUUM (ANALYZE)``. The shared databases are only
ever read. ``--drop`` drops the copies at the end. It starts the real server of every size side by
side (1 gunicorn worker each, uncached) and times, with one keep-alive client per size, the sizes
interleaved (``CHUNK`` requests of one size, then of the next, the order rotating; so every size of a
target is measured in the same stretch of time and a machine growing busier slows all of them alike):

- the unfiltered first list page (``GET /api/jobs/``): the reference every target is a ratio to;
- ``GET /api/stats/?as_of=`` at a random hour of the last year (a different hour each request);
- transitions over the last 30 days, all families and one; time in state over the last 30 days, all
  families and one; the first page of stuck jobs (and a deeper one); the first page of disallowed
  transitions; a family's list page; one job's time in each state beside its family's.

Then, per size, the bucketed p50 / p95 / p99 of ``/api/insights/time-in-state/`` against the exact
nearest-rank percentiles of the same stays, recomputed from the event table. At ``--writers-size``, 8
concurrent writers over HTTP against this checkout and against ``--baseline-rev`` (default: the merge base
with ``main``, the release without these aggregates) on a template copy of the same shared database, in
alternating rounds after a checkpoint; afterwards, on this checkout's copy, four insight reads with the
delta log folded and with ``UNFOLDED`` appends left in it (what reads pay while writes flow), then the
invariant and ``jobdash db check`` (every aggregate recounted). Results: the ``insights`` section of
``docs/performance.md`` and ``docs/insights.json``. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import psycopg
import sections
from client import KeepAliveClient, Measurement, expect_ok
from flat_reads import baseline_checkout, get, summary
from phases import _writers
from servers import HOST, ROOT, PortPool, app_server, base_env, running
from sqlalchemy.engine import make_url

from db import folding, insights, timeline, writes
from db.engine import Database
from db.models import STATUSES

DOCS = ROOT / "docs"
UPGRADES = ROOT / "benchmarks" / "results" / "insight_upgrades.json"
FAMILY = "etl-orders"
# The targets of the issue, each a ratio to the list page of the same run.
TARGETS = ("as-of (random hour, last year)", "transitions 30d", "time in state 30d", "stuck, first page")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,1m,10m")
    parser.add_argument("--suffix", default="insights", help="copies are jobdash_bench_<size>_<suffix>")
    parser.add_argument("--requests", type=int, default=100, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--writers-size", default="1m", help="size for the writers comparison ('' skips it)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--writer-seconds", type=float, default=None, help="per round (default 20, CI 3)")
    parser.add_argument("--writer-rounds", type=int, default=None, help="rounds each (default 2, CI 1)")
    parser.add_argument("--baseline-rev", default=None, help="default: git merge-base HEAD main")
    parser.add_argument("--drop", action="store_true", help="drop the database copies at the end")
    parser.add_argument(
        "--keep-reads",
        action="store_true",
        help="measure the writers only; keep the reads of docs/insights.json (and say which run they are)",
    )
    parser.add_argument("--ci", action="store_true", help="2k jobs, few requests, no docs written")
    args = parser.parse_args(argv)
    if args.ci:
        args.sizes = "2k" if args.sizes == "10k,1m,10m" else args.sizes
        args.requests, args.warmup, args.writers_size = 10, 2, "2k"
        args.suffix = args.suffix if args.suffix != "insights" else "ci_insights"
    if args.writer_seconds is None:
        args.writer_seconds = 3.0 if args.ci else 20.0
    if args.writer_rounds is None:
        args.writer_rounds = 1 if args.ci else 2
    return args


# ------------------------------------------------------------------------------------------ databases


def copy_url(size: str, suffix: str) -> str:
    """The URL of this benchmark's copy of the shared database of ``size``."""
    url = benchdb.database_url(size)
    return (
        make_url(url).set(database=f"{make_url(url).database}_{suffix}").render_as_string(hide_password=False)
    )


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(benchdb.libpq_url(benchdb.ADMIN_URL), autocommit=True)


def _exists(name: str) -> bool:
    with _admin() as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def template_copy(source: str, target: str, log: Any, *, attempts: int = 4) -> None:
    """``CREATE DATABASE target TEMPLATE source``, retried a little while someone is connected to
    ``source``; then a dump and restore (slower, but it only reads ``source``)."""
    for attempt in range(attempts):
        try:
            with _admin() as admin:
                # FILE_COPY: the files are copied as they are (after a checkpoint), not written again
                # through the WAL page by page, which for a 10M database meant 11 GB of WAL and
                # checkpoints that ran on into the measurements that followed.
                admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY FILE_COPY')
            return
        except psycopg.errors.ObjectInUse:
            log(f"  {source} is in use; retrying ({attempt + 1}/{attempts}) ...")
            time.sleep(30)
    log(f"  {source} stays in use: copying it with pg_dump | psql instead ...")
    server = make_url(benchdb.ADMIN_URL)
    connection = [
        "-h",
        server.host or "127.0.0.1",
        "-p",
        str(server.port or 5432),
        "-U",
        server.username or "postgres",
    ]
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{target}"')
    dump = subprocess.Popen(["pg_dump", *connection, "--no-owner", source], stdout=subprocess.PIPE)
    restore = subprocess.run(
        ["psql", *connection, "-q", "-v", "ON_ERROR_STOP=1", "-d", target],
        stdin=dump.stdout,
        capture_output=True,
        check=False,
    )
    if dump.wait() != 0 or restore.returncode != 0:
        raise RuntimeError(f"could not copy {source}: {restore.stderr.decode()[-500:]}")


def checkpoint() -> None:
    """A checkpoint now, so that writing out what came before (copies, upgrades) does not fall into a
    measured stretch."""
    with _admin() as admin:
        admin.execute("CHECKPOINT")


def drop(name: str) -> None:
    """Drop a database of this benchmark."""
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(size: str, suffix: str, log: Any, *, ci: bool) -> dict[str, Any]:
    """This benchmark's copy of ``size`` at this checkout's schema (copied and upgraded when needed)."""
    url = copy_url(size, suffix)
    name = make_url(url).database
    head = benchdb.head_revision()
    upgrades = json.loads(UPGRADES.read_text()) if UPGRADES.exists() else {}
    out: dict[str, Any] = {"database": name}
    if not _exists(name):
        if ci:  # a fresh small database, seeded at this schema
            with _admin() as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            benchdb._cli(url, "db", "upgrade", timeout=300)
            benchdb._cli(url, "seed", "--jobs", str(benchdb.parse_size(size)), timeout=600)
        else:
            log(f"  copying {make_url(benchdb.database_url(size)).database} to {name} ...")
            started = time.perf_counter()
            template_copy(make_url(benchdb.database_url(size)).database, name, log)
            out["copy_seconds"] = round(time.perf_counter() - started, 1)
    state = benchdb.describe(url)
    if state is not None and state.get("revision") not in (None, head):
        log(f"  upgrading {name} from {state['revision']} to {head} (the backfill) ...")
        started = time.perf_counter()
        benchdb._cli(url, "db", "upgrade", timeout=4 * 3600)
        seconds = round(time.perf_counter() - started, 1)
        log(f"  upgraded in {seconds} s")
        started = time.perf_counter()
        benchdb.vacuum(url)  # the backfill rewrote every job row
        vacuum_seconds = round(time.perf_counter() - started, 1)
        upgrades.setdefault(name, []).append(
            {
                "from": state["revision"],
                "to": head,
                "jobs": state.get("jobs"),
                "seconds": seconds,
                "vacuum_seconds": vacuum_seconds,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            }
        )
        UPGRADES.parent.mkdir(parents=True, exist_ok=True)
        UPGRADES.write_text(json.dumps(upgrades, indent=1))
    out["upgrades"] = upgrades.get(name, [])
    out["jobs"] = (benchdb.describe(url) or {}).get("jobs")
    return out


# ------------------------------------------------------------------------------------------- reads


def insight_paths(url: str, now: dt.datetime) -> dict[str, Any]:
    """The path (or a ``send`` choosing one per request) of every target."""
    month = now - dt.timedelta(days=30)
    window = {"since": month.isoformat(), "until": now.isoformat()}
    rng = random.Random(11)
    hours = [now - dt.timedelta(hours=h) for h in range(1, 365 * 24)]

    def as_of(client: KeepAliveClient) -> Any:
        path = "/api/stats/?" + urlencode({"as_of": rng.choice(hours).isoformat()})
        return expect_ok(client.get(path), path)

    with psycopg.connect(benchdb.libpq_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM job WHERE family = %s ORDER BY id DESC LIMIT 1 OFFSET 100", [FAMILY]
        )
        job = (row.fetchone() or [1])[0]
    return {
        "list": get("/api/jobs/"),
        "stats (now)": get("/api/stats/"),
        "as-of (random hour, last year)": as_of,
        "transitions 30d": get("/api/insights/transitions/?" + urlencode(window)),
        f"transitions 30d, {FAMILY}": get(
            "/api/insights/transitions/?" + urlencode({**window, "family": FAMILY})
        ),
        "time in state 30d": get("/api/insights/time-in-state/?" + urlencode(window)),
        f"time in state 30d, {FAMILY}": get(
            "/api/insights/time-in-state/?" + urlencode({**window, "family": FAMILY})
        ),
        "stuck, first page": get("/api/insights/stuck/"),
        "disallowed transitions, first page": get("/api/insights/transitions/disallowed/"),
        f"list ?family={FAMILY}": get(f"/api/jobs/?family={FAMILY}"),
        "a job beside its family": get(f"/api/jobs/{job}/time-in-state/"),
    }


# Requests per size before the next size takes its turn: every size of a target is measured in the same
# stretch of time, so a machine that grows busier during the run slows every size alike (measured one
# size after another, the last size took all of the drift into its ratio to the first).
CHUNK = 10


def measure_sizes(
    sizes: list[str], args: argparse.Namespace, pool: PortPool, log_dir: Path, log: Any
) -> dict[str, dict[str, Any]]:
    """Every target at every size, interleaved (``CHUNK`` requests per size in turn, the order rotating),
    one server per size running side by side; then each size's percentile error."""
    databases = {size: prepare(size, args.suffix, log, ci=args.ci) for size in sizes}
    urls = {size: copy_url(size, args.suffix) for size in sizes}
    now = dt.datetime.now(dt.UTC)
    window = {"since": (now - dt.timedelta(days=30)).isoformat(), "until": now.isoformat()}
    targets: dict[str, dict[str, dict[str, Any]]] = {size: {} for size in sizes}
    stuck: dict[str, Any] = {}
    bucketed: dict[str, Any] = {}
    checkpoint()
    with contextlib.ExitStack() as stack:
        clients: dict[str, KeepAliveClient] = {}
        sends: dict[str, dict[str, Any]] = {}
        for size in sizes:
            server = stack.enter_context(
                running(pool, app_server, f"insights-{size}", base_env(urls[size]), log_dir)
            )
            clients[size] = KeepAliveClient(HOST, server.port)
            stack.callback(clients[size].close)
            sends[size] = insight_paths(urls[size], now)
            stuck[size] = expect_ok(clients[size].get("/api/insights/stuck/"), "stuck").json()
            deep = stuck[size]
            for _ in range(10):  # the tenth page (or the last), when there is more than one
                if not deep.get("next"):
                    break
                deep_path = deep["next"]
                deep = expect_ok(clients[size].get(deep_path), "stuck deep").json()
            if deep is not stuck[size]:
                sends[size]["stuck, 10 pages deep"] = get(deep_path)
        names = list(dict.fromkeys(name for size in sizes for name in sends[size]))
        for name in names:
            log(f"  {name} ...")
            present = [size for size in sizes if name in sends[size]]
            measurements = {size: Measurement() for size in present}
            for size in present:
                for _ in range(args.warmup):
                    sends[size][name](clients[size])
            for turn, first in enumerate(range(0, args.requests, CHUNK)):
                order = present[turn % len(present) :] + present[: turn % len(present)]
                for size in order:
                    for _ in range(min(CHUNK, args.requests - first)):
                        measurements[size].add_response(sends[size][name](clients[size]))
            for size in present:
                targets[size][name] = summary(measurements[size])
        for size in sizes:
            bucketed[size] = expect_ok(
                clients[size].get("/api/insights/time-in-state/?" + urlencode(window)), "time in state"
            ).json()
    out = {}
    for size in sizes:
        log(f"  {size}: percentile error against the event table ...")
        out[size] = {
            "jobs": databases[size].get("jobs"),
            "database": databases[size],
            "targets": targets[size],
            "percentile_error": percentile_error(urls[size], bucketed[size]),
            "stuck_jobs_first_page": len(stuck[size]["results"]),
        }
    return out


def percentile_error(url: str, bucketed: dict[str, Any]) -> dict[str, Any]:
    """The API's bucketed percentiles against exact nearest-rank ones of the same stays, recomputed from
    the event table (every job with an event in the window: its updated_at is in or after it)."""
    since = dt.datetime.fromisoformat(bucketed["since"])
    until = dt.datetime.fromisoformat(bucketed["until"])
    stays: dict[tuple[str, str], list[int]] = defaultdict(list)
    with psycopg.connect(benchdb.libpq_url(url), autocommit=False) as conn:
        cur = conn.cursor(name="events")
        cur.itersize = 50_000
        cur.execute(
            "SELECT j.family, e.job_id, e.status_type, e.timestamp "
            "FROM job j JOIN job_status e ON e.job_id = j.id "
            "WHERE j.updated_at >= %s ORDER BY e.job_id, e.timestamp, e.id",
            [since],
        )
        last_job, run_status, run_start, family = None, None, None, None
        for family_now, job_id, status, at in cur:
            if job_id != last_job:
                last_job, run_status, run_start, family = job_id, status, at, family_now
                continue
            if status != run_status:
                if since <= at < until:
                    stays[(family, run_status)].append((at - run_start) // dt.timedelta(milliseconds=1))
                run_status, run_start = status, at
    errors = []
    rows = []
    for result in bucketed["results"]:
        exact_values = sorted(stays.get((result["family"], result["status"]), []))
        if len(exact_values) != result["stays"]:
            rows.append({**result, "mismatch": len(exact_values)})
            continue
        for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = exact_values[max(1, math.ceil(fraction * len(exact_values))) - 1] / 1000
            if exact <= 0 or result[name] is None:
                continue
            relative = abs(result[name] / exact - 1)
            if result["stays"] >= 100:
                errors.append(relative)
            rows.append(
                {
                    "family": result["family"],
                    "status": result["status"],
                    "stays": result["stays"],
                    "percentile": name,
                    "exact_s": exact,
                    "bucketed_s": result[name],
                    "error": round(relative, 5),
                }
            )
    return {
        "compared": len(errors),
        "median": round(statistics.median(errors), 5) if errors else None,
        "p95": round(sorted(errors)[max(0, math.ceil(0.95 * len(errors)) - 1)], 5) if errors else None,
        "max": round(max(errors), 5) if errors else None,
        "bound": round(timeline.MAX_RELATIVE_ERROR, 5),
        "mismatched_groups": sum(1 for r in rows if "mismatch" in r),
        "rows": rows,
    }


# ------------------------------------------------------------------------------------------- writers


def default_baseline() -> str:
    """The merge base with main: the release without this branch's aggregates."""
    return subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True, capture_output=True, text=True
    ).stdout.strip()


def writers(args: argparse.Namespace, pool: PortPool, log_dir: Path, log: Any) -> dict[str, Any]:
    """8 writers against this checkout and the baseline release, alternating rounds, same data: each
    side on its own fresh copy of the shared database (a copy kept from an earlier run would carry that
    run's events and its dead row versions in the hot aggregate rows)."""
    suffix = f"{args.suffix}_writers"
    url = copy_url(args.writers_size, suffix)
    drop(make_url(url).database)
    prepare(args.writers_size, suffix, log, ci=args.ci)
    rev = args.baseline_rev or default_baseline()
    base_name = f"{make_url(url).database}_base"
    baseline_url = make_url(url).set(database=base_name).render_as_string(hide_password=False)
    drop(base_name)
    job_ids = benchdb.pick_ids(url, benchdb.parse_size(args.writers_size))["writer_jobs"]
    rounds: dict[str, list[dict[str, Any]]] = {"with insights": [], "baseline": []}
    try:
        with baseline_checkout(rev) as folder:
            if args.ci:  # no older shared copy: the baseline seeds the same jobs with its own code
                with _admin() as admin:
                    admin.execute(f'CREATE DATABASE "{base_name}"')
                for command in (
                    ["db", "upgrade"],
                    ["seed", "--jobs", str(benchdb.parse_size(args.writers_size))],
                ):
                    subprocess.run(
                        [sys.executable, "-m", "dashboard.cli", *command],
                        env={**base_env(baseline_url), "PYTHONPATH": str(folder)},
                        cwd=folder,
                        check=True,
                        capture_output=True,
                    )
            else:
                template_copy(make_url(benchdb.database_url(args.writers_size)).database, base_name, log)
            checkpoint()  # the copies' writes are flushed before the first round, not during it
            for number in range(args.writer_rounds):
                order = ("baseline", "with insights") if number % 2 else ("with insights", "baseline")
                for name in order:
                    log(f"  writers round {number + 1}: {name} ...")
                    mine = name == "with insights"
                    env = base_env(url) if mine else {**base_env(baseline_url), "PYTHONPATH": str(folder)}
                    port = pool.take()
                    try:
                        server = app_server(f"writers-{name.replace(' ', '-')}", port, env, log_dir)
                        server.cwd = ROOT if mine else folder
                        with server:
                            rounds[name].append(
                                _writers(server, url if mine else baseline_url, job_ids, args)
                            )
                    finally:
                        pool.give_back(port)
    finally:
        drop(base_name)
    log(f"  insight reads with {UNFOLDED:,} appends not yet folded, and with none ...")
    unfolded = unfolded_reads(url, job_ids)
    log("  jobdash db check on this checkout's copy (every aggregate recounted) ...")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "db", "check"],
        env=base_env(url),
        capture_output=True,
        text=True,
    )
    check_seconds = round(time.perf_counter() - started, 1)
    drop(make_url(url).database)
    problems = [line for line in done.stdout.splitlines() if line.startswith("problem:")]
    rate = {name: statistics.mean(r["events_per_s"] for r in runs) for name, runs in rounds.items()}
    return {
        "baseline_rev": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True, check=True
        ).stdout.strip(),
        "rounds": rounds,
        "events_per_s": rate,
        "ratio": round(rate["with insights"] / rate["baseline"], 3) if rate["baseline"] else None,
        "invariant_violations": sum(r["invariant_violations"] for runs in rounds.values() for r in runs),
        "unfolded_reads": unfolded,
        "check_exit": done.returncode,
        "check_problems": problems[:20],
        "check_seconds": check_seconds,
        "check_summary": (done.stdout.strip().splitlines() or [""])[-1],
    }


# What the delta log can hold between folds: JOBDASH_FOLD_EVERY (300) appends per writing process, for 4
# processes (the default gunicorn workers on 2 cores).
UNFOLDED = 1_200
UNFOLDED_CALLS = 40


def unfolded_reads(url: str, job_ids: list[int]) -> dict[str, Any]:
    """The insight reads (in process, database and Python, no HTTP) with the delta log folded, then with
    ``UNFOLDED`` appends (the writers' kind: random statuses, times within the last hour) left in it:
    the median of ``UNFOLDED_CALLS`` calls each; the log is folded again at the end."""

    database = Database.connect(url, fold_every=0, statement_timeout_ms=0)
    now = dt.datetime.now(dt.UTC)
    month = {"since": now - dt.timedelta(days=30), "until": now}
    reads = {
        "as-of, 2 hours ago": lambda c: insights.status_mix_as_of(c, now - dt.timedelta(hours=2)),
        "transitions 30d": lambda c: insights.transition_counts(c, **month),
        "time in state 30d": lambda c: insights.time_in_state(c, **month),
        "stuck, first page": lambda c: insights.stuck_jobs(c, page_size=25, max_page_size=100, now=now),
    }

    def medians() -> dict[str, float]:
        out = {}
        with database.read() as conn:
            for name, read in reads.items():
                read(conn)  # warm: plans, caches
                times = []
                for _ in range(UNFOLDED_CALLS):
                    started = time.perf_counter()
                    read(conn)
                    times.append(time.perf_counter() - started)
                out[name] = round(1000 * statistics.median(times), 3)
        return out

    try:
        with database.write() as conn:
            folding.fold_all(conn)
        folded = medians()
        rng = random.Random(11)
        for _ in range(UNFOLDED):
            with database.write() as conn:
                writes.append_status(
                    conn,
                    job_id=rng.choice(job_ids),
                    status=rng.choice(STATUSES),
                    timestamp=now - dt.timedelta(seconds=rng.randrange(0, 3600, 5)),
                )
        with database.read() as conn:
            logged = conn.exec_driver_sql("SELECT count(*) FROM job_history_delta").scalar_one()
        pending = medians()
        with database.write() as conn:
            folding.fold_all(conn)
    finally:
        database.dispose()
    return {"appends": UNFOLDED, "log_rows": logged, "folded_ms": folded, "unfolded_ms": pending}


# -------------------------------------------------------------------------------------------- report


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:.2f}"


def markdown(results: dict[str, Any]) -> str:
    """The insights section of ``docs/performance.md``."""
    sizes = results["sizes"]
    smallest = next(iter(sizes.values()), None)
    lines = [
        "## Insights (`benchmarks/insights.py`)",
        "",
        f"Command: `{results['command']}`  ",
        f"Run: {results['started']} - {results['finished']}; load average at start / end: "
        f"{results['load'][0]} / {results['load'][1]}",
        "",
        "One gunicorn worker per size, uncached, one keep-alive client each, on a copy of each shared "
        "benchmark database brought to this schema by `jobdash db upgrade`; the sizes are measured "
        f"interleaved ({CHUNK} requests of one, then of the next, the order rotating), so that drift in the "
        "machine's load falls on every size alike. Ratios are to the unfiltered first list page "
        '(`GET /api/jobs/`) p95 of the same size in the same run; "p50 / smallest" is the p50 against the '
        "same target at the smallest size of the run. Targets (issue 13): each of the four insight reads "
        "p95 <= 3x the list p95, and p50 at 10M <= 1.3x at 10k.",
        "",
    ]
    if results.get("reads_from"):
        kept = results["reads_from"]
        lines[2:4] = [
            f"Command: `{results['command']}` (the writers); the reads are those of `{kept['command']}`, "
            f"run {kept['started']} - {kept['finished']}, load average at start / end: "
            f"{kept['load'][0]} / {kept['load'][1]}.  ",
            f"Run: {results['started']} - {results['finished']}; load average at start / end: "
            f"{results['load'][0]} / {results['load'][1]}",
        ]
    for data in sizes.values():
        targets = data["targets"]
        ref = targets["list"]["p95"]
        lines += [f"### {data['jobs']:,} jobs", ""]
        for step in data["database"].get("upgrades", []):
            lines += [
                f"`jobdash db upgrade` of this copy from {step['from']} to {step['to']} (the backfill of "
                f"every history aggregate): **{step['seconds']} s**, then `VACUUM (ANALYZE)` "
                f"{step['vacuum_seconds']} s ({step['at']}, load average {step['load']})",
                "",
            ]
        lines += [
            "| target | p50 ms | p95 ms | p95 / list p95 | db p95 ms | p50 / smallest |",
            "|---|---|---|---|---|---|",
        ]
        for name, t in targets.items():
            base = smallest["targets"].get(name) if smallest else None
            growth = f"{t['p50'] / base['p50']:.2f}" if base and base["p50"] else ""
            mark = " **(target)**" if name in TARGETS else ""
            lines.append(
                f"| {name}{mark} | {_ms(t['p50'])} | {_ms(t['p95'])} | {t['p95'] / ref:.2f} | "
                f"{_ms(t.get('server_db_p95'))} | {growth} |"
            )
        error = data["percentile_error"]
        lines += [
            "",
            "Time in state, bucketed against exact (nearest rank, from the event table), over the last 30 "
            f"days: {error['compared']} percentiles of groups with 100 or more stays; relative error median "
            f"**{_pct(error['median'])}**, p95 {_pct(error['p95'])}, max **{_pct(error['max'])}** "
            f"(bound: one bucket, {_pct(error['bound'])}); groups whose stay count differed: "
            f"{error['mismatched_groups']}.",
            "",
        ]
    if results.get("writers"):
        w = results["writers"]
        lines += [
            f"### 8 concurrent writers over HTTP ({results['writers_size']} jobs)",
            "",
            f"Alternating rounds of {results['writer_seconds']:.0f} s against this checkout and the release "
            f"without the history aggregates (`{w['baseline_rev']}`), each on its own copy of the same "
            "shared database; random statuses, times within the last hour (so most events are late).",
            "",
            "| release | events/s per round | mean |",
            "|---|---|---|",
        ]
        for name, runs in w["rounds"].items():
            per_round = ", ".join(f"{r['events_per_s']:.0f}" for r in runs)
            lines.append(f"| {name} | {per_round} | {w['events_per_s'][name]:.0f} |")
        lines += [
            "",
            f"With insights / baseline: **{w['ratio']}** (target >= 0.85); invariant violations "
            f"{w['invariant_violations']}; `jobdash db check` afterwards ({w['check_seconds']} s): "
            f"exit {w['check_exit']}, {w['check_summary']!r}.",
            "",
        ]
        if w.get("unfolded_reads"):
            u = w["unfolded_reads"]
            lines += [
                f"Insight reads while the delta log holds {u['log_rows']:,} appends not yet folded (what "
                "4 writing workers leave at most between folds at `JOBDASH_FOLD_EVERY` 300), against the "
                "same reads with the log folded; in process (no HTTP), median of "
                f"{UNFOLDED_CALLS} calls, on this checkout's copy after the writers:",
                "",
                "| read | folded ms | unfolded ms | unfolded / folded |",
                "|---|---|---|---|",
            ]
            for name, ms in u["folded_ms"].items():
                late = u["unfolded_ms"][name]
                lines.append(f"| {name} | {ms:.2f} | {late:.2f} | {late / ms:.2f} |")
            lines.append("")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def main(argv: list[str] | None = None) -> int:
    """Run every size, then the writers; write the report."""
    args = parse_args(argv)
    log_dir = ROOT / "benchmarks" / "results" / "logs"

    def log(message: str) -> None:
        print(message, flush=True)

    results: dict[str, Any] = {
        "command": "python benchmarks/insights.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": [" ".join(f"{x:.2f}" for x in os.getloadavg())],
        "sizes": {},
        "writers_size": args.writers_size,
        "writer_seconds": args.writer_seconds,
    }
    pool = PortPool()
    if args.keep_reads:
        kept = json.loads((DOCS / "insights.json").read_text())
        results["sizes"] = kept["sizes"]
        results["reads_from"] = kept.get("reads_from") or {
            "command": kept["command"],
            "started": kept["started"],
            "finished": kept.get("finished"),
            "load": kept["load"],
        }
    sizes = [size.strip() for size in ([] if args.keep_reads else args.sizes.split(",")) if size.strip()]
    if sizes:
        log(f"== reads at {', '.join(sizes)}, interleaved")
        results["sizes"] = measure_sizes(sizes, args, pool, log_dir, log)
    if args.writers_size:
        log(f"== writers at {args.writers_size}")
        results["writers"] = writers(args, pool, log_dir, log)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["load"].append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    text = markdown(results)
    print(text)
    sections.publish("insights", "insights", results, text, ci=args.ci)
    if args.drop:
        for size in {*args.sizes.split(","), args.writers_size} - {""}:
            drop(make_url(copy_url(size.strip(), args.suffix)).database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
