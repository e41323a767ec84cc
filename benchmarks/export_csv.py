"""The CSV export against PostgreSQL's own COPY: rows per second, worker memory, and how soon a client
that goes stops the query.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/export_csv.py                 # jobdash_bench_10m, 2 rounds
    python benchmarks/export_csv.py --size 1m       # another shared database
    python benchmarks/export_csv.py --ci            # 2k jobs, one round, seconds; no docs written

The database ``jobdash_bench_<size>`` is only read (``--ci`` makes its own 2k one) and must be at this
checkout's newest revision.

**Rows per second.** ``jobdash serve`` (gunicorn, 1 worker, as deployed) answers
``GET /api/jobs/export.csv`` for each view, read by one client in 1 MB reads to the last byte. The
floor, in the same run and in alternating order, is PostgreSQL's own ``COPY (SELECT …) TO STDOUT WITH
(FORMAT csv, HEADER)`` of the same statement (built by the app's own code, its parameters inlined by
psycopg) through ``psql`` into a pipe read the same way: the same rows, the same bytes (checked), with
no web server, no Python and no HTTP. Views: the whole table in the default order, and the FAILED jobs
by name. Reported: rows per second of each, and their ratio (target at least 0.5).

**Memory.** The worker's resident set (``/proc/<pid>/status`` VmRSS) is sampled every 50 ms during
each export; reported is the peak minus the resident set just before it (target under 50 MB).

**Disconnect.** A client reads 1 MB of the whole-table export and closes its socket; reported is the
time from the close until ``pg_stat_activity`` shows no export statement (polled every 5 ms), median of
the rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import psycopg
import sections
from servers import HOST, ROOT, PortPool, Server, app_server, base_env, rss_mb, running

from db.engine import Database
from db.export import copy_sql, csv_statement
from db.queries import JobFilter

DOCS = ROOT / "docs"
READ_BYTES = 1 << 20
VIEWS: dict[str, dict[str, str]] = {
    "whole table (newest first)": {},
    "FAILED, by name": {"status": "FAILED", "ordering": "name"},
}
EXPORT_QUERY = "COPY (SELECT %"  # how the export's statement starts in pg_stat_activity


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10m")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--disconnects", type=int, default=5)
    parser.add_argument("--ci", action="store_true", help="2k jobs, one round, no docs written")
    args = parser.parse_args(argv)
    if args.ci:
        args.size, args.rounds, args.disconnects = "2k", 1, 2
    return args


def copy_statement(url: str, params: dict[str, str]) -> str:
    """The export's COPY statement for ``params``, as the app builds it, with its parameters inlined by
    psycopg (for psql, which cannot bind them)."""
    database = Database.connect(url)
    try:
        with database.read() as conn:
            filters = JobFilter.build(statuses=[params["status"]] if "status" in params else None)
            ordering = params.get("ordering", "-created_at")
            sql, bound = copy_sql(conn, csv_statement(conn, filters=filters, ordering=ordering))
        with psycopg.connect(benchdb.libpq_url(url)) as raw:
            return psycopg.ClientCursor(raw).mogrify(sql, bound)
    finally:
        database.dispose()


class RssSampler:
    """Peak resident set of a process, sampled every 50 ms in a thread, above a baseline taken first."""

    def __init__(self, pid: int) -> None:
        self.pid, self.baseline = pid, rss_mb(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))

    @property
    def growth_mb(self) -> float:
        return self.peak - self.baseline


def endpoint_export(server: Server, params: dict[str, str]) -> dict[str, Any]:
    """One whole export through the server: seconds, bytes, rows, worker RSS growth."""
    [worker] = server.worker_pids()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=3600)
    with RssSampler(worker) as rss:
        started = time.perf_counter()
        conn.request("GET", "/api/jobs/export.csv?" + urlencode(params))
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"export answered {response.status}: {response.read()[:300]!r}")
        size = lines = 0
        while chunk := response.read(READ_BYTES):
            size += len(chunk)
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "bytes": size, "newlines": lines, "rss_growth_mb": rss.growth_mb}


def psql_export(url: str, statement: str) -> dict[str, Any]:
    """The same COPY run by psql into a pipe: seconds and bytes."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", benchdb.libpq_url(url), "-c", statement],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    size = lines = 0
    while chunk := process.stdout.read(READ_BYTES):
        size += len(chunk)
        lines += chunk.count(b"\n")
    if process.wait() != 0:
        raise RuntimeError("psql failed")
    return {"seconds": time.perf_counter() - started, "bytes": size, "newlines": lines}


def export_running(url: str) -> bool:
    """Whether an export statement is still running on the server (seen from another session)."""
    with psycopg.connect(benchdb.libpq_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active' "
            "AND application_name LIKE 'jobdash%%' AND pid <> pg_backend_pid()",
            (EXPORT_QUERY,),
        ).fetchone()
    return bool(row and row[0])


