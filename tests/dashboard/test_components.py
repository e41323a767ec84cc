"""Shared building blocks: badges, formatting, honest counts and page states."""

from __future__ import annotations

import datetime as dt
import json

from dash import html

from dashboard.components import (
    STATUS_COLORS,
    describe_count,
    describe_total,
    empty_state,
    error_state,
    format_duration,
    format_timestamp,
    html_attributes,
    pager,
    status_badge,
    status_options,
)
from db.errors import FieldError
from db.models import STATUSES
from db.queries import Count


def as_json(component: object) -> str:
    """The JSON Dash sends to the browser for ``component``."""
    return json.dumps(component, ensure_ascii=False, default=lambda c: c.to_plotly_json())


def test_every_status_has_a_colour_and_a_labelled_badge() -> None:
    assert set(STATUS_COLORS) == set(STATUSES)
    badge = status_badge("FAILED")
    text = as_json(badge)
    assert "Failed" in text and STATUS_COLORS["FAILED"] in text and "bi-x-octagon" in text


def test_status_options_use_the_api_names_as_values() -> None:
    assert [option["value"] for option in status_options()] == list(STATUSES)


def test_format_timestamp_is_utc_and_blank_for_none() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert format_timestamp(dt.datetime(2026, 1, 31, 15, 5, 9, tzinfo=paris)) == "2026-01-31 14:05:09"
    assert format_timestamp(None) == ""


def test_format_duration_picks_two_units() -> None:
    assert format_duration(dt.timedelta(seconds=45)) == "45s"
    assert format_duration(dt.timedelta(seconds=0.423)) == "0.42s"
    assert format_duration(dt.timedelta(seconds=12.34)) == "12.3s"
    assert format_duration(dt.timedelta(seconds=59.97)) == "59s"  # never "60.0s"
    assert format_duration(dt.timedelta(minutes=3, seconds=5)) == "3m 05s"
    assert format_duration(dt.timedelta(hours=2, minutes=4, seconds=59)) == "2h 04m"
    assert format_duration(dt.timedelta(days=3, hours=4, minutes=1)) == "3d 4h"
    assert format_duration(dt.timedelta(seconds=-5)) == "0s"


def test_counts_say_when_they_are_not_exact() -> None:
    assert describe_count(Count(1, "exact")) == "1 job"
    assert describe_count(Count(1234, "exact")) == "1,234 jobs"
    assert describe_count(Count(98000, "estimate")) == "about 98,000 jobs"
    assert describe_count(Count(1000, "at_least")) == "more than 1,000 jobs"
    assert describe_total(5, exact=True) == "5"
    assert describe_total(98000, exact=False) == "≈ 98,000"


def test_error_state_names_each_field_and_offers_a_way_out() -> None:
    state = error_state(
        "Bad filters",
        errors=[FieldError("status", "must be one of …")],
        reset_href="/jobs",
        reset_label="Reset",
    )
    text = as_json(state)
    assert "Bad filters" in text and "status" in text and '"/jobs"' in text and '"error"' in text


def test_empty_state_is_marked_for_tests_and_screen_readers() -> None:
    state = empty_state("Nothing", "No rows", action=html.Span("act"))
    assert state.to_plotly_json()["props"]["data-state"] == "empty"


def test_html_attributes_spell_data_and_aria_names_with_dashes() -> None:
    assert html_attributes(data_job_id="7", aria_live="polite") == {"data-job-id": "7", "aria-live": "polite"}


def test_the_pager_starts_with_only_the_directions_the_page_allows_enabled() -> None:
    buttons = pager(first=("f", "First"), back=("b", "Back"), forward=("n", "Next"), enabled={"forward"})
    assert [button.disabled for button in buttons.children] == [True, True, False]
    assert all(
        button.disabled for button in pager(first=("f", "F"), back=("b", "B"), forward=("n", "N")).children
    )
