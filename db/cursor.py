"""Opaque keyset cursors: a position in one ordering of one filtered list, strictly decoded.

The format is described in docs/architecture.md, "Lists and cursors"."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from db.errors import ValidationError

Direction = Literal["next", "prev"]
_VERSION = 1
# The longest token accepted anywhere (query strings, the dashboard's pager): longer is never ours.
MAX_TOKEN_LENGTH = 2048
# Keys outside this range cannot be converted to UTC or stored, so no real row has them.
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _storable(text: str) -> bool:
    """Text a database can compare: valid UTF-8 (no lone surrogates) and no NUL characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (``next``) or before (``prev``) the row with this sort key and id."""

    direction: Direction
    # A name, a time, or a duration in seconds (None: an unfinished job, in a duration ordering).
    key: str | dt.datetime | float | None
    id: int


def fingerprint(*parts: object) -> str:
    """A short digest of what a cursor belongs to (list, ordering, filters), so foreign cursors fail."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode(cursor: Cursor, *, scope: str) -> str:
    """The opaque token for ``cursor`` in ``scope`` (a :func:`fingerprint`)."""
    key = cursor.key.isoformat() if isinstance(cursor.key, dt.datetime) else cursor.key
    payload = [_VERSION, scope, "n" if cursor.direction == "next" else "p", key, cursor.id]
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(token: object, *, scope: str, key_type: type[str] | type[dt.datetime] | type[float]) -> Cursor:
    """Parse a token made by :func:`encode` for the same ``scope``; anything else is a ValidationError."""
    invalid = ValidationError.single("cursor", "is not a valid cursor for this list; start from page one")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not (isinstance(payload, list) and len(payload) == 5):
        raise invalid
    version, token_scope, direction, key, ident = payload
    if version != _VERSION or token_scope != scope or direction not in ("n", "p"):
        raise invalid
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 <= ident < 2**63:
        raise invalid
    if key_type is float:
        # A duration: a finite non-negative number, or null for an unfinished job.
        if key is not None and (
            isinstance(key, bool) or not isinstance(key, int | float) or not 0 <= key < 1e12
        ):
            raise invalid
        return Cursor(
            direction="next" if direction == "n" else "prev",
            key=None if key is None else float(key),
            id=ident,
        )
    if not isinstance(key, str) or len(key) > 1024 or not _storable(key):
        raise invalid
    value: str | dt.datetime = key
    if key_type is dt.datetime:
        try:
            value = dt.datetime.fromisoformat(key)
        except ValueError:
            raise invalid from None
        # The scope is a digest, not a secret: a hand-made token must still hold a key the database takes.
        if value.tzinfo is None or not _EARLIEST <= value <= _LATEST:
            raise invalid
    return Cursor(direction="next" if direction == "n" else "prev", key=value, id=ident)
