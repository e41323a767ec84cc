"""Dashboard speed: each page's callbacks over HTTP, clicks in Chromium, bytes on the wire, Lighthouse.

Usage (from the repository root; the read-only databases ``jobdash_bench_10k`` / ``jobdash_bench_1m``)::

    python benchmarks/dashboard_speed.py                            # 10k and 1m; before, after, floor
    python benchmarks/dashboard_speed.py --sizes 1m --servers after --no-lighthouse

For each size it starts, one at a time, under gunicorn with 1 worker and no cache:

- ``after``: this checkout (``jobdash serve``);
- ``before``: the dashboard as it was (``--baseline-rev``, default the merge base with ``main``), from a
  ``git worktree`` of that commit on the same database;
- ``floor``: ``benchmarks/bare_dash_app.py``, a bare Dash app showing the same 50-row page.

and measures, against each:

1. **Browser** (headless Debian Chromium through chromedriver): loads ``/jobs``, clicks Next, clicks the
   Failed status chip, loads ``/`` and clicks a range button, loads a job page, recording every callback
   request the page sends (Chromium's network log). Each click is then timed ``--clicks`` times inside
   the page, from the click to the first animation frame showing the new rows (the ids the API gives for
   that page) or the new charts (the created chart's x axis starting on the range's first day). The JS
   heap (after a forced garbage collection) is read before and after ``--heap-pages`` Next clicks.
2. **HTTP**: every recorded callback request is replayed with one keep-alive client (``--requests``
   times; ``Accept-Encoding: gzip, br`` as a browser sends it: sizes are bytes on the wire) and with 16
   clients for ``--load-seconds`` (wrk), beside the API's answer for the same page.
3. **Bytes on the wire** of a first load of each page (fresh profile, cache disabled): the sum of every
   response's encoded length, until the network has been idle for a second.
4. **Lighthouse** 12.2.3 (``benchmarks/lighthouse``, installed with ``npm ci`` when missing) on each
   page, desktop and mobile presets, Debian's Chromium.

Results: ``docs/dashboard_speed.json`` (merged per size and server, so a partial run keeps the others)
and the ``dashboard`` section of ``docs/performance.md``. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import psycopg
import sections
from client import KeepAliveClient, Measurement, expect_ok, percentile, run_threads
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from servers import HOST, ROOT, PortPool, Server, app_server, base_env, floor_server

DOCS = ROOT / "docs"
RESULTS = DOCS / "dashboard_speed.json"
LIGHTHOUSE_DIR = ROOT / "benchmarks" / "lighthouse"
ENCODINGS = {"Accept-Encoding": "gzip, deflate, br"}
PAGE_SIZE = 50
NOTHING = " (204: nothing to change)"
CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    "--enable-precise-memory-info",
)
# Time from a click to the first frame where `done()` holds; rejects after `limit` ms.
TIMED_CLICK = """
const [selector, text, condition, limit, finish] = arguments;
const ready = new Function(condition);
const target = Array.from(document.querySelectorAll(selector))
    .find(el => text === null || el.textContent.trim() === text);
if (!target) { finish(-1); return; }
const start = performance.now();
target.click();
const check = () => {
    const elapsed = performance.now() - start;
    if (ready()) { finish(elapsed); } else if (elapsed > limit) { finish(-2); }
    else { requestAnimationFrame(check); }
};
requestAnimationFrame(check);
"""
ROW_IDS = "Array.from(document.querySelectorAll('#jobs-rows tr.job-row')).map(r => Number(r.dataset.jobId))"


def rows_are(ids: list[int]) -> str:
    """A JS condition: the table shows exactly ``ids``."""
    shown = json.dumps(json.dumps(ids, separators=(",", ":")))
    return f"const ids = {ROW_IDS}; return JSON.stringify(ids) === {shown};"


def chart_starts(day: str) -> str:
    """A JS condition: the created-over-time chart's x axis starts on ``day`` (YYYY-MM-DD), whether the
    chart is drawn as SVG (its ``data-x-start``) or, by an older dashboard, with plotly.js."""
    return (
        "const svg = document.querySelector('#overview-created svg.chart-svg[data-x-start]');"
        "const gd = document.querySelector('#overview-created .js-plotly-plot');"
        "const range = svg ? [svg.dataset.xStart]"
        " : gd && gd._fullLayout && gd._fullLayout.xaxis && gd._fullLayout.xaxis.range;"
        f"return Boolean(range) && String(range[0]).startsWith({json.dumps(day)});"
    )


CHART_DRAWN = (
    "return Boolean(document.querySelector('#overview-created svg.chart-svg, #overview-created .main-svg'));"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,1m")
    parser.add_argument("--servers", default="before,after,floor")
    parser.add_argument("--baseline-rev", default=None, help="the dashboard before (default: merge base)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per callback")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=8.0, help="per 16-client load")
    parser.add_argument("--clicks", type=int, default=30, help="timed clicks of each kind")
    parser.add_argument("--heap-pages", type=int, default=150)
    parser.add_argument("--lighthouse", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--lighthouse-runs", type=int, default=1, help="runs per page and preset (median)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (merged)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------------------------- servers


def default_baseline() -> str:
    """The merge base of this checkout with ``main``: the dashboard before this branch's changes."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``rev`` in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="jobdash-before-"))
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


