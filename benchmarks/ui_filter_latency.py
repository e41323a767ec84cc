"""Time from a filter change in the browser to the /jobs table showing the new rows.

Starts the dashboard on 127.0.0.1 (a thread of this process) against an existing database, drives headless
Chromium, and toggles status filters N times. Each round is timed inside the page: from the click on a status
chip to the first animation frame where the table holds exactly the rows the data layer returns for the new
filter (so a stale or partial table never counts as done). Bounded: N rounds, each with a timeout.

    JOBDASH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/jobdash_ui_bench \\
        python benchmarks/ui_filter_latency.py --rounds 40
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.database import database_of
from dashboard.settings import Settings
from db.queries import JobFilter, count_jobs, list_jobs

CHIPS = {"FAILED": "Failed", "CANCELLED": "Cancelled", "COMPLETED": "Completed"}
# Clicks the chip, then checks every animation frame whether the table shows the expected ids.
TIMED_CLICK = """
const [label, expected, done] = arguments;
const shown = () => Array.from(document.querySelectorAll('#jobs-rows tr.job-row'))
    .map(row => Number(row.dataset.jobId));
const same = () => {
    const ids = shown();
    return ids.length === expected.length && ids.every((id, i) => id === expected[i]);
};
const chip = Array.from(document.querySelectorAll('#jobs-status label'))
    .find(l => l.textContent.trim() === label);
const start = performance.now();
chip.click();
const check = () => same() ? done(performance.now() - start) : requestAnimationFrame(check);
requestAnimationFrame(check);
"""


def first_page_ids(app: Any, statuses: list[str], page_size: int) -> list[int]:
    """What the data layer returns for the filter: the rows the table must end up showing."""
    database = database_of(app.server)
    with database.read() as conn:
        page = list_jobs(conn, filters=JobFilter.build(statuses=statuses), page_size=page_size)
    return [row["id"] for row in page.results]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="filter changes to time (default 40)")
    parser.add_argument("--port", type=int, default=8065, help="loopback port for the server (default 8065)")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=30, help="seconds one round may take")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")

    settings = Settings.from_env(log_level="WARNING", cache_ttl=0)
    app = create_app(settings)
    with database_of(app.server).read() as conn:
        total = count_jobs(conn)
    server = make_server("127.0.0.1", args.port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    options = Options()
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options)
    driver.set_script_timeout(args.timeout)
    timings: list[float] = []
    try:
        base = f"http://127.0.0.1:{args.port}/jobs?page_size={args.page_size}"
        driver.get(base)
        deadline = time.monotonic() + args.timeout
        while not driver.find_elements("css selector", "#jobs-rows tr.job-row"):
            if time.monotonic() > deadline:
                raise TimeoutError("the table never loaded")
            time.sleep(0.05)
        chips = list(CHIPS)
        warmup = 2
        for round_number in range(args.rounds + warmup):
            status = chips[(round_number // 2) % len(chips)]
            # Even rounds add the status filter, odd rounds remove it again: every change shows new rows.
            statuses = [status] if round_number % 2 == 0 else []
            expected = first_page_ids(app, statuses, args.page_size)
            elapsed = driver.execute_async_script(TIMED_CLICK, CHIPS[status], expected)
            if round_number >= warmup:
                timings.append(float(elapsed))
    finally:
        driver.quit()
        server.shutdown()
        database_of(app.server).dispose()

    print(f"database: {settings.database_url.split('@')[-1]}  ({total.value:,} jobs, count {total.kind})")
    print(f"rounds: {len(timings)}  page size: {args.page_size}")
    print(
        f"filter change -> table updated: median {statistics.median(timings):.0f} ms, "
        f"p95 {percentile(timings, 0.95):.0f} ms, min {min(timings):.0f} ms, max {max(timings):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("JOBDASH_LOG_LEVEL", "WARNING")
    sys.exit(main())
