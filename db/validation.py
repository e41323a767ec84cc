"""Checks shared by the query and write functions; each failure names the field it is about."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from typing import Any

from db.errors import ValidationError
from db.models import MESSAGE_MAX_LENGTH, NAME_MAX_LENGTH, STATUSES

Q_MAX_LENGTH = 100


def collect(**checks: Callable[[], Any]) -> dict[str, Any]:
    """Run each zero-argument check; raise one ValidationError listing every failure, else the values."""
    values, errors = {}, []
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationError(errors)
    return values


def status(value: object, field: str = "status") -> str:
    """A status from the status set, matched case-insensitively."""
    if not isinstance(value, str) or value.strip().upper() not in STATUSES:
        raise ValidationError.single(field, f"must be one of {', '.join(STATUSES)}")
    return value.strip().upper()


def statuses(values: Iterable[object] | None, field: str = "status") -> tuple[str, ...]:
    """Distinct statuses, in the status set's order, so equal filters compare equal."""
    chosen = {status(v, field) for v in values or ()}
    return tuple(s for s in STATUSES if s in chosen)


def name(value: object) -> str:
    """A job name: text of at most 255 characters, trimmed, not blank."""
    if not isinstance(value, str):
        raise ValidationError.single("name", "must be a string")
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError.single("name", f"must be at most {NAME_MAX_LENGTH} characters")
    trimmed = value.strip()
    if not trimmed:
        raise ValidationError.single("name", "must not be empty")
    if len(trimmed) > NAME_MAX_LENGTH:
        raise ValidationError.single("name", f"must be at most {NAME_MAX_LENGTH} characters")
    if "\x00" in trimmed:
        raise ValidationError.single("name", "must not contain NUL characters")
    return trimmed


def message(value: object) -> str | None:
    """An optional event message of at most 4,096 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError.single("message", "must be a string")
    if len(value) > MESSAGE_MAX_LENGTH:
        raise ValidationError.single("message", f"must be at most {MESSAGE_MAX_LENGTH} characters")
    if "\x00" in value:
        raise ValidationError.single("message", "must not contain NUL characters")
    return value


def timestamp(value: object, field: str = "timestamp") -> dt.datetime:
    """A timezone-aware datetime, normalised to UTC."""
    if not isinstance(value, dt.datetime):
        raise ValidationError.single(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError.single(field, "must include a timezone offset")
    if not dt.datetime(1970, 1, 1, tzinfo=dt.UTC) <= value <= dt.datetime(9999, 1, 1, tzinfo=dt.UTC):
        raise ValidationError.single(field, "must be between 1970 and 9999")
    return value.astimezone(dt.UTC)


def not_in_future(value: dt.datetime | None, field: str, *, skew_s: int, now: dt.datetime) -> None:
    """An event may be at most ``skew_s`` seconds ahead of ``now`` (clocks differ a little, not years).

    A far-future event would stay the newest forever and freeze its job's current status.
    """
    if value is not None and value > now + dt.timedelta(seconds=skew_s):
        raise ValidationError.single(field, f"must not be more than {skew_s} seconds in the future")


def optional_timestamp(value: object, field: str) -> dt.datetime | None:
    """:func:`timestamp`, or ``None``."""
    return None if value is None else timestamp(value, field)


def search_text(value: object) -> str | None:
    """The ``q`` name filter: at most 100 characters; blank means no filter."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError.single("q", "must be a string")
    if len(value) > Q_MAX_LENGTH:
        raise ValidationError.single("q", f"must be at most {Q_MAX_LENGTH} characters")
    if "\x00" in value:
        raise ValidationError.single("q", "must not contain NUL characters")
    return value.strip() or None


def family(value: object, field: str = "family") -> str | None:
    """An optional family name: text, trimmed, 1 to 255 characters; blank means no filter."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError.single(field, "must be a string")
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError.single(field, f"must be at most {NAME_MAX_LENGTH} characters")
    if "\x00" in value:
        raise ValidationError.single(field, "must not contain NUL characters")
    return value.strip() or None


def flag(value: object, field: str) -> bool:
    """An on/off filter: a bool, or None for off."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError.single(field, "must be true or false")
    return value


def page_size(value: object, *, maximum: int) -> int:
    """A page size between 1 and ``maximum``; outside is an error, never a clamp."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single("page_size", "must be a whole number")
    if not 1 <= value <= maximum:
        raise ValidationError.single("page_size", f"must be between 1 and {maximum}")
    return value


def job_id(value: object) -> int:
    """A positive 64-bit job id."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise ValidationError.single("id", "must be a positive whole number")
    return value


# The longest duration a filter may name: past it no job can be (1e12 s is the unfinished jobs' sort key).
MAX_DURATION_S = 1e11


def optional_duration(value: object, field: str) -> float | None:
    """An optional duration in seconds: a finite, non-negative number (text of one is accepted)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValidationError.single(field, "must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError.single(field, "must be a number of seconds")
    if not 0 <= value <= MAX_DURATION_S:
        raise ValidationError.single(field, f"must be between 0 and {MAX_DURATION_S:.0f} seconds")
    return float(value)