@contextlib.contextmanager
def started(kind: str, url: str, pool: PortPool, log_dir: Path, baseline: Path | None) -> Iterator[Server]:
    """The server of ``kind`` (before, after, floor) on the database at ``url``, stopped afterwards."""
    port = pool.take()
    try:
        env = base_env(url)
        if kind == "floor":
            server = floor_server(
                f"dash-floor-{port}",
                port,
                env,
                log_dir,
                target="bare_dash_app:server",
                ready_path="/floor/dash/readyz",
            )
        else:
            server = app_server(f"dash-{kind}-{port}", port, env, log_dir, workers=1)
            if kind == "before":
                assert baseline is not None
                server.env = {**env, "PYTHONPATH": str(baseline)}
                server.cwd = baseline
        with server:
            yield server
    finally:
        pool.give_back(port)


# --------------------------------------------------------------------------------------------- browser


def chrome(*, log_network: bool) -> webdriver.Chrome:
    """Headless Debian Chromium; with ``log_network``, its network events are kept for reading."""
    options = Options()
    for argument in CHROME_ARGS:
        options.add_argument(argument)
    if log_network:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options)
    driver.set_script_timeout(60)
    return driver


def network_events(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The network events logged since the last call."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method", "").startswith("Network."):
            events.append(message)
    return events


def callback_requests(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``_dash-update-component`` requests among ``events``: path and JSON body."""
    found = []
    for event in events:
        if event["method"] != "Network.requestWillBeSent":
            continue
        request = event["params"]["request"]
        url = urlsplit(request["url"])
        if not url.path.endswith("_dash-update-component"):
            continue
        # Newer Chromium sends the body as base64 entries; older ones as text.
        body = request.get("postData") or "".join(
            base64.b64decode(entry.get("bytes", "")).decode() for entry in request.get("postDataEntries", [])
        )
        if body:
            found.append({"path": url.path + (f"?{url.query}" if url.query else ""), "body": body})
    return found


def wait_until(driver: webdriver.Chrome, condition: str, timeout: float = 60) -> None:
    """Poll the JS ``condition`` (a function body) until it returns true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if driver.execute_script(condition):
                return
        time.sleep(0.05)
    raise TimeoutError(f"the page never met: {condition[:200]}")


def timed_click(driver: webdriver.Chrome, selector: str, text: str | None, condition: str) -> float:
    """Milliseconds from clicking the element to the first frame where ``condition`` holds."""
    elapsed = float(driver.execute_async_script(TIMED_CLICK, selector, text, condition, 30_000))
    if elapsed < 0:
        raise RuntimeError(
            f"click on {selector} {text!r}: {'no such element' if elapsed == -1 else 'timed out'}"
        )
    return elapsed


def heap_mb(driver: webdriver.Chrome) -> float:
    """Used JS heap after a full garbage collection, in MB."""
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    return float(driver.execute_script("return performance.memory.usedJSHeapSize;")) / 1e6


def api_ids(client: KeepAliveClient, path: str) -> tuple[list[int], str | None]:
    """The ids of the API's page at ``path`` and its next link."""
    page = expect_ok(client.get(path), path).json()
    return [row["id"] for row in page["results"]], page.get("next")


def summary(samples: list[float]) -> dict[str, float]:
    """Median, p95 and count of click timings."""
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 1),
        "p95": round(percentile(ordered, 0.95), 1),
        "n": len(ordered),
    }


