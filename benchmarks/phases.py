"""The benchmark's phases: latency per size (app, floor app, raw SQL), cache, throughput, writers, memory.

Each phase starts the servers it needs (``servers.running``: always stopped), is bounded in requests and
time, and returns plain JSON-able dicts. An HTTP error or a broken invariant raises: the run is a crash.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import json
import pstats
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

from benchdb import SqlReplayer, count_events, invariant_violations, read_session, sql_text
from client import (
    HttpError,
    KeepAliveClient,
    Measurement,
    expect_ok,
    load,
    measure_callable,
    measure_http,
    run_threads,
    summarize,
)
from servers import HOST, ROOT, PortPool, Server, app_server, base_env, floor_server, rss_mb, running
from variants import Target, build_targets, path_only, same_page

from db.engine import Database
from db.models import STATUSES

ROUNDS = 3  # app, floor and SQL alternate in this many chunks per target, so noise hits all three alike


def _ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded, or None when either is missing."""
    return round(a / b, 3) if a and b else None


def measure_size(
    label: str, url: str, ids: dict[str, Any], args: Any, pool: PortPool, log_dir: Path, log: Any
) -> dict[str, Any]:
    """Latency of every target at one size: app over HTTP, floor app over HTTP, raw SQL; plus the cache."""
    env = base_env(url)
    database = Database.connect(url, statement_timeout_ms=0)
    out: dict[str, Any] = {"targets": [], "mismatches": []}
    try:
        with (
            running(pool, app_server, f"app-{label}", env, log_dir) as app,
            running(pool, floor_server, f"floor-{label}", env, log_dir) as floor,
        ):
            app_client, floor_client = KeepAliveClient(HOST, app.port), KeepAliveClient(HOST, floor.port)
            out["read_session"] = session = read_session(database)
            replayer = SqlReplayer(url, session)
            try:
                targets, skipped = build_targets(app_client, database, url, ids)
                out["skipped"] = skipped
                log(
                    f"  {len(targets)} targets ({len(skipped)} without a deep page), "
                    f"{args.requests} requests each"
                )
                for index, target in enumerate(targets, 1):
                    row = _measure_target(target, app_client, floor_client, replayer, args)
                    if row.pop("mismatch", None):
                        out["mismatches"].append({"target": target.name, "detail": row["mismatch_detail"]})
                    out["targets"].append(row)
                    if index % 20 == 0 or index == len(targets):
                        log(f"    {index}/{len(targets)} {target.name}: app p50 {row['app']['p50']:.2f} ms")
                out["example_sql"] = {
                    t.name: [sql_text(s) for s in t.statements] for t in targets[:1] + targets[-3:]
                }
            finally:
                app_client.close()
                floor_client.close()
                replayer.close()
        out["cache"] = _measure_cache(label, url, out["targets"], args, pool, log_dir)
    finally:
        database.dispose()
    return out


