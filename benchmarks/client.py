"""HTTP measurement: a keep-alive client, latency statistics, concurrent load (wrk or Python threads).

Every loop here is bounded by a request count or a deadline; every socket has a timeout.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOCKET_TIMEOUT_S = 30.0
_TIMING_ENTRY = re.compile(r"\s*([A-Za-z0-9_-]+)((?:;[^,]*)?)")


class HttpError(RuntimeError):
    """An unexpected HTTP status or a broken connection: the benchmark treats it as a crash."""


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/min/max (milliseconds) and the sample count."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": round(percentile(ordered, 0.50), 4),
        "p95": round(percentile(ordered, 0.95), 4),
        "p99": round(percentile(ordered, 0.99), 4),
        "mean": round(sum(ordered) / len(ordered), 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
    }


def parse_server_timing(header: str | None) -> dict[str, dict[str, str]]:
    """``db;dur=1.2;desc="database", cache;desc=hit`` -> {"db": {"dur": "1.2", "desc": "database"}, ...}."""
    entries: dict[str, dict[str, str]] = {}
    for part in (header or "").split(","):
        match = _TIMING_ENTRY.match(part)
        if not match:
            continue
        params: dict[str, str] = {}
        for item in match.group(2).split(";"):
            if "=" in item:
                name, value = item.split("=", 1)
                params[name.strip()] = value.strip().strip('"')
        entries[match.group(1)] = params
    return entries


@dataclass
class Response:
    """What the measurement keeps of one response."""

    status: int
    body: bytes
    headers: dict[str, str]
    elapsed_ms: float

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class KeepAliveClient:
    """One persistent HTTP/1.1 connection (``http.client``), reopened only if the server closed it."""

    def __init__(self, host: str, port: int, *, headers: dict[str, str] | None = None) -> None:
        """Prepare a client for ``host:port``; it connects on first use."""
        self.host, self.port = host, port
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def _connection(self) -> http.client.HTTPConnection:
        """The open connection, opening it if needed."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=SOCKET_TIMEOUT_S)
            self.conn.connect()
        return self.conn

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        """Send one request and read the whole response; retry once on a connection the server closed."""
        all_headers = {**self.headers, **(headers or {})}
        for attempt in (1, 2):
            conn = self._connection()
            started = time.perf_counter_ns()
            try:
                conn.request(method, path, body=body, headers=all_headers)
                raw = conn.getresponse()
                data = raw.read()
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest) as exc:
                self.close()
                self.reconnects += 1
                if attempt == 2:
                    raise HttpError(f"{method} {path}: connection failed twice: {exc!r}") from exc
                continue
            elapsed_ms = (time.perf_counter_ns() - started) / 1e6
            if raw.will_close:
                self.close()
            return Response(raw.status, data, {k.lower(): v for k, v in raw.getheaders()}, elapsed_ms)
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        """GET ``path``."""
        return self.request("GET", path)

    def close(self) -> None:
        """Close the connection (a later request reopens it)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def expect_ok(response: Response, what: str, status: int = 200) -> Response:
    """``response`` itself, or an HttpError naming ``what`` when its status is not ``status``."""
    if response.status != status:
        raise HttpError(f"{what}: HTTP {response.status}: {response.body[:300]!r}")
    return response


@dataclass
class Measurement:
    """Latencies of one target (an HTTP path or an in-process callable) and what its responses said."""

    samples_ms: list[float] = field(default_factory=list)
    server_app_ms: list[float] = field(default_factory=list)
    server_db_ms: list[float] = field(default_factory=list)
    cache_outcomes: dict[str, int] = field(default_factory=dict)

    def add_response(self, response: Response) -> None:
        """Record one measured response (its latency and its Server-Timing figures)."""
        self.samples_ms.append(response.elapsed_ms)
        timing = parse_server_timing(response.headers.get("server-timing"))
        if "app" in timing and "dur" in timing["app"]:
            self.server_app_ms.append(float(timing["app"]["dur"]))
        if "db" in timing and "dur" in timing["db"]:
            self.server_db_ms.append(float(timing["db"]["dur"]))
        outcome = timing.get("cache", {}).get("desc", "none")
        self.cache_outcomes[outcome] = self.cache_outcomes.get(outcome, 0) + 1

    def result(self) -> dict[str, Any]:
        """Summary statistics, plus server-side means when the server reported them."""
        out: dict[str, Any] = summarize(self.samples_ms)
        if self.server_app_ms:
            out["server_app_mean"] = round(sum(self.server_app_ms) / len(self.server_app_ms), 4)
        if self.server_db_ms:
            out["server_db_mean"] = round(sum(self.server_db_ms) / len(self.server_db_ms), 4)
        if any(k != "none" for k in self.cache_outcomes):
            out["cache_outcomes"] = dict(self.cache_outcomes)
        return out


def measure_http(
    client: KeepAliveClient,
    path: str,
    *,
    requests: int,
    warmup: int,
    into: Measurement | None = None,
    seconds: float = math.inf,
) -> Measurement:
    """Time ``requests`` GETs of ``path`` after ``warmup`` discarded ones, stopping early after ``seconds``.

    Any non-200 answer is an HttpError.
    """
    measurement = into or Measurement()
    deadline = time.monotonic() + seconds
    for _ in range(warmup):
        expect_ok(client.get(path), path)
    for _ in range(requests):
        measurement.add_response(expect_ok(client.get(path), path))
        if time.monotonic() > deadline:
            break
    return measurement


def measure_callable(
    run: Callable[[], object],
    *,
    requests: int,
    warmup: int,
    into: Measurement | None = None,
    seconds: float = math.inf,
) -> Measurement:
    """Time ``requests`` calls of ``run`` after ``warmup`` discarded ones; stop early after ``seconds``."""
    measurement = into or Measurement()
    deadline = time.monotonic() + seconds
    for _ in range(warmup):
        run()
    for _ in range(requests):
        started = time.perf_counter_ns()
        run()
        measurement.samples_ms.append((time.perf_counter_ns() - started) / 1e6)
        if time.monotonic() > deadline:
            break
    return measurement


# ---------------------------------------------------------------------------------------------- load


_WRK_SCRIPT = """
local paths = {%(paths)s}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7)
end
function init(args)
  index = offset or 0