def range_day(label: str) -> tuple[str, str]:
    """The overview's first day for a range button, and a word its caption shows (before and after)."""
    now = dt.datetime.now(dt.UTC)
    spans = {"7d": (dt.timedelta(days=7), "hour"), "30d": (dt.timedelta(days=30), "day")}
    span, bucket = spans[label]
    if bucket == "hour":
        until = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    else:
        until = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    return (until - span).strftime("%Y-%m-%d"), label


def browse(
    base: str, api: KeepAliveClient, args: argparse.Namespace, *, job_id: int, floor: bool
) -> dict[str, Any]:
    """Record each page's callbacks and time the clicks (see the module docstring)."""
    driver = chrome(log_network=True)
    out: dict[str, Any] = {"callbacks": {}, "clicks": {}}
    try:
        jobs_url = f"{base}/floor/dash/" if floor else f"{base}/jobs"
        first, next_link = api_ids(api, f"/api/jobs/?page_size={PAGE_SIZE}")
        second, _ = api_ids(api, next_link or "")
        failed, _ = api_ids(api, f"/api/jobs/?status=FAILED&page_size={PAGE_SIZE}")
        network_events(driver)
        driver.get(jobs_url)
        wait_until(driver, rows_are(first))
        out["callbacks"]["jobs: load"] = callback_requests(network_events(driver))
        timed_click(driver, "#jobs-next", None, rows_are(second))
        out["callbacks"]["jobs: Next"] = callback_requests(network_events(driver))
        chip = "#jobs-status label"
        timed_click(driver, chip, "Failed", rows_are(failed))
        out["callbacks"]["jobs: status filter"] = callback_requests(network_events(driver))
        # Filter clicks: Failed off (first page of all jobs), on again (first page of failures).
        samples = []
        for number in range(args.clicks):
            samples.append(
                timed_click(driver, chip, "Failed", rows_are(first if number % 2 == 0 else failed))
            )
        out["clicks"]["status filter"] = summary(samples)
        # Next clicks: from the first page each time, so the expected rows are known.
        samples = []
        for _ in range(args.clicks):
            driver.get(jobs_url)
            wait_until(driver, rows_are(first))
            samples.append(timed_click(driver, "#jobs-next", None, rows_are(second)))
        out["clicks"]["Next"] = summary(samples)
        # JS heap over many pages.
        driver.get(jobs_url)
        wait_until(driver, rows_are(first))
        before = heap_mb(driver)
        shown = first
        for _ in range(args.heap_pages):
            script = f"const ids = {ROW_IDS}; return ids.length > 0 && ids[0] !== {shown[0]};"
            timed_click(driver, "#jobs-next", None, script)
            shown = list(driver.execute_script(f"return {ROW_IDS};"))
        out["heap"] = {
            "pages": args.heap_pages,
            "start_mb": round(before, 2),
            "end_mb": round(heap_mb(driver), 2),
        }
        out["heap"]["growth_mb"] = round(out["heap"]["end_mb"] - before, 2)
        network_events(driver)
        if floor:
            return out
        # Overview: load, then range buttons (7d and 30d in turn).
        driver.get(f"{base}/")
        day30, _ = range_day("30d")
        day7, _ = range_day("7d")
        wait_until(driver, chart_starts(day30))
        out["callbacks"]["overview: load"] = callback_requests(network_events(driver))
        timed_click(driver, "#overview-range label", "7d", chart_starts(day7))
        out["callbacks"]["overview: range"] = callback_requests(network_events(driver))
        samples = []
        for number in range(args.clicks):
            label, day = ("30d", day30) if number % 2 == 0 else ("7d", day7)
            samples.append(timed_click(driver, "#overview-range label", label, chart_starts(day)))
        out["clicks"]["range button"] = summary(samples)
        network_events(driver)
        driver.get(f"{base}/jobs/{job_id}")
        wait_until(driver, "return document.querySelectorAll('#job-history-rows tr.history-row').length > 0;")
        time.sleep(0.5)
        out["callbacks"]["job: load"] = callback_requests(network_events(driver))
    finally:
        driver.quit()
    return out