def _measure_target(
    target: Target,
    app_client: KeepAliveClient,
    floor_client: KeepAliveClient,
    replayer: SqlReplayer,
    args: Any,
) -> dict[str, Any]:
    """One target, three ways, interleaved in ROUNDS chunks after a warm-up of each."""
    app_body = expect_ok(app_client.get(target.app_path), target.app_path).json()
    floor_response = expect_ok(floor_client.get(target.floor_path or ""), target.floor_path or "")
    floor_body = floor_response.json()
    mismatch = same_page(target, app_body, floor_body)
    app_m, floor_m, sql_m = Measurement(), Measurement(), Measurement()

    def sql() -> None:
        replayer.run(target.statements)

    chunk = max(1, args.requests // ROUNDS)
    for round_index in range(ROUNDS):
        warmup = args.warmup if round_index == 0 else 0
        n = chunk if round_index < ROUNDS - 1 else args.requests - chunk * (ROUNDS - 1)
        budget = args.target_seconds / ROUNDS  # a slow page gets fewer samples, not an unbounded run
        measure_http(app_client, target.app_path, requests=n, warmup=warmup, into=app_m, seconds=budget)
        floor_path = target.floor_path or ""
        measure_http(floor_client, floor_path, requests=n, warmup=warmup, into=floor_m, seconds=budget)
        measure_callable(sql, requests=n, warmup=warmup, into=sql_m, seconds=budget)
    app, floor, raw = app_m.result(), floor_m.result(), sql_m.result()
    # The floor's statement count, measured warm (its estimate memo filled), against the app's.
    floor_statements = int(floor_client.get(target.floor_path or "").headers.get("x-floor-statements", -1))
    row: dict[str, Any] = {
        "name": target.name,
        "kind": target.kind,
        "path": target.app_path,
        "floor_path": target.floor_path,
        "statements": len(target.statements),
        "floor_statements": floor_statements,
        "statement_parity": floor_statements == len(target.statements),
        "meta": target.meta,
        "rows": len(app_body.get("results", [])) if isinstance(app_body, dict) else None,
        "count": app_body.get("count") if isinstance(app_body, dict) else None,
        "app": app,
        "floor": floor,
        "sql": raw,
        "ratio_floor_p50": _ratio(app.get("p50"), floor.get("p50")),
        # With no statement to send (all memoised), the raw-SQL "floor" is nothing: no ratio to it.
        "ratio_sql_p50": _ratio(app.get("p50"), raw.get("p50")) if target.statements else None,
        "floor_ratio_sql_p50": _ratio(floor.get("p50"), raw.get("p50")) if target.statements else None,
    }
    if mismatch:
        row["mismatch"] = True
        row["mismatch_detail"] = mismatch
    return row


def _measure_cache(
    label: str, url: str, targets: list[dict[str, Any]], args: Any, pool: PortPool, log_dir: Path
) -> dict[str, Any]:
    """Cache hit (one URL repeated) against miss, on a server with JOBDASH_CACHE_TTL=60 (in-process)."""
    first = next(t for t in targets if t["kind"] == "list")
    path = first["path"]
    env = base_env(url, JOBDASH_CACHE_TTL="60")
    with running(pool, app_server, f"app-cached-{label}", env, log_dir) as server:
        client = KeepAliveClient(HOST, server.port)
        try:
            hit = measure_http(client, path, requests=args.requests, warmup=args.warmup).result()
            # Misses with the cache on: every page of a walk along `next` is a key not seen before.
            miss_on = Measurement()
            page = path
            seen = 0
            while seen < min(args.requests, 200):
                response = expect_ok(client.get(page), page)
                miss_on.add_response(response)
                seen += 1
                nxt = response.json().get("next")
                if not nxt:
                    break
                page = path_only(nxt)
        finally:
            client.close()
    outcomes = hit.get("cache_outcomes", {})
    return {
        "path": path,
        "backend": "in-process (flask-caching SimpleCache), JOBDASH_CACHE_TTL=60",
        "hit": hit,
        "hits_confirmed": outcomes.get("hit", 0),
        "hit_requests": hit["n"],
        "miss_uncached_server": first["app"],
        "miss_cache_on_walk": miss_on.result(),
        "hit_ratio_to_miss_p50": _ratio(hit.get("p50"), first["app"].get("p50")),
    }


def throughput_and_writers(
    url: str,
    paths: list[str],
    floor_paths: list[str],
    writer_jobs: list[int],
    fast_paths: list[str],
    args: Any,
    pool: PortPool,
    log_dir: Path,
) -> dict[str, Any]:
    """16 clients against 2 workers (app, then the floor app), then 8 writers; invariant checked after."""
    env = base_env(url)
    out: dict[str, Any] = {}
    with running(pool, app_server, "app-2workers", env, log_dir, workers=2) as server:
        out["throughput"] = load(
            HOST, server.port, paths, connections=args.clients, seconds=args.load_seconds, tool=args.load_tool
        )
        out["throughput"]["workers"] = 2
        out["throughput"]["urls"] = len(paths)
        if fast_paths and len(fast_paths) < len(paths):
            # The same, without the pages whose SQL alone is slow: what the rest of the app sustains.
            out["throughput_fast"] = load(
                HOST,
                server.port,
                fast_paths,
                connections=args.clients,
                seconds=args.load_seconds,
                tool=args.load_tool,
            )
            out["throughput_fast"]["urls"] = len(fast_paths)
        out["writers"] = _writers(server, url, writer_jobs, args)
    with running(pool, floor_server, "floor-2workers", env, log_dir, workers=2) as floor:
        out["throughput_floor"] = load(
            HOST,
            floor.port,
            floor_paths,
            connections=args.clients,
            seconds=args.load_seconds,
            tool=args.load_tool,
        )
    for name in ("throughput", "throughput_fast", "throughput_floor"):
        if name in out and out[name]["errors"]:
            raise HttpError(f"{name}: {out[name]['errors']} errors: {out[name]['error_detail']}")
    return out


def _writers(server: Server, url: str, job_ids: list[int], args: Any) -> dict[str, Any]:
    """``args.writers`` threads POSTing status events with random statuses and shuffled timestamps."""
    before = count_events(url, job_ids)
    base = dt.datetime.now(dt.UTC).replace(microsecond=0)
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    rng = random.Random(5)
    lock = threading.Lock()

    def post(client: KeepAliveClient, i: int) -> Any:
        with lock:  # shared RNG; whole seconds within an hour, so late events and exact ties both happen
            job = rng.choice(job_ids)
            body = {
                "status": rng.choice(STATUSES),
                "timestamp": (base - dt.timedelta(seconds=rng.randrange(0, 3600, 5))).isoformat(),
                "message": f"bench writer {i}",
            }
        return client.request("POST", f"/api/jobs/{job}/status/", json.dumps(body).encode(), headers)

    result = run_threads(
        HOST,
        server.port,
        [],
        connections=args.writers,
        seconds=args.writer_seconds,
        make_request=post,
        expected_status=201,
    )
    after = count_events(url, job_ids)
    violations = invariant_violations(url, job_ids)
    result.update(
        {
            "jobs_touched": len(job_ids),
            "events_added": after - before,
            "events_per_s": result.pop("requests_per_s"),
            "invariant_violations": violations,
            "note": "events are added to the benchmark database (job count unchanged, so it is still reused)",
        }
    )
    result.pop("tool", None)
    if result["errors"]:
        raise HttpError(f"writers: {result['errors']} errors: {result['error_detail']}")
    if violations:
        raise RuntimeError(f"writers: {violations} jobs break the status invariant")
    if result["events_added"] != result["requests"]:
        raise RuntimeError(
            f"writers: {result['requests']} events acknowledged but {result['events_added']} stored"
        )
    return result


def memory(url: str, starts: list[str], args: Any, pool: PortPool, log_dir: Path) -> dict[str, Any]:
    """Worker RSS before and after ``args.memory_requests`` varied list requests (4 keep-alive clients).

    Warm-up: walk ``args.memory_pages`` pages along ``next`` from each start (which also collects the
    distinct URLs: filters, orderings, cursors); then RSS, then the measured requests, then RSS again.
    """
    env = base_env(url)
    # max_requests 0: the worker must not be recycled mid-phase, or a leak would be hidden by the restart.
    with running(pool, app_server, "app-memory", env, log_dir, extra=("--max-requests", "0")) as server:
        workers = server.worker_pids()
        if len(workers) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {workers}")
        worker = workers[0]
        start_rss = rss_mb(worker)
        paths = _walk(server.port, starts, args.memory_pages)
        warm = run_threads(
            HOST, server.port, paths, connections=4, seconds=120, make_request=_bounded(paths, len(paths))
        )
        before = rss_mb(worker)
        run = run_threads(
            HOST,
            server.port,
            paths,
            connections=4,
            seconds=900,
            make_request=_bounded(paths, args.memory_requests),
        )
        after = rss_mb(worker)
        if server.worker_pids() != [worker]:
            raise RuntimeError("the gunicorn worker was replaced during the memory phase")
    if warm["errors"] or run["errors"]:
        raise HttpError(f"memory phase errors: {warm['error_detail'] or run['error_detail']}")
    if run["requests"] != args.memory_requests:
        raise RuntimeError(f"memory phase sent {run['requests']} of {args.memory_requests} requests")
    return {
        "worker_pid": worker,
        "rss_at_start_mb": round(start_rss, 1),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "growth_mb": round(after - before, 2),
        "requests": run["requests"],
        "warmup_requests": warm["requests"] + len(paths),
        "distinct_urls": len(set(paths)),
        "requests_per_s": run["requests_per_s"],
        "note": "gunicorn --max-requests 0 for this phase only, so the worker cannot be recycled mid-run",
    }


def _bounded(paths: list[str], total: int) -> Any:
    """A make_request for run_threads that sends exactly ``total`` GETs in all, then stops."""
    counter = iter(range(total))
    lock = threading.Lock()

    def send(client: KeepAliveClient, _i: int) -> Any:
        with lock:
            n = next(counter, None)
        return None if n is None else client.get(paths[n % len(paths)])

    return send


def _walk(port: int, starts: list[str], pages: int) -> list[str]:
    """Distinct list paths: each start and up to ``pages`` pages after it along ``next``."""
    found: list[str] = []
    client = KeepAliveClient(HOST, port)
    try:
        for start in starts:
            page: str | None = start
            for _ in range(pages + 1):
                if page is None:
                    break
                found.append(page)
                nxt = expect_ok(client.get(page), page).json().get("next")
                page = path_only(nxt) if nxt else None
    finally:
        client.close()
    return found


def profile(url: str, paths: list[str], requests: int) -> dict[str, Any]:
    """cProfile of the app in-process (Flask test client, no gunicorn) over ``paths``: where time goes."""
    from dashboard import create_app
    from dashboard.database import database_of
    from dashboard.settings import Settings

    settings = Settings.from_env({}, database_url=url, cache_ttl=0, log_level="WARNING")
    app = create_app(settings)
    client = app.server.test_client()
    for path in paths[:20]:
        client.get(path)
    profiler = cProfile.Profile()
    timings: list[float] = []
    for i in range(requests):
        started = time.perf_counter_ns()
        profiler.enable()
        response = client.get(paths[i % len(paths)])
        profiler.disable()
        timings.append((time.perf_counter_ns() - started) / 1e6)
        if response.status_code != 200:
            raise HttpError(f"profile: HTTP {response.status_code} for {paths[i % len(paths)]}")
    database_of(app.server).dispose()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    total = stats.total_tt  # type: ignore[attr-defined]
    groups = _group_time(stats)
    stats.sort_stats("tottime").print_stats(18)
    return {
        "requests": requests,
        "in_process_ms": summarize(timings),
        "profiled_seconds": round(total, 3),
        "share_by_package": {
            k: round(v / total, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])
        },
        "top_tottime": _trim_pstats(stream.getvalue()),
    }