def disconnect(server: Server, url: str) -> float:
    """Read 1 MB of the whole-table export, close the socket: seconds until the statement is gone."""
    sock = socket.create_connection((HOST, server.port))
    sock.sendall(f"GET /api/jobs/export.csv HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    received = 0
    while received < READ_BYTES:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the export ended before 1 MB")
        received += len(data)
    if not export_running(url):
        raise RuntimeError("the export finished before the client went: use a larger database")
    sock.close()
    closed = time.perf_counter()
    while export_running(url):
        if time.perf_counter() - closed > 60:
            raise RuntimeError("the export statement still runs 60 s after the client went")
        time.sleep(0.005)
    return time.perf_counter() - closed


def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """Every measurement, in one run."""
    url = benchdb.ready_database(args.size, args.ci, log)
    with psycopg.connect(benchdb.libpq_url(url)) as conn:
        jobs = conn.execute("SELECT count(*) FROM job").fetchone()[0]  # type: ignore[index]
    statements = {name: copy_statement(url, params) for name, params in VIEWS.items()}
    env = base_env(url, JOBDASH_EXPORT_STATEMENT_TIMEOUT_MS="0")
    results: dict[str, Any] = {"jobs": jobs, "views": {}}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {v: {"endpoint": [], "copy": []} for v in VIEWS}
    with running(
        PortPool(), app_server, "export-app", env, ROOT / "benchmarks" / "results" / "logs"
    ) as server:
        conn = http.client.HTTPConnection(HOST, server.port)
        conn.request("GET", "/api/jobs/?page_size=1")  # a warm worker: its baseline is a serving one
        conn.getresponse().read()
        conn.close()
        for round_no in range(args.rounds):
            for name, params in VIEWS.items():
                order = ["endpoint", "copy"] if round_no % 2 == 0 else ["copy", "endpoint"]
                for side in order:
                    if side == "endpoint":
                        sample = endpoint_export(server, params)
                    else:
                        sample = psql_export(url, statements[name])
                    if side == "copy":  # psql's own start and connection are not COPY's work
                        sample["startup_s"] = psql_export(url, "COPY (SELECT 1) TO STDOUT")["seconds"]
                        sample["seconds"] = max(sample["seconds"] - sample["startup_s"], 1e-6)
                    samples[name][side].append(sample)
                    log(
                        f"round {round_no + 1} {name} {side}: "
                        f"{sample['seconds']:.2f} s, {sample['bytes']:,} B"
                    )
        disconnects = [disconnect(server, url) for _ in range(args.disconnects)] if jobs > 50_000 else []
        log(f"disconnect to query gone: {[f'{d * 1000:.0f} ms' for d in disconnects]}")
    for name, sides in samples.items():
        endpoint, copy = sides["endpoint"], sides["copy"]
        if {s["bytes"] for s in endpoint} != {s["bytes"] for s in copy}:
            raise RuntimeError(f"{name}: the endpoint and COPY sent different bytes")
        rows = endpoint[0]["newlines"] - 1  # the header; names hold no newline in seeded data
        ours = statistics.median(s["seconds"] for s in endpoint)
        floor = statistics.median(s["seconds"] for s in copy)
        results["views"][name] = {
            "rows": rows,
            "bytes": endpoint[0]["bytes"],
            "endpoint_s": ours,
            "copy_s": floor,
            "endpoint_rows_per_s": rows / ours,
            "copy_rows_per_s": rows / floor,
            "ratio": floor / ours,
            "rss_growth_mb": max(s["rss_growth_mb"] for s in endpoint),
            "samples": sides,
        }
    results["disconnect_ms"] = [d * 1000 for d in disconnects]
    return results


def markdown(results: dict[str, Any]) -> str:
    """The section of docs/performance.md."""
    lines = [
        "## CSV export",
        "",
        f"`{results['command']}` — {results['started']}, {results['jobs']:,} jobs, "
        f"load {' → '.join(results['load'])}.",
        "`GET /api/jobs/export.csv` through `jobdash serve` (1 worker) against PostgreSQL's own "
        "`COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)` of the same statement through `psql` (the "
        "floor, same bytes, psql's own start-up subtracted), medians of alternating rounds; RSS growth is "
        "the worker's peak during the "
        "export above its resident set before it.",
        "",
        "| view | rows | CSV | endpoint | rows/s | COPY via psql | rows/s | ratio (≥ 0.5) "
        "| worker RSS growth (< 50 MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, v in results["views"].items():
        lines.append(
            f"| {name} | {v['rows']:,} | {v['bytes'] / 1e6:,.0f} MB | {v['endpoint_s']:.2f} s | "
            f"{v['endpoint_rows_per_s']:,.0f} | {v['copy_s']:.2f} s | {v['copy_rows_per_s']:,.0f} | "
            f"{v['ratio']:.2f} | {v['rss_growth_mb']:.1f} MB |"
        )
    if results["disconnect_ms"]:
        d = results["disconnect_ms"]
        lines += [
            "",
            "A client that reads 1 MB of the whole-table export and closes its socket: the COPY is gone from "
            f"`pg_stat_activity` {statistics.median(d):.0f} ms later (median of {len(d)}; "
            f"{min(d):.0f} to {max(d):.0f} ms).",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and (unless --ci) write docs/performance.md's section and docs/export_csv.json."""
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, flush=True)

    load = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = run(args, log)
    load.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    command = " ".join(["python benchmarks/export_csv.py", *(argv if argv is not None else sys.argv[1:])])
    results = {"command": command.strip(), "started": started, "load": load, **results}
    text = markdown(results)
    print(text)
    sections.publish("export_csv", "export", results, text, ci=args.ci)
    return 0


if __name__ == "__main__":
    sys.exit(main())