def first_load_bytes(url: str, ready: str) -> dict[str, Any]:
    """Bytes on the wire (encoded) and requests of a first load of ``url``, cache disabled."""
    driver = chrome(log_network=True)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        network_events(driver)
        driver.get(url)
        wait_until(driver, ready)
        sizes: dict[str, float] = {}
        urls: dict[str, str] = {}
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 30
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
            events = network_events(driver)
            for event in events:
                params = event["params"]
                if event["method"] == "Network.requestWillBeSent":
                    urls[params["requestId"]] = params["request"]["url"]
                elif event["method"] == "Network.loadingFinished":
                    sizes[params["requestId"]] = params["encodedDataLength"]
            if events:
                quiet_since = time.monotonic()
            time.sleep(0.1)
    finally:
        driver.quit()
    by_url = sorted(((int(size), urls.get(rid, "?")) for rid, size in sizes.items()), reverse=True)
    return {"bytes": int(sum(sizes.values())), "requests": len(sizes), "largest": by_url[:6]}


# ------------------------------------------------------------------------------------------------ HTTP


def replay(port: int, method: str, path: str, body: bytes | None, args: argparse.Namespace) -> dict[str, Any]:
    """One request (a recorded callback, or an API page) timed with one client, then with 16."""
    headers = {"Content-Type": "application/json", **ENCODINGS} if body else ENCODINGS
    client = KeepAliveClient(HOST, port)
    measurement = Measurement()
    sizes = []

    def send(request_headers: dict[str, str]) -> Any:
        response = client.request(method, path, body, request_headers)
        # 204: a callback that found nothing to change (Dash's PreventUpdate), a valid answer.
        return response if response.status == 204 else expect_ok(response, path)

    for number in range(args.warmup + args.requests):
        response = send(headers)
        if number >= args.warmup:
            measurement.add_response(response)
            sizes.append(len(response.body))
    plain = send({k: v for k, v in headers.items() if k != "Accept-Encoding"})
    client.close()
    load = run_threads(
        HOST,
        port,
        [path],
        connections=16,
        seconds=args.load_seconds,
        make_request=lambda c, _i: c.request(method, path, body, headers),
        expected_status=plain.status,
    )
    return {
        "status": plain.status,
        **measurement.result(),
        "bytes": int(statistics.median(sizes)),
        "bytes_uncompressed": len(plain.body),
        "load16": {k: load[k] for k in ("requests_per_s", "p50", "p99", "errors", "tool")},
    }