def _trim_pstats(text: str) -> str:
    """The table of a pstats printout (from its header line), with site-packages paths shortened."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    table = "\n".join(lines[start:]).strip()
    return re.sub(r"\S*/site-packages/", "", table).replace(str(ROOT) + "/", "")[:6000]


_PACKAGES = (
    ("psycopg", "psycopg (driver, network wait)"),
    ("sqlalchemy", "sqlalchemy"),
    ("pydantic", "pydantic"),
    ("werkzeug", "werkzeug"),
    ("flask_caching", "flask-caching"),
    ("flask", "flask"),
    ("dash", "dash"),
    ("/db/", "jobdash db/"),
    ("/dashboard/", "jobdash dashboard/"),
    ("orjson", "orjson"),
    ("logging", "logging"),
)


def _group_time(stats: pstats.Stats) -> dict[str, float]:
    """Own time (tottime) summed per package, from a pstats.Stats."""
    groups: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        label = "other"
        for needle, name in _PACKAGES:
            if needle in filename:
                label = name
                break
        else:
            if filename == "~" and ("socket" in func or "pgconn" in func or "wait" in func or "poll" in func):
                label = "builtins: socket/poll"
            elif filename == "~":
                label = "builtins: other"
        groups[label] = groups.get(label, 0.0) + tottime
    return groups
