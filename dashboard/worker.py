"""gunicorn's threaded worker, made safe against slow clients.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first byte arrives; the thread
then blocks reading the rest of the request. A client that sends half a request and stops holds that
thread for as long as it likes, so a handful of them stop the process answering anything (``/livez``
included; gunicorn's ``timeout`` only watches the main loop).

This worker reads each request in the main loop instead, non-blocking, into a buffer in front of the
socket: the head, and a body of up to ``BODY_BUFFER_BYTES``. Only a complete request reaches a thread.
A request not complete within ``JOBDASH_REQUEST_READ_TIMEOUT_S`` is answered 408 and closed. Everything
else (graceful shutdown, keep-alive, worker recycling, the arbiter's heartbeat) is gunicorn's own.

Two more things gunicorn does that an API should not: its own error answers (400, 414, 431…) are
HTML, and it names itself in ``Server``. Here they are ``application/problem+json``, and ``Server`` says
``jobdash``.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
import time
from functools import partial
from typing import Any

import gunicorn.http.wsgi
from gunicorn.workers.gthread import TConn, ThreadWorker

from dashboard.settings import Settings

BODY_BUFFER_BYTES = 1024 * 1024
# Heads longer than this are handed to gunicorn's parser as they are, which refuses them (414/431).
HEAD_BUFFER_BYTES = 64 * 1024
# A thread that still has to read from (or write to) a client gives up after this long.
THREAD_IO_TIMEOUT_S = 30.0
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ([^\r\n]*)")
_HTML_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.DOTALL)

gunicorn.http.wsgi.SERVER = "jobdash"  # read by every gunicorn Response for its Server header


def request_complete(buffer: bytes | bytearray) -> bool:
    """Whether ``buffer`` holds a whole request head and its body (or as much of either as we buffer)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return len(buffer) > HEAD_BUFFER_BYTES
    head = bytes(buffer[:end]).lower()
    received = len(buffer) - end - 4
    if b"\r\ntransfer-encoding:" in head:
        return buffer.endswith(b"0\r\n\r\n") or received >= BODY_BUFFER_BYTES
    length = _CONTENT_LENGTH.search(head)
    return length is None or received >= min(int(length.group(1)), BODY_BUFFER_BYTES)


class BufferedSocket:
    """A client socket with the bytes the main loop already read in front of it."""

    def __init__(self, sock: socket.socket) -> None:
        self.raw = sock
        self.buffer = bytearray()

    def recv(self, size: int, *flags: int) -> bytes:
        """Buffered bytes first, then the socket's."""
        if self.buffer:
            chunk = bytes(self.buffer[:size])
            del self.buffer[:size]
            return chunk
        return self.raw.recv(size, *flags)

    def setblocking(self, flag: bool) -> None:
        """Blocking in a thread means bounded: a stalled client cannot hold the thread for ever."""
        if flag:
            self.raw.settimeout(THREAD_IO_TIMEOUT_S)
        else:
            self.raw.setblocking(False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class _Captured:
    """Stands in for the client while gunicorn renders an error, to keep its status and message."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.data = b""

    def sendall(self, data: bytes) -> None:
        self.data += data

    send = sendall

    def gettimeout(self) -> float | None:
        return None

    def setblocking(self, flag: bool) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def problem_bytes(status: int, title: str, detail: str, extra_headers: str = "") -> bytes:
    """A whole HTTP/1.1 problem+json answer that closes the connection."""
    body = json.dumps(
        {
            "type": "https://jobdash.dev/problems/" + title.lower().replace(" ", "-"),
            "title": title,
            "status": status,
            "detail": detail,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\nConnection: close\r\nServer: jobdash\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n{extra_headers}\r\n"
    )
    return head.encode("latin-1") + body


class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """``gthread`` that reads whole requests in its main loop before any thread sees them."""

    def init_process(self) -> None:
        """Read the request timeout from the settings, then start as gunicorn's thread worker does."""
        self.read_timeout = Settings.from_env().request_read_timeout_s
        self.reading: dict[TConn, float] = {}
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        """Accept a connection and start reading its first request in the main loop."""
        try:
            client_sock, client_addr = listener.accept()
        except (BlockingIOError, ConnectionAbortedError, InterruptedError):
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, BufferedSocket(client_sock), client_addr, listener.getsockname())
        self._read_request(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection has its next request coming: read it here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_request(conn)

    def _read_request(self, conn: TConn) -> None:
        if request_complete(conn.sock.buffer):
            self._dispatch(conn)
            return
        self.reading[conn] = time.monotonic() + self.read_timeout
        self.poller.register(conn.sock, 1, partial(self._on_readable, conn))  # 1: selectors.EVENT_READ

    def _on_readable(self, conn: TConn, _fileobj: Any) -> None:
        try:
            data = conn.sock.raw.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._forget(conn)
            conn.close()
            return
        conn.sock.buffer += data
        if request_complete(conn.sock.buffer):
            self.poller.unregister(conn.sock)
            del self.reading[conn]
            self._dispatch(conn)

    def _dispatch(self, conn: TConn) -> None:
        conn.data_ready = True  # no thread-side wait for data: it is here
        self.enqueue_req(conn)

    def _forget(self, conn: TConn) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1

    def murder_pending(self) -> None:
        """gunicorn's sweep, plus: answer 408 to requests not complete within the read timeout."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, deadline in self.reading.items() if deadline <= now]:
            self._forget(conn)
            detail = f"the request was not received within {self.read_timeout} s"
            with contextlib.suppress(OSError):
                conn.sock.raw.send(problem_bytes(408, "Request Timeout", detail))
            conn.close()

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """gunicorn's, plus: a kept-alive connection whose next request is already buffered is read on."""
        super().finish_request(conn, fs)
        if conn.sock.buffer and conn in self.keepalived_conns:
            self.poller.unregister(conn.sock)
            self.keepalived_conns.remove(conn)
            self._read_request(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's error answer (status, message, logging) sent as problem+json instead of HTML."""
        captured = _Captured(client)
        super().handle_error(req, captured, addr, exc)
        status = _STATUS_LINE.match(captured.data)
        if status is None:
            return
        message = _HTML_MESSAGE.search(captured.data)
        title = status.group(2).decode("latin-1")
        detail = html.unescape(message.group(1).decode("latin-1")) if message else ""
        with contextlib.suppress(OSError):
            client.sendall(problem_bytes(int(status.group(1)), title, detail or title))
