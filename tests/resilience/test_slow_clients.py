"""Resilience case 7 (finding 1): slow clients against `jobdash serve`, the container's command line.

Fault: ten times as many half-sent requests as the worker has threads (heads cut short, POST bodies cut
short), held open. The service must keep answering `/livez` and a list request from another client, cut
the slow clients off with a 408 problem after JOBDASH_REQUEST_READ_TIMEOUT_S, and answer gunicorn's own
protocol errors as problem+json.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from tests.resilience.servers import jobdash_serve, migrate

THREADS = 3
READ_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("slow")
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    migrate(url)
    env = {
        "JOBDASH_DATABASE_URL": url,
        "WEB_CONCURRENCY": "1",
        "JOBDASH_THREADS": str(THREADS),
        "JOBDASH_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    }
    with jobdash_serve(env, tmp_path / "server.log") as (base, server):
        yield base, server, tmp_path / "server.log"


def half_sent(port, payload):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(payload)
    return sock


def test_half_sent_requests_do_not_take_the_server(served):
    base, _, log = served
    port = int(base.rsplit(":", 1)[1])
    heads = [half_sent(port, b"GET /api/stats/ HTTP/1.1\r\nHost: x\r\n") for _ in range(THREADS * 10)]
    bodies = [
        half_sent(port, b'POST /api/jobs/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"na')
        for _ in range(THREADS * 10)
    ]
    time.sleep(0.5)  # every slow client is connected and waiting
    started = time.monotonic()
    with urllib.request.urlopen(base + "/livez", timeout=READ_TIMEOUT_S * 5) as response:
        assert response.status == 200
    with urllib.request.urlopen(base + "/api/jobs/", timeout=READ_TIMEOUT_S * 5) as response:
        assert response.status == 200
    print(
        f"livez + list answered in {time.monotonic() - started:.3f} s beside {len(heads + bodies)} slow ones"
    )
    # Each slow client is cut off after the read timeout, with a 408 problem.
    for sock in [heads[0], bodies[0]]:
        sock.settimeout(READ_TIMEOUT_S * 5)  # a hang detector
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert b"application/problem+json" in head
        assert json.loads(body)["status"] == 408
    for sock in heads + bodies:
        sock.close()
    assert "Traceback" not in log.read_text()


def raw_request(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"400"),
        (b"NOT-HTTP\r\n\r\n", b"400"),
    ],
)
def test_gunicorns_own_errors_are_problems(served, payload, status):
    base, _, _ = served
    head, body = raw_request(int(base.rsplit(":", 1)[1]), payload)
    assert head.split(b" ")[1] == status
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == int(status)


def test_the_server_does_not_name_its_software(served):
    base, _, _ = served
    with urllib.request.urlopen(base + "/livez", timeout=10) as response:
        assert "gunicorn" not in response.headers.get("Server", "")
