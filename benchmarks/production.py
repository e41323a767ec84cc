"""Production figures: how long `jobdash serve` takes to be ready at each size, and what recording the
Prometheus metrics costs per request.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as user postgres, trust auth)::

    python benchmarks/production.py                   # start-up at 10k and 10m; metrics cost at 1m
    python benchmarks/production.py --ci              # 2k jobs, few rounds; no docs written

The databases ``jobdash_bench_<size>`` are only read (``--ci`` makes its own 2k one): each must exist at
this checkout's newest revision, or the run stops and says so.

**Start-up.** ``jobdash serve`` (2 workers, as deployed) is started, in rounds alternating the sizes,
and timed from the process start to the first 200 of ``/readyz`` (polled every 10 ms). The floor is the
hand-written Flask app of ``benchmarks/floor_app.py`` under the same gunicorn configuration: what any
gunicorn + Flask + psycopg server costs to start on this machine. Also timed: importing
``dashboard.wsgi`` (building the app, which touches no database) in a fresh interpreter.

**Recording cost.** Three servers at once on the same database, 1 worker each: metrics on, and metrics
off twice (``JOBDASH_METRICS=false``). In each round every server answers the same requests with one
keep-alive client, in a rotated order; per round and target, the median latency of each server. The
cost is the median over rounds of (on - mean of the two offs); the run-to-run noise is the median over
rounds of |off - off|, the difference between two identical servers. Targets: ``/livez`` (no database),
a cached list page (a cache hit) and one job (uncached, two queries): the cheaper the request, the
larger the share of the recording. Also timed: a scrape of ``/metrics``. Reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import psycopg
import sections
from client import KeepAliveClient, expect_ok
from servers import HOST, ROOT, PortPool, Server, app_server, base_env, floor_server

DOCS = ROOT / "docs"
READY_POLL_S = 0.01


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup-sizes", default="10k,10m")
    parser.add_argument("--startup-rounds", type=int, default=5)
    parser.add_argument("--metrics-size", default="1m")
    parser.add_argument("--metrics-rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=200, help="per target, server and round")
    parser.add_argument("--ci", action="store_true", help="2k jobs, few rounds, no docs written")
    parser.add_argument("--in-process-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ci:
        args.startup_sizes, args.startup_rounds = "2k", 1
        args.metrics_size, args.metrics_rounds, args.requests = "2k", 2, 20
    return args


def _started(server: Server) -> float:
    with server:
        assert server.ready_s is not None
        return server.ready_s


def startup(args: argparse.Namespace, pool: PortPool, log_dir: Path, log: Any) -> dict[str, Any]:
    """Seconds from process start to ready, per size and for the floor, in alternating rounds."""
    urls = {size: benchdb.ready_database(size, args.ci, log) for size in args.startup_sizes.split(",")}
    samples: dict[str, list[float]] = {name: [] for name in [*urls, "floor"]}
    for round_no in range(args.startup_rounds):
        for name in samples:
            url = urls.get(name, next(iter(urls.values())))
            port = pool.take()
            try:
                if name == "floor":
                    server = floor_server("floor-start", port, base_env(url), log_dir, workers=2)
                else:
                    server = app_server(f"start-{name}", port, base_env(url), log_dir, workers=2)
                server.ready_poll_s = READY_POLL_S
                samples[name].append(_started(server))
            finally:
                pool.give_back(port)
            log(f"  round {round_no + 1} {name}: ready in {samples[name][-1]:.2f} s")
    imports = [_import_seconds(next(iter(urls.values()))) for _ in range(args.startup_rounds)]
    floor = statistics.median(samples["floor"])
    return {
        "ready_s": {name: _stats(values) for name, values in samples.items()},
        "ratio_to_floor": {
            name: round(statistics.median(values) / floor, 2) for name, values in samples.items()
        },
        "import_app_s": _stats(imports),
    }


def _import_seconds(url: str) -> float:
    """A fresh interpreter importing ``dashboard.wsgi`` (the app built, no request served)."""
    code = "import time; t = time.perf_counter(); import dashboard.wsgi; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**base_env(url), "JOBDASH_LOG_LEVEL": "ERROR"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(done.stdout.strip().splitlines()[-1])


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


def recording_cost(args: argparse.Namespace, pool: PortPool, log_dir: Path, log: Any) -> dict[str, Any]:
    """Per-request latency with metrics on against two servers with metrics off, interleaved."""
    url = benchdb.ready_database(args.metrics_size, args.ci, log)
    with psycopg.connect(benchdb.libpq_url(url), autocommit=True) as conn:
        row = conn.execute("SELECT max(id) FROM job").fetchone()
    job_id = row[0] if row else 1
    targets = {
        "/livez": "/livez",
        "list page (cache hit)": "/api/jobs/?page_size=50",
        "one job (uncached)": f"/api/jobs/{job_id}/",
    }
    arms = {"on": "true", "off-a": "false", "off-b": "false"}
    servers: dict[str, Server] = {}
    ports: list[int] = []
    try:
        for arm, enabled in arms.items():
            port = pool.take()
            ports.append(port)
            env = base_env(url, JOBDASH_METRICS=enabled, JOBDASH_CACHE_TTL="3600")
            servers[arm] = app_server(f"metrics-{arm}", port, env, log_dir, workers=1).__enter__()
        clients = {arm: KeepAliveClient(HOST, server.port) for arm, server in servers.items()}
        for client in clients.values():  # warm: imports, pools, the cached answer
            for path in targets.values():
                for _ in range(20):
                    expect_ok(client.get(path), path)
        medians: dict[str, dict[str, list[float]]] = {t: {a: [] for a in arms} for t in targets}
        order = list(arms)
        for round_no in range(args.metrics_rounds):
            order = order[1:] + order[:1]  # each arm goes first, second and last in turn
            for arm in order:
                for target, path in targets.items():
                    times = [expect_ok(clients[arm].get(path), path).elapsed_ms for _ in range(args.requests)]
                    medians[target][arm].append(statistics.median(times))
            log(f"  round {round_no + 1}/{args.metrics_rounds}")
        scrape_ms = [expect_ok(clients["on"].get("/metrics"), "/metrics").elapsed_ms for _ in range(50)]
    finally:
        for server in servers.values():
            server.stop()
        for port in ports:
            pool.give_back(port)
    return {"targets": _costs(medians), "scrape_ms": round(statistics.median(scrape_ms), 3)}


def recording_in_process(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """The same A/A/B without HTTP or other processes: three apps in one interpreter, requests alternated.

    Runs in a child interpreter with ``PROMETHEUS_MULTIPROC_DIR`` set, so that values are written to
    files (mmap) exactly as under gunicorn.
    """
    url = benchdb.ready_database(args.metrics_size, args.ci, log)
    with tempfile.TemporaryDirectory(prefix="jobdash-bench-metrics-") as directory:
        env = {**base_env(url, JOBDASH_CACHE_TTL="3600"), "PROMETHEUS_MULTIPROC_DIR": directory}
        done = subprocess.run(
            [sys.executable, __file__, "--in-process-child", *(["--ci"] if args.ci else [])],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _in_process_child(args: argparse.Namespace) -> None:
    """In the child: build the apps, alternate requests between them, print the figures as JSON."""
    from dashboard import create_app
    from dashboard.metrics import is_multiprocess
    from dashboard.settings import Settings

    assert is_multiprocess(), "PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is imported"
    settings = Settings.from_env()
    clients = {
        arm: create_app(settings.replace(metrics=arm == "on")).server.test_client()
        for arm in ("on", "off-a", "off-b")
    }
    targets = {"/livez": "/livez", "list page (cache hit)": "/api/jobs/?page_size=50"}
    medians: dict[str, dict[str, list[float]]] = {t: {a: [] for a in clients} for t in targets}
    rounds, per_round = (3, 50) if args.ci else (30, 500)
    for path in targets.values():
        for client in clients.values():
            for _ in range(50):
                assert client.get(path).status_code == 200
    for _ in range(rounds):
        for target, path in targets.items():
            times: dict[str, list[float]] = {arm: [] for arm in clients}
            for _ in range(per_round):
                for arm, client in clients.items():  # one request each, in turn: drift hits all alike
                    started = time.perf_counter()
                    client.get(path)
                    times[arm].append((time.perf_counter() - started) * 1000)
            for arm in clients:
                medians[target][arm].append(statistics.median(times[arm]))
    print(json.dumps({"targets": _costs(medians), "rounds": rounds, "requests_per_round": per_round}))


def _costs(medians: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Per target: off and on medians, the cost (on - mean of the offs) and the noise (|off - off|)."""
    out: dict[str, Any] = {}
    for target, by_arm in medians.items():
        rounds = range(len(by_arm["on"]))
        cost = [by_arm["on"][i] - (by_arm["off-a"][i] + by_arm["off-b"][i]) / 2 for i in rounds]
        noise = [abs(by_arm["off-a"][i] - by_arm["off-b"][i]) for i in rounds]
        off = statistics.median(by_arm["off-a"] + by_arm["off-b"])
        out[target] = {
            "off_ms": round(off, 4),
            "on_ms": round(statistics.median(by_arm["on"]), 4),
            "cost_us": round(statistics.median(cost) * 1000, 1),
            "cost_iqr_us": _iqr_us(cost),
            "noise_us": round(statistics.median(noise) * 1000, 1),
            "cost_share": round(statistics.median(cost) / off, 4),
        }
    return out


