"""`jobdash serve`: the production server the Dockerfile runs, started for real on a free port."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from db import migrate
from db.engine import Database
from tests.conftest import head_revision


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(env, port):
    """`jobdash serve` with one worker on ``port``, its output (gunicorn's and the app's) piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--bind", f"127.0.0.1:{port}"],
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def served(tmp_path):
    url = f"sqlite:///{tmp_path / 'served.db'}"
    subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "db", "upgrade"],
        env={**os.environ, "JOBDASH_DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    server = start_serve({**os.environ, "JOBDASH_DATABASE_URL": url}, port)
    try:
        yield f"http://127.0.0.1:{port}", url
    finally:
        server.terminate()
        server.wait(timeout=20)


def get(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.headers, response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_runs_gunicorn_with_the_app(served):
    base, url = served
    deadline = time.monotonic() + 30
    status, headers, _ = get(base + "/readyz", deadline)
    assert status == 200
    assert headers.get("Server") == "jobdash"  # gunicorn, under a name that does not give it away
    status, _, body = get(base + "/", deadline)
    assert status == 200 and b"JobDash" in body
    database = Database.connect(url)
    assert migrate.current_revision(database.writer) == head_revision(database)
    database.dispose()


def test_serve_gives_its_workers_a_metrics_directory_and_removes_it_at_exit(tmp_path):
    url = f"sqlite:///{tmp_path / 'served.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    server = start_serve({**env, "JOBDASH_DATABASE_URL": url}, port)
    try:
        get(f"http://127.0.0.1:{port}/livez", time.monotonic() + 30)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    lines = [json.loads(line) for line in output.decode().splitlines()]
    [announced] = [line["msg"] for line in lines if line["msg"].startswith("metrics files in ")]
    directory = announced.removeprefix("metrics files in ")
    assert os.path.basename(directory).startswith("jobdash-metrics-")
    assert not os.path.exists(directory)
    assert server.returncode == 0
