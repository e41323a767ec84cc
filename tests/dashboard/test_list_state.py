"""The /jobs view state: URL <-> controls, validated exactly like the API, hostile values rejected."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from typing import Any

import pytest

from dashboard.list_state import (
    MAX_QUERY_FIELDS,
    MAX_SEARCH_LENGTH,
    Control,
    args_from_controls,
    args_from_page_query,
    args_from_search,
    controls_from_query,
    jump_to_date,
    page_size_options,
    parse_view,
    search_from_query,
    toggle_ordering,
    with_cursor,
)
from dashboard.params import FILTER_PARAMS
from db.cursor import MAX_TOKEN_LENGTH
from db.errors import ValidationError
from db.queries import JobFilter

SIZES = {"default_page_size": 50, "max_page_size": 200}


def view(search: str):
    return parse_view(args_from_search(search), **SIZES)


def test_a_url_round_trips_through_the_api_parser() -> None:
    search = "?status=FAILED,RUNNING&q=etl&created_after=2026-01-01T00:00:00+00:00&ordering=name&page_size=10"
    query = view(search.replace("+", "%2B"))
    assert query.filters.statuses == ("RUNNING", "FAILED")
    assert query.filters.q == "etl"
    assert query.filters.created_after == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert (query.ordering, query.page_size, query.cursor) == ("name", 10, None)
    again = view(search_from_query(query, default_page_size=50))
    assert again == query


def test_the_default_view_has_an_empty_query_string() -> None:
    assert search_from_query(view(""), default_page_size=50) == ""


def test_repeated_and_case_insensitive_statuses_are_accepted_like_the_api() -> None:
    assert view("?status=failed&status=Running").filters.statuses == ("RUNNING", "FAILED")


@pytest.mark.parametrize(
    ("search", "field"),
    [
        ("?status=BOGUS", "status"),
        ("?page_size=0", "page_size"),
        ("?page_size=201", "page_size"),
        ("?page_size=abc", "page_size"),
        ("?ordering=id", "ordering"),
        ("?created_after=yesterday", "created_after"),
        ("?created_after=2026-01-01T00:00:00", "created_after"),  # no offset
        ("?q=" + "x" * 101, "q"),
        ("?foo=1", "foo"),
        ("?q=a&q=b", "q"),
    ],
)
def test_bad_urls_name_the_parameter(search: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        view(search)
    assert field in {error.field for error in caught.value.errors}


@pytest.mark.parametrize("search", [123, ["?q=a"], {"q": "a"}, "?" + "a" * MAX_SEARCH_LENGTH])
def test_hostile_search_values_are_errors(search: object) -> None:
    with pytest.raises(ValidationError):
        args_from_search(search)


def test_too_many_parameters_is_an_error() -> None:
    with pytest.raises(ValidationError):
        args_from_search("?" + "&".join(f"q{i}=1" for i in range(MAX_QUERY_FIELDS + 1)))


def test_layout_query_from_dash_pages_accepts_strings_and_lists_only() -> None:
    assert args_from_page_query({"status": ["FAILED", "RUNNING"], "q": "x"}) == {
        "status": ["FAILED", "RUNNING"],
        "q": ["x"],
    }
    with pytest.raises(ValidationError):
        args_from_page_query({"q": {"nested": 1}})


@pytest.fixture
def controls(app: Any) -> tuple[Control, ...]:
    """The /jobs page's table of controls (its module registers a page, so it needs an app)."""
    return importlib.import_module("dashboard.pages.jobs").CONTROLS


def test_controls_show_the_query_with_utc_local_times(controls: tuple[Control, ...]) -> None:
    query = view(
        "?status=FAILED&family=etl-orders&created_before=2026-01-02T03:04:05%2B02:00&page_size=25"
        "&updated_after=2026-01-01T00:00:00-01:00&min_duration=90&max_duration=1.5e3"
    )
    assert controls_from_query(query, controls) == {
        "status": ["FAILED"],
        "q": "",
        "family": "etl-orders",
        "created_after": "",
        "created_before": "2026-01-02T01:04:05",
        "updated_after": "2026-01-01T01:00:00",
        "updated_before": "",
        "min_duration": 90,
        "max_duration": 1500,
        "stuck": False,
        "page_size": "25",
    }
    stuck = view("?stuck=true&family=etl-orders")
    assert controls_from_query(stuck, controls)["stuck"] is True
    args = args_from_controls(controls_from_query(stuck, controls), controls, ordering=stuck.ordering)
    assert args["stuck"] == ["true"] and parse_view(args, **SIZES) == stuck
    with pytest.raises(ValidationError):
        args_from_controls({"stuck": "yes"}, controls, ordering="name")


