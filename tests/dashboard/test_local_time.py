"""The viewer's time zone: read from the cookie (UTC when missing or wrong), shown, and typed times turned
into UTC for the URL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboard.list_state import jump_to_date, parse_view, zoned_timestamp
from dashboard.local_time import (
    UTC,
    ZONE_COOKIE,
    bucket_description,
    format_with_zone,
    input_value,
    viewer_zone,
    zone_abbreviation,
    zone_description,
    zone_from_name,
)
from db.errors import ValidationError

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    "name", [None, "", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/Paris;x", 7, "A" * 80]
)
def test_a_missing_or_invalid_zone_is_utc(name: object) -> None:
    assert zone_from_name(name) is UTC


def test_a_zone_is_read_from_the_cookie(app: Any) -> None:
    with app.server.test_request_context(headers={"Cookie": f"{ZONE_COOKIE}=Europe/Paris"}):
        assert viewer_zone() == PARIS
    with app.server.test_request_context(headers={"Cookie": f"{ZONE_COOKIE}=Nowhere/Land"}):
        assert viewer_zone() is UTC
    assert viewer_zone() is UTC  # outside a request


def test_times_are_shown_in_the_zone_and_say_which() -> None:
    winter = dt.datetime(2026, 1, 31, 14, 5, 9, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 31, 14, 5, 9, tzinfo=dt.UTC)
    assert format_with_zone(winter, PARIS) == "2026-01-31 15:05:09 CET"
    assert format_with_zone(summer, PARIS) == "2026-07-31 16:05:09 CEST"
    assert format_with_zone(winter, UTC) == "2026-01-31 14:05:09 UTC"
    assert zone_abbreviation(ZoneInfo("Europe/London"), at=winter) == "GMT"  # offset 0, yet not UTC
    assert zone_description(PARIS) == "local time (Europe/Paris)" and zone_description(UTC) == "UTC"
    assert input_value(winter, PARIS) == "2026-01-31T15:05:09"


def test_the_overview_buckets_say_days_are_utc() -> None:
    assert bucket_description("day", PARIS) == "day (days in UTC)"
    assert bucket_description("hour", PARIS) == "hour (Europe/Paris)"
    assert bucket_description("hour", UTC) == "hour (hours in UTC)"


def test_a_time_typed_in_local_time_reaches_the_url_in_utc() -> None:
    assert zoned_timestamp("2026-01-31T15:05", "created_after", PARIS) == "2026-01-31T14:05:00+00:00"
    assert zoned_timestamp("2026-07-31T16:05:09", "created_after", PARIS) == "2026-07-31T14:05:09+00:00"
    assert zoned_timestamp("2026-01-31T15:05", "created_after", UTC) == "2026-01-31T15:05:00+00:00"
    assert zoned_timestamp("2026-01-31T15:05+05:00", "x", PARIS) == "2026-01-31T10:05:00+00:00"
    assert zoned_timestamp("", "created_after", PARIS) == ""
    with pytest.raises(ValidationError):
        zoned_timestamp("tomorrow", "created_after", PARIS)


def test_jumping_to_a_local_day_uses_its_bounds_in_utc() -> None:
    query = parse_view({}, default_page_size=50, max_page_size=200)
    jumped = jump_to_date(query, "2026-03-29", zone=PARIS)  # the day clocks go forward: 23 hours
    assert jumped.filters.created_before == dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC)
    oldest = jump_to_date(
        parse_view({"ordering": ["created_at"]}, default_page_size=50, max_page_size=200),
        "2026-03-29",
        zone=PARIS,
    )
    assert oldest.filters.created_after == dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC)
