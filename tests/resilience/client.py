"""A small HTTP client for the resilience cases: every answer as (status, headers, parsed body)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TOKEN = "resilience-token"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


def call(base: str, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Answer:
    """One request; HTTP errors are answers too. Connection failures raise OSError."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, dict(exc.headers), exc.read()
    return Answer(status, headers, json.loads(raw) if raw else None, time.monotonic() - started)


def cache_outcome(answer: Answer) -> str | None:
    timing = answer.headers.get("Server-Timing", "")
    return timing.split('cache;desc="', 1)[1].split('"', 1)[0] if "cache;desc" in timing else None


def is_retryable_problem(answer: Answer) -> bool:
    """A 503 problem the client may retry: what an outage must look like."""
    return (
        answer.status == 503
        and answer.headers.get("Content-Type") == "application/problem+json"
        and "Retry-After" in answer.headers
    )
