"""Servers for the resilience cases, all on loopback: the app under `jobdash serve` (the container's own
command line), and PostgreSQL or Redis of their own when a case stops, freezes or kills them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; ``timeout`` is a hang detector only."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            result = check()
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not true after {timeout} s")
        time.sleep(0.1)


def http_status(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "db", "upgrade"],
        env={**os.environ, "JOBDASH_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextlib.contextmanager
def jobdash_serve(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`jobdash serve` on a free loopback port with ``env``; yields its base URL and the process."""
    port = free_port()
    full_env = {**os.environ, "PORT": str(port), "JOBDASH_LOG_LEVEL": "INFO", **env}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: http_status(base + "/livez") == 200, 60, "the server starts")
            yield base, server
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


def have_postgres_binaries() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


class OwnPostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, a free port, run as postgres)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="jobdash-pg-"))
        shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=check, capture_output=True, timeout=120
        )

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class OwnRedis:
    """A redis-server of its own on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", self.port), timeout=0.5), 10, "redis starts"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
