"""JobDash latency benchmark (issue 5): the real server against the floor, at several table sizes, in one run.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/bench.py                       # 10k, 100k, 1m: writes docs/performance.{md,json,png}
    python benchmarks/bench.py --sizes 10k,100k,1m,10m
    python benchmarks/bench.py --ci                  # 2k jobs, seconds; benchmarks/results/ci.json only

Per size it reuses or seeds ``jobdash_bench_<size>`` (5 events per job; ``--fresh`` reseeds), starts the
real server (``jobdash serve``, gunicorn, 1 worker, uncached) and the minimal Flask + psycopg floor app with
the same gunicorn settings, and measures every list variant, detail, history and stats three ways: the app
over HTTP, the floor app over HTTP, and the app's own SQL statements replayed through psycopg. Then the
cache (hit against miss), and at the largest size: throughput (16 clients, 2 workers), 8 concurrent writers
with the status invariant checked afterwards, worker memory over 10,000 list requests, and a profile of the
app. Timings are reported, never asserted; an HTTP error or a broken invariant makes the run fail (exit 1)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import phases
import report
import sections
from servers import ROOT, PortPool

RESULTS_DIR = ROOT / "benchmarks" / "results"
DOCS_DIR = ROOT / "docs"
METHOD = [
    "Client: Python `http.client`, one persistent keep-alive connection, on the same machine; warm-up "
    "requests discarded; each target's requests split into 3 chunks alternating app / floor app / raw SQL, "
    "so background noise hits all three alike. Percentiles are linear-interpolated over the measured "
    "requests.",
    "App: `python -m dashboard.cli serve --bind 127.0.0.1:<port> --workers 1` (gunicorn with "
    "`dashboard/gunicorn_conf.py`), `JOBDASH_CACHE_TTL=0`, `JOBDASH_LOG_LEVEL=WARNING`, default pool and "
    "threads.",
    "Floor app: `benchmarks/floor_app.py`, plain Flask + one psycopg 3 connection per thread, the same SQL "
    "and count strategy as `db/queries.py` (page; without `q` the count summed from the count tables; with "
    "`q` the planner estimate, remembered 30 s, or a count capped at 1,000 when the estimate is not far "
    "above it), autocommit UTC sessions like the app's reads, `orjson.dumps` of "
    "the same envelope; gunicorn with the same config and worker count. Before timing, each page is checked "
    "to hold the same ids and count as the app's (except `q` pages: the app's search reads a bounded budget "
    "of index entries and may answer partially, where the floor keeps the unbounded `ILIKE` it replaced), "
    "and the statements per request are compared.",
    "Raw SQL: the statements the app sends for the page in steady state (captured from `db.queries` with a "
    "SQLAlchemy `before_cursor_execute` listener after one uncaptured call, so its estimate memo is warm), "
    "replayed with their parameters on a plain psycopg connection in the app's read-session mode "
    "(autocommit or one transaction, same time zone): the floor below any HTTP server.",
    "List variants: no status filter, each status, RUNNING+FAILED; x every ordering; x first page and a deep "
    "page; plus `q=etl` (common, ~40% of names) on every ordering and page, with a status and two, "
    "`q=ranker-42` (rare) and `q=zzqx` (no match). A deep page is the `next` page of a cursor positioned "
    "at a row in the middle of the list (by id): a server-emitted keyset cursor, never an offset.",
    "Detail and history: a job in the middle of the id range. Stats: `GET /api/stats/`.",
    "Cache: a second server with `JOBDASH_CACHE_TTL=60` (in-process cache); one URL repeated is a hit (each "
    "response's `Server-Timing` must say `cache;desc=hit`); the miss is the uncached server on the same URL.",
    "Throughput (largest size): wrk if installed (else Python threads), 16 keep-alive connections, server "
    "with `--workers 2`, rotating through every list URL measured above, for a fixed duration.",
    "Writers (largest size): 8 threads POSTing status events to 64 jobs; afterwards SQL checks that each "
    "touched job's current status and updated_at equal its newest event by (timestamp DESC, id DESC).",
    "Memory (largest size): VmRSS of the single gunicorn worker (from /proc) before and after the list "
    "requests, over distinct URLs walked along `next` from every filter x ordering and the deep pages.",
    "Databases: `jobdash_bench_<size>`, reused when they hold exactly that many jobs at the current Alembic "
    "revision, else seeded with `jobdash db upgrade` + `jobdash seed --jobs N --events-per-job 5`; "
    "`VACUUM (ANALYZE)` before measuring.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--ci`` rewrites the defaults to a run of seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="comma-separated job counts (10k,100k,1m,10m)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per target and way")
    parser.add_argument("--warmup", type=int, default=30, help="discarded requests per target and way")
    parser.add_argument(
        "--target-seconds",
        type=float,
        default=15.0,
        help="time budget per target and way (fewer samples if hit)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="reseed every database even if it could be reused"
    )
    parser.add_argument("--clients", type=int, default=16, help="throughput: concurrent connections")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="throughput: duration per server")
    parser.add_argument(
        "--load-tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="throughput client (auto: wrk if found)",
    )
    parser.add_argument("--writers", type=int, default=8, help="writers: concurrent threads")
    parser.add_argument("--writer-seconds", type=float, default=10.0, help="writers: duration")
    parser.add_argument("--memory-requests", type=int, default=10_000, help="memory: list requests")
    parser.add_argument("--memory-pages", type=int, default=4, help="memory: pages walked per start URL")
    parser.add_argument(
        "--profile-requests", type=int, default=300, help="in-process cProfile requests (0: skip)"
    )
    parser.add_argument("--no-docs", action="store_true", help="write benchmarks/results/latest.json only")
    parser.add_argument(
        "--ci", action="store_true", help="2k jobs, 30 requests, 2 s phases: results/ci.json only"
    )
    args = parser.parse_args(argv)
    if args.ci:
        explicit = set(argv if argv is not None else sys.argv[1:])
        ci_defaults = {
            "--sizes": ("sizes", "2k"),
            "--requests": ("requests", 20),
            "--warmup": ("warmup", 3),
            "--load-seconds": ("load_seconds", 2.0),
            "--writer-seconds": ("writer_seconds", 2.0),
            "--memory-requests": ("memory_requests", 500),
            "--memory-pages": ("memory_pages", 1),
            "--profile-requests": ("profile_requests", 30),
        }
        for flag, (name, value) in ci_defaults.items():
            if not any(a == flag or a.startswith(flag + "=") for a in explicit):
                setattr(args, name, value)
        args.no_docs = True
    args.size_labels = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    for label in args.size_labels:
        benchdb.parse_size(label)
    args.size_labels.sort(key=benchdb.parse_size)
    return args


def log(message: str) -> None:
    """Progress on stderr, with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine(url: str) -> dict[str, Any]:
    """nproc, CPU model, PostgreSQL version and settings, Python, load average."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "load_start": _load()}
    facts.update(benchdb.server_facts(url))
    return facts


def _load() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; returns the results document."""
    started = time.time()
    log_dir = RESULTS_DIR / "logs"
    pool = PortPool()
    results: dict[str, Any] = {
        "meta": {
            "command": " ".join(["python benchmarks/bench.py", *(shlex.quote(a) for a in sys.argv[1:])]),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "requests": args.requests,
            "warmup": args.warmup,
            "ci": args.ci,
            "method": METHOD,
        },
        "sizes": {},
    }
    largest = args.size_labels[-1]
    for label in args.size_labels:
        jobs = benchdb.parse_size(label)
        log(f"size {label}: {jobs:,} jobs")
        seed = benchdb.ensure_database(label, jobs, fresh=args.fresh, log=log)
        url = benchdb.database_url(label)
        if "machine" not in results["meta"]:
            results["meta"]["machine"] = machine(url)
        ids = benchdb.pick_ids(url, jobs)
        latency = phases.measure_size(label, url, ids, args, pool, log_dir, log)
        results["sizes"][label] = {
            "jobs": jobs,
            "seed": seed,
            "db_size": benchdb.database_size(url),
            "ids": {k: v for k, v in ids.items() if k != "writer_jobs"},
            "latency": latency,
        }
        print(report.console_table(label, latency), flush=True)
        if latency["mismatches"]:
            raise RuntimeError(f"floor app and app disagree: {latency['mismatches'][:3]}")
        if label == largest:
            lists = [t for t in latency["targets"] if t["kind"] == "list"]
            paths = [t["path"] for t in lists]
            floor_paths = [t["floor_path"] for t in lists]
            results["load_size"] = label
            log(f"throughput ({args.clients} clients, 2 workers, {args.load_seconds:g} s) and writers")
            fast = [t["path"] for t in lists if t["sql"]["p50"] < 5.0]
            loads = phases.throughput_and_writers(
                url, paths, floor_paths, ids["writer_jobs"], fast, args, pool, log_dir
            )
            results.update(loads)
            log(f"memory ({args.memory_requests:,} list requests)")
            starts = [t["path"] for t in lists if t["meta"]["page"] == "first" and not t["meta"]["q"]]
            starts += [t["path"] for t in lists if t["meta"]["page"] == "deep"]
            results["memory"] = phases.memory(url, starts, args, pool, log_dir)
            if args.profile_requests:
                log("profile (in-process)")
                # Pages whose SQL is cheap, so the profile shows the app's own work, not database waits.
                cheap = [t["path"] for t in lists if t["sql"]["p50"] < 2.0] or paths
                results["profile"] = phases.profile(url, cheap, args.profile_requests)
    from dashboard.settings import Settings

    settings = Settings.from_env({})
    results["meta"]["server"] = (
        f"1 worker ({'gthread' if settings.threads > 1 else 'sync'}, {settings.threads} threads), "
        f"pool {settings.db_pool_size}+{settings.db_max_overflow}"
    )
    results["meta"]["machine"]["load_end"] = _load()
    results["meta"]["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["meta"]["seconds"] = round(time.time() - started, 1)
    results["flatness"] = report.flatness(results["sizes"])
    results["targets"] = report.evaluate(results)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run, print, write; exit 1 if anything crashed (HTTP error, invariant violation, server failure)."""
    args = parse_args(argv)
    try:
        results = run(args)
    except Exception:
        traceback.print_exc()
        log("benchmark FAILED (see above); server logs in benchmarks/results/logs/")
        return 1
    print("\n== targets (issue 5), computed, not asserted")
    for t in results["targets"]:
        print(
            f"  {report.verdict(t['pass']):4}  {t['target']} ({t['where']}): {t['measured']}"
            f"  [goal {t['goal']}]"
        )
    if args.ci:
        report.write_json(results, RESULTS_DIR / "ci.json")
        log(f"wrote {RESULTS_DIR / 'ci.json'}")
        return 0
    report.write_json(results, RESULTS_DIR / "latest.json")
    if args.no_docs:
        (RESULTS_DIR / "latest.md").write_text(report.markdown(results))
        log(f"wrote {RESULTS_DIR / 'latest.json'} and latest.md (--no-docs)")
        return 0
    report.write_json(results, DOCS_DIR / "performance.json")
    sections.write_section(DOCS_DIR / "performance.md", "latency", report.markdown(results))
    skipped = report.plot(results, DOCS_DIR / "performance.png")
    if skipped:
        log(skipped)
    log(f"wrote {RESULTS_DIR / 'latest.json'} and docs/performance.json, .md, .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