end
function request()
  index = index + 1
  return wrk.format("GET", paths[(index %% #paths) + 1], {["Accept"] = "application/json"})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,' ..
    '"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"mean_us":%%.1f,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def run_wrk(
    host: str, port: int, paths: Sequence[str], *, connections: int, seconds: float
) -> dict[str, Any]:
    """Run wrk (2 threads, ``connections`` keep-alive connections) rotating through ``paths``."""
    quoted = ", ".join(json.dumps(p) for p in paths)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "rotate.lua"
        script.write_text(_WRK_SCRIPT % {"paths": quoted})
        command = [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://{host}:{port}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise HttpError(f"wrk failed ({done.returncode}): {done.stderr.strip()[:300]} {done.stdout[-300:]}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    seconds_run = raw["duration_us"] / 1e6
    return {
        "tool": "wrk",
        "connections": connections,
        "seconds": round(seconds_run, 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "p50": round(raw["p50_us"] / 1000, 3),
        "p90": round(raw["p90_us"] / 1000, 3),
        "p99": round(raw["p99_us"] / 1000, 3),
        "mean": round(raw["mean_us"] / 1000, 3),
        "max": round(raw["max_us"] / 1000, 3),
        "errors": errors,
        "error_detail": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")},
    }


def run_threads(
    host: str,
    port: int,
    paths: Sequence[str],
    *,
    connections: int,
    seconds: float,
    make_request: Callable[[KeepAliveClient, int], Response | None] | None = None,
    expected_status: int = 200,
) -> dict[str, Any]:
    """``connections`` Python threads, one keep-alive connection each, until ``seconds`` have passed.

    By default each thread GETs ``paths`` in rotation; ``make_request(client, i)`` overrides what is sent
    (returning None ends that thread early).
    """
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    counted = [0]

    def worker(index: int) -> None:
        client = KeepAliveClient(host, port)
        local: list[float] = []
        i = index * 7
        try:
            while time.monotonic() < deadline:
                i += 1
                try:
                    if make_request is None:
                        response = client.get(paths[i % len(paths)])
                    else:
                        response = make_request(client, i)
                        if response is None:  # the request budget is spent
                            break
                except HttpError as exc:
                    failures.append(str(exc))
                    break
                if response.status != expected_status:
                    failures.append(f"HTTP {response.status}: {response.body[:200]!r}")
                    if len(failures) > 20:
                        break
                    continue
                local.append(response.elapsed_ms)
        finally:
            client.close()
            with lock:
                latencies.extend(local)
                counted[0] += len(local)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + SOCKET_TIMEOUT_S + 5)
    elapsed = time.monotonic() - started
    stats = summarize(latencies)
    return {
        "tool": "python-threads",
        "connections": connections,
        "seconds": round(elapsed, 2),
        "requests": counted[0],
        "requests_per_s": round(counted[0] / elapsed, 1) if elapsed else 0.0,
        "p50": stats.get("p50"),
        "p90": round(percentile(sorted(latencies), 0.90), 3) if latencies else None,
        "p99": stats.get("p99"),
        "mean": stats.get("mean"),
        "max": stats.get("max"),
        "errors": len(failures),
        "error_detail": failures[:5],
    }


def load(
    host: str, port: int, paths: Sequence[str], *, connections: int, seconds: float, tool: str = "auto"
) -> dict[str, Any]:
    """Throughput with wrk when it is installed (``tool`` auto/wrk), else Python threads (it says which)."""
    if tool != "python" and shutil.which("wrk"):
        return run_wrk(host, port, paths, connections=connections, seconds=seconds)
    if tool == "wrk":
        raise HttpError("--load-tool wrk: wrk is not installed (apt-get install -y wrk)")
    result = run_threads(host, port, paths, connections=connections, seconds=seconds)
    why = "asked for" if tool == "python" else "wrk not installed"
    result["note"] = f"Python threads ({why}): a GIL-bound client on the same 2 cores, so a lower bound"
    return result
