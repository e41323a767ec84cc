"""p50 / p95 of ``GET /api/jobs/`` over HTTP against a real gunicorn on a seeded PostgreSQL database.

    JOBDASH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/jobdash_api_bench \\
        python benchmarks/api_latency.py --requests 300

Starts ``jobdash serve`` itself (one worker, cache off, loopback only), waits for /livez, sends the
requests one after another over one keep-alive connection, prints a table, and stops the server.
Everything is bounded: a start-up timeout, a per-request timeout and an overall deadline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

HOST = "127.0.0.1"  # loopback only, by design
VARIANTS = {
    "default (newest first)": "/api/jobs/",
    "status=FAILED": "/api/jobs/?status=FAILED",
    "status=RUNNING,FAILED -updated_at": "/api/jobs/?status=RUNNING,FAILED&ordering=-updated_at",
    "ordering=name page_size=200": "/api/jobs/?ordering=name&page_size=200",
    "created range (90 to 60 days ago)": "/api/jobs/?created_after={d90}&created_before={d60}",
    "q=email (name substring)": "/api/jobs/?q=email",
    "deep page (cursor 50 pages in)": None,  # filled in by following `next`
}
_DB = re.compile(r"db;dur=([\d.]+)")


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def wait_until_live(port: int, deadline: float) -> None:
    """Poll /livez until it answers 200 or the deadline passes."""
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=1)
            conn.request("GET", "/livez")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become live in time")


def deep_page_url(conn: http.client.HTTPConnection, pages: int) -> str:
    """The URL of the page ``pages`` links after the first."""
    url = "/api/jobs/"
    for _ in range(pages):
        conn.request("GET", url)
        url = json.loads(conn.getresponse().read())["next"]
    return url


def measure(conn: http.client.HTTPConnection, url: str, count: int, deadline: float) -> dict[str, float]:
    """Latency figures (ms) of ``count`` sequential GETs of ``url``."""
    for _ in range(10):  # warm-up: connection, pools, plan caches
        conn.request("GET", url)
        conn.getresponse().read()
    wall, db = [], []
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        conn.request("GET", url)
        response = conn.getresponse()
        response.read()
        wall.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
        match = _DB.search(response.getheader("Server-Timing", ""))
        db.append(float(match.group(1)) if match else 0.0)
    return {
        "n": len(wall),
        "p50": statistics.median(wall),
        "p95": percentile(wall, 95),
        "p99": percentile(wall, 99),
        "max": max(wall),
        "db_p50": statistics.median(db),
    }


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8071, help="loopback port to serve on (8070-8079)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per variant")
    parser.add_argument("--deadline", type=float, default=300, help="seconds before giving up on the rest")
    args = parser.parse_args()
    database_url = os.environ.get("JOBDASH_DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set JOBDASH_DATABASE_URL to a seeded PostgreSQL database")
    jobdash = Path(sys.executable).with_name("jobdash")
    env = os.environ | {"JOBDASH_CACHE_TTL": "0", "JOBDASH_LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": "1"}
    with tempfile.TemporaryFile() as server_log:
        server = subprocess.Popen(
            [str(jobdash), "serve", "--bind", f"{HOST}:{args.port}", "--workers", "1"],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + args.deadline
        try:
            wait_until_live(args.port, time.monotonic() + 30)
            conn = http.client.HTTPConnection(HOST, args.port, timeout=10)
            database = urlsplit(database_url).path.lstrip("/")
            print(f"GET /api/jobs/ on {database}, {args.requests} requests each")
            print(f"{'variant':36} {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'db p50':>7}  (ms)")
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            days_ago = {
                f"d{n}": (now - dt.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ") for n in (60, 90)
            }
            for name, template in VARIANTS.items():
                url = template.format(**days_ago) if template else deep_page_url(conn, 50)
                row = measure(conn, url, args.requests, deadline)
                print(
                    f"{name:36} {row['n']:>4} {row['p50']:7.2f} {row['p95']:7.2f} {row['p99']:7.2f} "
                    f"{row['max']:7.2f} {row['db_p50']:7.2f}"
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            if server.returncode not in (0, -signal.SIGTERM):
                server_log.seek(0)
                sys.stderr.write(server_log.read().decode(errors="replace")[-4000:])


if __name__ == "__main__":
    main()