def replay_callback(port: int, request: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A recorded callback request, named by its outputs."""
    output = json.loads(request["body"]).get("output", "")
    return {"output": output, **replay(port, "POST", request["path"], request["body"].encode(), args)}


# ------------------------------------------------------------------------------------------ Lighthouse


def lighthouse_ready() -> Path:
    """The lighthouse CLI of ``benchmarks/lighthouse``, installed with ``npm ci`` when missing."""
    cli = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not cli.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LIGHTHOUSE_DIR, check=True, timeout=900)
    return cli


def lighthouse(url: str, preset: str, runs: int) -> dict[str, Any]:
    """Performance and accessibility of ``url`` (median performance of ``runs``)."""
    cli = lighthouse_ready()
    reports = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report.json"
            command = [
                str(cli),
                url,
                "--quiet",
                "--output=json",
                f"--output-path={out}",
                "--only-categories=performance,accessibility",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
                "--max-wait-for-load=60000",
            ]
            if preset == "desktop":
                command.append("--preset=desktop")
            env = {**os.environ, "CHROME_PATH": shutil.which("chromium") or "/usr/bin/chromium"}
            for attempt in (
                1,
                2,
                3,
            ):  # on a loaded machine Chromium now and then misses Lighthouse's deadlines
                done = subprocess.run(
                    command, env=env, check=False, timeout=600, capture_output=True, text=True
                )
                if done.returncode == 0:
                    reports.append(json.loads(out.read_text()))
                    break
                if attempt == 3:
                    return {"error": done.stderr.strip()[-300:]}
    reports.sort(key=lambda r: r["categories"]["performance"]["score"] or 0)
    report = reports[len(reports) // 2]
    audits = report["audits"]
    failing = sorted(
        audit_id
        for audit_id, audit in audits.items()
        if audit.get("score") == 0
        and audit_id in {ref["id"] for ref in report["categories"]["accessibility"]["auditRefs"]}
    )
    return {
        "performance": round((report["categories"]["performance"]["score"] or 0) * 100),
        "accessibility": round((report["categories"]["accessibility"]["score"] or 0) * 100),
        "fcp_ms": round(audits["first-contentful-paint"]["numericValue"]),
        "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
        "tbt_ms": round(audits["total-blocking-time"]["numericValue"]),
        "cls": round(audits["cumulative-layout-shift"]["numericValue"], 3),
        "bytes": round(audits["total-byte-weight"]["numericValue"]),
        "accessibility_failures": failing,
        "runs": runs,
    }


# ------------------------------------------------------------------------------------------------- run


def a_job_with_history(url: str) -> int:
    """A job with several events (the newest such), for the job page."""
    with psycopg.connect(benchdb.libpq_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT job_id FROM job_status WHERE job_id > (SELECT max(id) - 1000 FROM job) "
            "GROUP BY job_id HAVING count(*) >= 3 ORDER BY job_id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise RuntimeError("no job with a history in the benchmark database")
    return int(row[0])


def measure(
    kind: str, size: str, args: argparse.Namespace, pool: PortPool, baseline: Path | None, log: Any
) -> dict[str, Any]:
    """Every measurement of one server at one size."""
    url = benchdb.database_url(size)
    job_id = a_job_with_history(url)
    out: dict[str, Any] = {"measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    log_dir = ROOT / "benchmarks" / "results" / "logs"
    # The API answers (the same pages) come from this checkout's server: the reference for every ratio.
    with started(kind, url, pool, log_dir, baseline) as server:
        base = f"http://{HOST}:{server.port}"
        with (
            started("after", url, pool, log_dir, None)
            if kind == "floor"
            else contextlib.nullcontext(server) as api_server
        ):
            api = KeepAliveClient(HOST, api_server.port)
            log(f"  {kind}: browser ...")
            browsed = browse(base, api, args, job_id=job_id, floor=kind == "floor")
            out["clicks"], out["heap"] = browsed["clicks"], browsed["heap"]
            if kind != "floor":
                log(f"  {kind}: API pages ...")
                _, next_link = api_ids(api, f"/api/jobs/?page_size={PAGE_SIZE}")
                api_pages = {
                    "first page": f"/api/jobs/?page_size={PAGE_SIZE}",
                    "next page": next_link or "",
                    "failed": f"/api/jobs/?status=FAILED&page_size={PAGE_SIZE}",
                }
                out["api"] = {
                    name: replay(server.port, "GET", path, None, args) for name, path in api_pages.items()
                }
            api.close()
        log(f"  {kind}: callbacks ...")
        out["callbacks"] = {
            action: [replay_callback(server.port, request, args) for request in requests]
            for action, requests in browsed["callbacks"].items()
        }
        log(f"  {kind}: bytes on the wire ...")
        rows = "return document.querySelectorAll('#jobs-rows tr.job-row').length > 0;"
        pages = {"/jobs": ("/floor/dash/" if kind == "floor" else "/jobs", rows)}
        if kind != "floor":
            pages["/"] = ("/", CHART_DRAWN)
            pages["/jobs/<id>"] = (
                f"/jobs/{job_id}",
                "return document.querySelectorAll('#job-history-rows tr').length > 0;",
            )
        out["first_load"] = {
            name: first_load_bytes(base + path, ready) for name, (path, ready) in pages.items()
        }
        if args.lighthouse and kind != "floor":
            out["lighthouse"] = {}
            for name, (path, _ready) in pages.items():
                for preset in ("desktop", "mobile"):
                    log(f"  {kind}: lighthouse {name} {preset} ...")
                    out["lighthouse"][f"{name} {preset}"] = lighthouse(
                        base + path, preset, args.lighthouse_runs
                    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure, merge into ``docs/dashboard_speed.json``, write the section of ``docs/performance.md``."""
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, flush=True)

    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    results = json.loads(args.out.read_text()) if args.out.exists() else {"sizes": {}}
    rev = args.baseline_rev or default_baseline()
    results["command"] = "python benchmarks/dashboard_speed.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    results["baseline_rev"] = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True, check=True
    ).stdout.strip()
    pool = PortPool()
    with checkout(rev) if "before" in kinds else contextlib.nullcontext(None) as baseline:
        for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
            url = benchdb.database_url(size)
            state = benchdb.describe(url)
            if not state or not state.get("jobs"):
                raise SystemExit(
                    f"{url.rsplit('/', 1)[-1]} is missing or empty: these databases are read-only here"
                )
            log(f"== {size} ({state['jobs']:,} jobs)")
            entry = results["sizes"].setdefault(size, {"jobs": state["jobs"]})
            for kind in kinds:
                entry[kind] = measure(kind, size, args, pool, baseline, log)
                entry[kind]["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
                args.out.write_text(json.dumps(results, indent=1) + "\n")
    text = markdown(results)
    if not args.no_docs:
        sections.write_section(DOCS / "performance.md", "dashboard", text)
    print(text)
    return 0


# -------------------------------------------------------------------------------------------- report


def _main_callback(entry: dict[str, Any], action: str) -> dict[str, Any] | None:
    """The callback of ``action`` that carries the most bytes (the one that renders the data)."""
    found = entry.get("callbacks", {}).get(action) or []
    return max(found, key=lambda c: c["bytes_uncompressed"], default=None)


def _kb(value: float | None) -> str:
    return "" if value is None else f"{value / 1024:.1f} KB"


def markdown(results: dict[str, Any]) -> str:
    """The ``dashboard`` section of ``docs/performance.md``."""
    lines = [
        "## The dashboard (`benchmarks/dashboard_speed.py`)",
        "",
        f"Command: `{results['command']}`; before = `{results['baseline_rev']}`. "
        "One gunicorn worker, uncached, "
        "PostgreSQL. Callbacks are the requests the browser sent, replayed with `Accept-Encoding: gzip, br` "
        "(sizes are bytes on the wire; uncompressed in brackets); 16 clients are Python threads (a lower "
        "bound on this 2-core machine, the same for every row). Clicks are medians in headless Chromium, "
        "from the click to the frame showing the new rows or charts.",
        "",
    ]
    for size, entry in results["sizes"].items():
        lines += [f"### {entry['jobs']:,} jobs ({size})", ""]
        lines += [
            "| what | server | p50 ms | bytes | 16 clients req/s |",
            "|---|---|---|---|---|",
        ]
        for kind in ("before", "after", "floor"):
            data = entry.get(kind)
            if not data:
                continue
            for name, api in data.get("api", {}).items():
                lines.append(
                    f"| API {name} | {kind} | {api['p50']:.2f} | "
                    f"{_kb(api['bytes'])} ({_kb(api['bytes_uncompressed'])}) "
                    f"| {api['load16']['requests_per_s']:.0f} |"
                )
            for action, calls in data.get("callbacks", {}).items():
                for call in calls:
                    lines.append(
                        f"| {action}: `{call['output'][:60]}`{NOTHING if call.get('status') == 204 else ''} "
                        f"| {kind} | {call['p50']:.2f} | "
                        f"{_kb(call['bytes'])} "
                        f"({_kb(call['bytes_uncompressed'])}) | {call['load16']['requests_per_s']:.0f} |"
                    )
        lines += [
            "",
            "| browser | " + " | ".join(k for k in ("before", "after", "floor") if k in entry) + " |",
        ]
        lines.append("|---|" + "---|" * sum(1 for k in ("before", "after", "floor") if k in entry))
        rows: dict[str, list[str]] = {}
        for kind in ("before", "after", "floor"):
            data = entry.get(kind)
            if not data:
                continue
            for click in ("Next", "status filter", "range button"):
                value = data.get("clicks", {}).get(click)
                rows.setdefault(f"{click} click → shown, median ms", []).append(
                    f"{value['median']:.0f}" if value else ""
                )
            heap = data.get("heap")
            rows.setdefault(f"JS heap growth over {heap['pages'] if heap else 150} pages", []).append(
                f"{heap['growth_mb']:+.2f} MB" if heap else ""
            )
            for page, load in data.get("first_load", {}).items():
                rows.setdefault(f"first load of `{page}`, bytes on the wire", []).append(
                    f"{load['bytes'] / 1024:.0f} KB ({load['requests']} requests)"
                )
        lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows.items()]
        lighthouse_rows = []
        for kind in ("before", "after"):
            for name, lh in entry.get(kind, {}).get("lighthouse", {}).items():
                if "error" in lh:
                    lighthouse_rows.append(f"| `{name}` | {kind} | failed three times: {lh['error'][:80]} |")
                    continue
                lighthouse_rows.append(
                    f"| `{name}` | {kind} | {lh['performance']} | {lh['lcp_ms'] / 1000:.1f} s | "
                    f"{lh['tbt_ms']} ms | "
                    f"{lh['cls']:.3f} | {lh['bytes'] / 1024:.0f} KB | {lh['accessibility']} "
                    f"{' '.join(lh['accessibility_failures'])} |"
                )
        if lighthouse_rows:
            lines += [
                "",
                "Lighthouse 12.2.3 (`benchmarks/lighthouse`), Debian's Chromium:",
                "",
                "| page, preset | server | performance | LCP | TBT | CLS | bytes "
                "| accessibility (failing audits) |",
                "|---|---|---|---|---|---|---|---|",
                *sorted(lighthouse_rows),
            ]
        lines += ["", *targets(entry), ""]
    return "\n".join(lines)