def _iqr_us(values: list[float]) -> list[float]:
    if len(values) < 4:
        return [round(min(values) * 1000, 1), round(max(values) * 1000, 1)]
    quartiles = statistics.quantiles(values, n=4)
    return [round(quartiles[0] * 1000, 1), round(quartiles[2] * 1000, 1)]


def markdown(results: dict[str, Any]) -> str:
    """The ``production`` section of docs/performance.md."""
    start, cost = results["startup"], results["metrics"]
    lines = [
        "## Production: start-up and the cost of metrics",
        "",
        f"`{results['command']}`, {results['started']} (load {' -> '.join(results['load'])}).",
        "",
        "### `jobdash serve` until `/readyz` answers 200 (2 workers)",
        "",
        "| server | median | min | max | runs | / floor |",
        "|---|---|---|---|---|---|",
    ]
    for name, stats in start["ready_s"].items():
        label = (
            "floor (Flask + psycopg, same gunicorn config)" if name == "floor" else f"JobDash, {name} jobs"
        )
        lines.append(
            f"| {label} | {stats['median']:.2f} s | {stats['min']:.2f} s | {stats['max']:.2f} s | "
            f"{stats['n']} | {start['ratio_to_floor'][name]} |"
        )
    imp = start["import_app_s"]
    sizes = [name for name in start["ready_s"] if name != "floor"]
    if len(sizes) > 1:
        first, last = start["ready_s"][sizes[0]]["median"], start["ready_s"][sizes[-1]]["median"]
        lines += ["", f"{sizes[-1]} over {sizes[0]} (medians): **{last / first:.2f}**."]
    lines += [
        "",
        f"Importing `dashboard.wsgi` (building the app; no database is touched until a request): "
        f"median {imp['median']:.2f} s (min {imp['min']:.2f}, max {imp['max']:.2f}). Start-up does no "
        "work that grows with the tables: `/readyz` runs `SELECT 1`.",
        "",
        f"### What recording the metrics costs per request ({results['metrics_size']} jobs, 1 worker)",
        "",
        "Medians over rounds; cost = on - mean of two servers with metrics off; noise = the difference "
        "between those two identical servers, the same way.",
        "",
        "| request | off | on | cost | cost, middle half of rounds | noise (off vs off) | cost / off |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_cost_row(target, r) for target, r in cost["targets"].items()]
    inproc = results["metrics_in_process"]
    lines += [
        "",
        "The same comparison without HTTP and other processes in between: three apps in one interpreter "
        "(Flask's test client; values written to the multiprocess files as under gunicorn), requests "
        f"alternated one by one, {inproc['rounds']} rounds of {inproc['requests_per_round']}:",
        "",
        "| request | off | on | cost | cost, middle half of rounds | noise (off vs off) | cost / off |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_cost_row(target, r) for target, r in inproc["targets"].items()]
    lines += [
        "",
        f"A scrape of `/metrics` (one worker's files, jobs per status read): {cost['scrape_ms']:.2f} ms.",
    ]
    return "\n".join(lines)


def _cost_row(target: str, r: dict[str, Any]) -> str:
    return (
        f"| {target} | {r['off_ms']:.3f} ms | {r['on_ms']:.3f} ms | {r['cost_us']:+.1f} µs | "
        f"{r['cost_iqr_us'][0]:+.1f} .. {r['cost_iqr_us'][1]:+.1f} µs | {r['noise_us']:.1f} µs | "
        f"{r['cost_share']:.1%} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Start-up at each size, then the recording cost; write the report."""
    args = parse_args(argv)
    if args.in_process_child:
        _in_process_child(args)
        return 0
    log_dir = ROOT / "benchmarks" / "results" / "logs"

    def log(message: str) -> None:
        print(message, flush=True)

    load = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    results: dict[str, Any] = {
        "command": " ".join(
            ["python benchmarks/production.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": load,
        "metrics_size": args.metrics_size,
    }
    pool = PortPool()
    log("== start-up")
    started = time.perf_counter()
    results["startup"] = startup(args, pool, log_dir, log)
    log(f"== recording cost ({time.perf_counter() - started:.0f} s so far)")
    results["metrics"] = recording_cost(args, pool, log_dir, log)
    log("== recording cost in one process")
    results["metrics_in_process"] = recording_in_process(args, log)
    load.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    text = markdown(results)
    print(text)
    sections.publish("production", "production", results, text, ci=args.ci)
    return 0


if __name__ == "__main__":
    sys.exit(main())
