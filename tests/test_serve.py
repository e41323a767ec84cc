"""`jobdash serve`: the production server the Dockerfile runs, started for real on a free port."""

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
    env = {**os.environ, "JOBDASH_DATABASE_URL": url, "PORT": str(port), "WEB_CONCURRENCY": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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