def targets(entry: dict[str, Any]) -> list[str]:
    """Each target of the issue beside its figure, for one size."""
    after, before = entry.get("after") or {}, entry.get("before") or {}
    lines = ["Targets:", ""]
    api = after.get("api", {})
    pairs: list[tuple[str, Callable[[], str]]] = []
    nxt = _main_callback(after, "jobs: Next")
    if nxt and api:
        ref = api["next page"]
        pairs.append(
            (
                "`/jobs` Next callback p50 ≤ 2x API (same page)",
                lambda: f"{nxt['p50']:.2f} / {ref['p50']:.2f} ms = {nxt['p50'] / ref['p50']:.2f}x",
            )
        )
        pairs.append(
            (
                "`/jobs` answer ≤ 2x API's",
                lambda: f"{nxt['bytes']} / {ref['bytes']} B = {nxt['bytes'] / ref['bytes']:.2f}x",
            )
        )
        pairs.append(
            (
                "`/jobs` 16 clients ≥ 0.5x API's",
                lambda: (
                    f"{nxt['load16']['requests_per_s']:.0f} / {ref['load16']['requests_per_s']:.0f} req/s = "
                    f"{nxt['load16']['requests_per_s'] / ref['load16']['requests_per_s']:.2f}x"
                ),
            )
        )
    for action in ("overview: range", "job: load"):
        call = _main_callback(after, action)
        if call and api:
            ref = api["first page"]
            pairs.append(
                (
                    f"{action} callback p50 ≤ 5x API list p50",
                    lambda c=call, r=ref: f"{c['p50']:.2f} / {r['p50']:.2f} ms = {c['p50'] / r['p50']:.2f}x",
                )
            )
    for click in ("Next", "status filter", "range button"):
        a, b = after.get("clicks", {}).get(click), before.get("clicks", {}).get(click)
        if a and b:
            pairs.append(
                (
                    f"{click} click ≤ 1.5x before",
                    lambda a=a, b=b: (
                        f"{a['median']:.0f} / {b['median']:.0f} ms = {a['median'] / b['median']:.2f}x"
                    ),
                )
            )
    if after.get("heap"):
        pairs.append(
            ("JS heap growth < 5 MB over 150 pages", lambda: f"{after['heap']['growth_mb']:+.2f} MB")
        )
    for page in ("/", "/jobs"):
        a, b = after.get("first_load", {}).get(page), before.get("first_load", {}).get(page)
        if a and b:
            pairs.append(
                (
                    f"first load of `{page}` ≤ 30 % of before",
                    lambda a=a, b=b: (
                        f"{a['bytes'] / 1024:.0f} / {b['bytes'] / 1024:.0f} KB = "
                        f"{a['bytes'] / b['bytes']:.0%}"
                    ),
                )
            )
    for name, lh in after.get("lighthouse", {}).items():
        if name.endswith("desktop") and "error" not in lh:
            goal = 80 if name.startswith("/ ") else 90
            pairs.append(
                (
                    f"Lighthouse `{name}`: performance ≥ {goal}, CLS ≤ 0.05, accessibility 100",
                    lambda lh=lh: f"{lh['performance']}, {lh['cls']:.3f}, {lh['accessibility']}",
                )
            )
    lines += ["| target | figure |", "|---|---|"]
    lines += [f"| {name} | {figure()} |" for name, figure in pairs]
    return lines


if __name__ == "__main__":
    sys.exit(main())
