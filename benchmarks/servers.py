"""Starting and stopping the servers under test: the real app (``jobdash serve``) and the floor app.

Both run under gunicorn with the project's own ``dashboard/gunicorn_conf.py`` (same worker class, threads,
keep-alive), bound to loopback on a port in 8090-8099. A server is always stopped: ``Server`` is a context
manager whose exit sends SIGTERM to the process group it started, then SIGKILL after a bounded wait.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
PORTS = range(8090, 8100)
ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class ServerError(RuntimeError):
    """A server did not start or did not become ready."""


def port_free(port: int) -> bool:
    """True when nothing listens on ``HOST:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) != 0


@dataclass
class PortPool:
    """Hands out free ports from 8090-8099 and takes them back."""

    in_use: set[int] = field(default_factory=set)

    def take(self) -> int:
        """A free port of the range, or ServerError when all ten are busy."""
        for port in PORTS:
            if port not in self.in_use and port_free(port):
                self.in_use.add(port)
                return port
        raise ServerError("no free port in 8090-8099")

    def give_back(self, port: int) -> None:
        """Return ``port`` to the pool."""
        self.in_use.discard(port)


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server under test: uncached, quiet, bench token, ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBDASH_", "WEB_CONCURRENCY", "PORT"))}
    env.update(
        {
            "JOBDASH_DATABASE_URL": database_url,
            "JOBDASH_CACHE_TTL": "0",
            "JOBDASH_API_TOKENS": "bench",
            "JOBDASH_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """One gunicorn server process group; use it as a context manager."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    ready_path: str = "/readyz"
    # How often readiness is polled; also the resolution of ``ready_s``.
    ready_poll_s: float = 0.1
    # Seconds from the process start to the first 200 of ``ready_path`` (set on entry).
    ready_s: float | None = None
    process: subprocess.Popen[bytes] | None = None
    cwd: Path = ROOT  # another checkout (a baseline release) runs its own code from its own folder

    def __enter__(self) -> Server:
        """Start the server and wait until ``ready_path`` answers 200."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        started = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()

    def _wait_ready(self) -> None:
        """Poll ``ready_path`` until 200, the process dies, or READY_TIMEOUT_S passes."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", self.ready_path)
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(self.ready_poll_s)
        raise ServerError(f"{self.name} not ready after {READY_TIMEOUT_S:.0f} s ({last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """Pids of the gunicorn workers (children of the master this object started)."""
        if self.process is None:
            return []
        master = self.process.pid
        children: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{master}/task").iterdir():
                text = (task / "children").read_text().split()
                children.extend(int(pid) for pid in text)
        return sorted(children)

    def stop(self) -> None:
        """SIGTERM the process group, wait up to STOP_TIMEOUT_S, then SIGKILL it."""
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # start_new_session made the master its own group leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB, from ``/proc/<pid>/status`` (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ServerError(f"no VmRSS for pid {pid}")


def app_server(
    name: str, port: int, env: dict[str, str], log_dir: Path, *, workers: int = 1, extra: tuple[str, ...] = ()
) -> Server:
    """The real app, exactly as deployed: ``python -m dashboard.cli serve --bind ... --workers N``."""
    command = [
        sys.executable,
        "-m",
        "dashboard.cli",
        "serve",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        *extra,
    ]
    return Server(name, command, env, port, log_dir / f"{name}.log")


def floor_server(
    name: str,
    port: int,
    env: dict[str, str],
    log_dir: Path,
    *,
    workers: int = 1,
    target: str = "floor_app:app",
    ready_path: str = "/floor/readyz",
) -> Server:
    """A floor app of ``benchmarks/`` (by default the hand-written API) under gunicorn with the app's
    own gunicorn config and worker count."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:dashboard.gunicorn_conf",
        "--pythonpath",
        str(ROOT / "benchmarks"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        target,
    ]
    return Server(name, command, env, port, log_dir / f"{name}.log", ready_path=ready_path)


@contextlib.contextmanager
def running(
    pool: PortPool, make: object, name: str, env: dict[str, str], log_dir: Path, **kw: object
) -> Iterator[Server]:
    """Take a port, start ``make(name, port, env, log_dir, **kw)``, yield it, always stop it."""
    port = pool.take()
    try:
        server: Server = make(name, port, env, log_dir, **kw)  # type: ignore[operator]
        with server:
            yield server
    finally:
        pool.give_back(port)
