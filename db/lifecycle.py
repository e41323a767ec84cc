"""The job lifecycle: which status may follow which (docs/architecture.md, "The lifecycle").

PENDING -> RUNNING | CANCELLED; RUNNING -> RUNNING (progress) | COMPLETED | FAILED | CANCELLED;
FAILED -> PENDING (a retry). Anything else, such as COMPLETED -> RUNNING, is not allowed: the write path
still stores it (the event log records what was reported), flags it, and ``jobdash db check`` lists it.
"""

from __future__ import annotations

from db.models import Status

ALLOWED: frozenset[tuple[Status, Status]] = frozenset(
    {
        ("PENDING", "RUNNING"),
        ("PENDING", "CANCELLED"),
        ("RUNNING", "RUNNING"),
        ("RUNNING", "COMPLETED"),
        ("RUNNING", "FAILED"),
        ("RUNNING", "CANCELLED"),
        ("FAILED", "PENDING"),
    }
)


def allowed(before: str, after: str) -> bool:
    """Whether a job may go from ``before`` to ``after`` (the next event of its history)."""
    return (before, after) in ALLOWED


def allowed_sql(before: str, after: str) -> str:
    """A SQL condition, true when the pair of status expressions is an allowed transition."""
    pairs = ", ".join(f"('{a}', '{b}')" for a, b in sorted(ALLOWED))
    return f"(({before}, {after}) IN ({pairs}))"