def test_controls_become_api_arguments(controls: tuple[Control, ...]) -> None:
    values = {
        "status": ["FAILED", "RUNNING"],
        "q": "etl",
        "family": " etl-orders ",
        "created_after": "2026-01-01T10:00",
        "created_before": "",
        "updated_before": "2026-01-02T00:00",
        "min_duration": 2.5,
        "max_duration": "",
        "page_size": "25",
    }
    args = args_from_controls(values, controls, ordering="name")
    assert args == {
        "status": ["FAILED,RUNNING"],
        "q": ["etl"],
        "family": ["etl-orders"],
        "created_after": ["2026-01-01T10:00:00+00:00"],
        "updated_before": ["2026-01-02T00:00:00+00:00"],
        "min_duration": ["2.5"],
        "page_size": ["25"],
        "ordering": ["name"],
    }
    assert parse_view(args, **SIZES).page_size == 25


def test_what_the_controls_show_reopens_the_same_query(controls: tuple[Control, ...]) -> None:
    query = view(
        "?status=FAILED,CANCELLED&q=etl&family=etl-orders&created_after=2026-01-01T00:00:00%2B00:00"
        "&created_before=2026-02-01T12:30:00%2B00:00&ordering=name&page_size=25"
    )
    args = args_from_controls(controls_from_query(query, controls), controls, ordering=query.ordering)
    assert parse_view(args, **SIZES) == query


def test_every_filter_of_the_list_has_a_control(controls: tuple[Control, ...]) -> None:
    # A filter the API takes but the page has no control for would be dropped by the page's controls.
    assert set(FILTER_PARAMS) | {"page_size"} == {control.param for control in controls}


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "FAILED"),
        ("status", [{"$ne": 1}]),
        ("status", ["FAILED"] * 50),
        ("q", {"$gt": ""}),
        ("q", ["a"]),
        ("q", "x" * 10_000),
        ("family", ["etl-orders"]),
        ("family", "x" * 10_000),
        ("created_after", "not a date"),
        ("created_before", 12.5),
        ("page_size", True),
        ("page_size", [50]),
    ],
)
def test_hostile_control_values_are_errors_naming_the_field(
    controls: tuple[Control, ...], param: str, value: object
) -> None:
    values: dict[str, object] = dict.fromkeys(("q", "family", "created_after", "created_before"), "")
    values["status"] = []
    values[param] = value
    with pytest.raises(ValidationError) as caught:
        args_from_controls(values, controls, ordering="-created_at")
    assert [error.field for error in caught.value.errors] == [param]


def test_cursor_must_be_text_no_longer_than_any_cursor() -> None:
    query = view("")
    assert with_cursor(query, "abc").cursor == "abc"
    with pytest.raises(ValidationError):
        with_cursor(query, {"x": 1})
    with pytest.raises(ValidationError):
        with_cursor(query, "x" * (MAX_TOKEN_LENGTH + 1))


def test_header_clicks_toggle_the_ordering() -> None:
    assert toggle_ordering("-created_at", "created") == "created_at"
    assert toggle_ordering("created_at", "created") == "-created_at"
    assert toggle_ordering("-created_at", "name") == "name"
    assert toggle_ordering("name", "name") == "-name"
    assert toggle_ordering("name", "updated") == "-updated_at"
    with pytest.raises(ValidationError):
        toggle_ordering("name", "id; DROP TABLE job")


@dataclasses.dataclass(frozen=True)
class FilterWithANewField(JobFilter):
    """A filter as it will be once someone adds a field to JobFilter."""

    new_field: str | None = None


def test_derived_queries_keep_every_filter_they_do_not_set() -> None:
    base = view(
        "?status=FAILED&q=etl&created_after=2026-01-01T00:00:00%2B00:00"
        "&created_before=2026-09-01T00:00:00%2B00:00&page_size=25&cursor=abc"
    )
    fields = {f.name: getattr(base.filters, f.name) for f in dataclasses.fields(base.filters)}
    query = dataclasses.replace(base, filters=FilterWithANewField(**fields, new_field="kept"))
    assert with_cursor(query, "def") == dataclasses.replace(query, cursor="def")
    jumped = jump_to_date(query, "2026-03-04")
    assert jumped.filters == dataclasses.replace(
        query.filters, created_before=dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    )
    assert (jumped.filters.new_field, jumped.page_size, jumped.cursor) == ("kept", 25, None)


def test_jump_to_date_sets_the_created_range_for_the_ordering() -> None:
    newest_first = jump_to_date(view("?status=FAILED"), "2026-03-04")
    assert newest_first.filters.created_before == dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    assert newest_first.filters.statuses == ("FAILED",)
    oldest_first = jump_to_date(view("?ordering=created_at"), "2026-03-04")
    assert oldest_first.filters.created_after == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    by_name = jump_to_date(view("?ordering=name"), "2026-03-04")
    assert by_name.ordering == "-created_at"
    # An older "from" that would conflict is dropped rather than making an impossible range.
    conflicting = jump_to_date(view("?created_after=2026-06-01T00:00:00%2B00:00"), "2026-03-04")
    assert conflicting.filters.created_after is None
    with pytest.raises(ValidationError):
        jump_to_date(view(""), "next tuesday")


def test_page_sizes_never_exceed_the_maximum_and_include_the_default() -> None:
    values = [option["value"] for option in page_size_options(default=30, maximum=60)]
    assert values == ["10", "25", "30", "50"]
