"""The viewer's time zone: which one the pages show times in, and times shown and typed in it.

The browser knows its zone (``Intl.DateTimeFormat().resolvedOptions().timeZone``) and whether the viewer
switched to UTC (remembered in localStorage). The index page's first script writes the zone to show in
the cookie ``ZONE_COOKIE`` before Dash asks for anything, so the server draws a page's headers, facts and
chart labels in that zone from the first paint; the tables, drawn in the browser, read the same choice
(``assets/jobdash.js``). A missing, malformed or unknown zone is UTC, never an error.

Only what is shown moves to the viewer's zone: the URL and the API stay in UTC. A time typed into a
date input is taken in the zone the input is labelled with and converted to UTC before it reaches the
URL; the overview's day buckets stay whole UTC days (a day's count cannot be cut at a local midnight
from the per-day count tables), and the chart says so.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dash import html
from flask import has_request_context, request

from dashboard.components import html_attributes

ZONE_COOKIE = "jobdash-tz"
# localStorage: "utc" when the viewer switched to UTC, else the browser's own zone is shown.
ZONE_MODE_KEY = "jobdash-time-zone"
UTC = ZoneInfo("UTC")
# IANA names: letters, digits and _ + - in at most a few /-separated parts (no dots: no paths).
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")
_ZONE_NAME_MAX = 64


def zone_from_name(name: object) -> ZoneInfo:
    """The zone called ``name`` (an IANA name such as ``Europe/Paris``), or UTC if it is not one."""
    if not isinstance(name, str) or len(name) > _ZONE_NAME_MAX or not _ZONE_NAME.fullmatch(name):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def viewer_zone() -> ZoneInfo:
    """The zone the current request's viewer sees times in (UTC outside a request or without a cookie)."""
    if not has_request_context():
        return UTC
    return zone_from_name(request.cookies.get(ZONE_COOKIE))


def is_utc(zone: dt.tzinfo) -> bool:
    """Whether ``zone`` is UTC itself (not merely a zone at offset 0 today, like Europe/London in winter)."""
    return str(zone) in ("UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu")


def zone_abbreviation(zone: dt.tzinfo, *, at: dt.datetime | None = None) -> str:
    """A column header's short name of the zone: ``UTC``, ``CET``, ``IST``, ``-03``."""
    if is_utc(zone):
        return "UTC"
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(zone)
    return moment.tzname() or str(zone)


def zone_description(zone: dt.tzinfo) -> str:
    """What an input or a caption says about its zone: ``UTC`` or ``local time (Europe/Paris)``."""
    return "UTC" if is_utc(zone) else f"local time ({zone})"


def bucket_description(bucket: str, zone: dt.tzinfo) -> str:
    """How a chart's buckets are cut: ``hour (Europe/Paris)``; days are always ``day (days in UTC)``."""
    if bucket == "day" or is_utc(zone):
        return f"{bucket} ({bucket}s in UTC)"
    return f"{bucket} ({zone})"


def format_in_zone(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    """An aware datetime as ``2026-01-31 15:05:09`` in ``zone``; blank for None."""
    if value is None:
        return ""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def format_with_zone(value: dt.datetime, zone: dt.tzinfo) -> str:
    """``2026-01-31 15:05:09 CET``: the time in ``zone`` and the zone's name at that time."""
    return f"{format_in_zone(value, zone)} {zone_abbreviation(zone, at=value)}"


def input_value(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    """A time as a ``datetime-local`` input labelled with ``zone`` shows it."""
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") if value else ""


def to_utc_text(text: str, zone: dt.tzinfo) -> str:
    """A ``datetime-local`` value typed in ``zone`` (an explicit offset wins) as ISO 8601 in UTC.

    Raises ValueError when ``text`` is not a date and time. A wall time that a clock change skips or
    repeats is read with the offset before the change (``fold=0``), as the zone database defines it.
    """
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC).isoformat()


def zone_label(zone: dt.tzinfo | None = None) -> html.Span:
    """``(CET)`` beside a header or an input's label, naming the zone in full on hover and to screen
    readers (the viewer's zone unless ``zone`` is given)."""
    zone = viewer_zone() if zone is None else zone
    description = zone_description(zone)
    return html.Span(
        f"({zone_abbreviation(zone)})",
        title=description,
        className="zone-label",
        **html_attributes(aria_label=f"({description})"),
    )
