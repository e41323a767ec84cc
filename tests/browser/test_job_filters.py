"""The /jobs filters in headless Chromium: the last-update range and the duration range set in the page,
sorting by duration, the running time of unfinished jobs, and a jump to a date that keeps every other
filter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from db import writes
from db.engine import Database
from db.queries import JobFilter, list_jobs

pytestmark = pytest.mark.browser
PAGE_SIZE = 10
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shown_ids(duo: Any) -> list[int]:
    return list(
        duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('#jobs-rows tr.job-row'))"
            ".map(function (row) { return Number(row.dataset.jobId); });"
        )
    )


def expected_ids(database: Database, ordering: str = "-created_at", **filters: Any) -> list[int]:
    with database.read() as conn:
        page = list_jobs(conn, filters=JobFilter.build(**filters), ordering=ordering, page_size=PAGE_SIZE)
    return [row["id"] for row in page.results]


def url_args(duo: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(duo.driver.current_url).query)


def set_value(duo: Any, element_id: str, value: str) -> None:
    """Give an input a value as typing would (React sees an input event), then leave it."""
    duo.driver.execute_script(
        """
        const input = document.getElementById(arguments[0]);
        const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
        setter.call(input, arguments[1]);
        input.dispatchEvent(new Event("input", {bubbles: true}));
        input.dispatchEvent(new Event("change", {bubbles: true}));
        input.dispatchEvent(new Event("blur", {bubbles: true}));
        """,
        element_id,
        value,
    )


def test_updated_range_and_duration_filter_and_sort_in_the_page(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/jobs?page_size={PAGE_SIZE}")
    until(lambda: len(shown_ids(duo)) == PAGE_SIZE, 10)
    labels = {label.text.lower() for label in duo.find_elements(".filters-card label")}  # upper-cased by CSS
    # The zone label sits beside its title by margin, so the text has no space before it.
    wanted = {"updated from(utc)", "updated before(utc)", "min duration (s)", "max duration (s)"}
    assert wanted <= labels

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    after, before = now - dt.timedelta(days=60), now - dt.timedelta(days=20)
    set_value(duo, "jobs-updated-after", after.strftime("%Y-%m-%dT%H:%M:%S"))
    until(lambda: "updated_after" in url_args(duo), 10)
    set_value(duo, "jobs-updated-before", before.strftime("%Y-%m-%dT%H:%M:%S"))
    until(lambda: "updated_before" in url_args(duo), 10)
    assert url_args(duo)["updated_after"] == [after.isoformat()]
    ranged = {"updated_after": after, "updated_before": before}
    until(lambda: shown_ids(duo) == expected_ids(seeded, **ranged), 10)

    duo.find_element("#jobs-min-duration").send_keys("600")
    until(lambda: url_args(duo).get("min_duration") == ["600"], 10)
    ranged["min_duration"] = 600
    until(lambda: shown_ids(duo) == expected_ids(seeded, **ranged), 10)

    duo.find_element("#jobs-sort-duration").click()  # longest first
    until(lambda: url_args(duo).get("ordering") == ["-duration"], 10)
    longest = expected_ids(seeded, ordering="-duration", **ranged)
    until(lambda: shown_ids(duo) == longest, 10)
    cells = [cell.text for cell in duo.find_elements("#jobs-rows .duration-cell")]
    assert len(cells) == len(longest) and all(text and "running" not in text for text in cells)
    with seeded.read() as conn:
        durations = {
            row["id"]: row["duration"]
            for row in list_jobs(
                conn, filters=JobFilter.build(**ranged), ordering="-duration", page_size=PAGE_SIZE
            ).results
        }
    assert all(durations[i] >= 600 for i in longest)
    assert [durations[i] for i in longest] == sorted((durations[i] for i in longest), reverse=True)
    duo.find_element("#jobs-sort-duration").click()  # shortest first
    until(lambda: url_args(duo).get("ordering") == ["duration"], 10)
    until(lambda: shown_ids(duo) == expected_ids(seeded, ordering="duration", **ranged), 10)
    # The filters were kept by the sort, and the controls still show them.
    assert url_args(duo)["min_duration"] == ["600"] and "updated_before" in url_args(duo)
    assert duo.find_element("#jobs-min-duration").get_attribute("value") == "600"
    duo.driver.save_screenshot(str(SCREENSHOTS / "jobs-duration.png"))


def test_unfinished_jobs_show_their_running_time(dash_server: Any, database: Database) -> None:
    duo = dash_server
    now = dt.datetime.now(dt.UTC)
    with database.write() as conn:
        running = writes.create_job(
            conn, name="long-haul-1", timestamp=now - dt.timedelta(hours=3, minutes=12, seconds=5)
        )["id"]
        writes.append_status(conn, job_id=running, status="RUNNING", timestamp=now - dt.timedelta(hours=3))
        done = writes.create_job(conn, name="short-1", timestamp=now - dt.timedelta(minutes=5))["id"]
        writes.append_status(conn, job_id=done, status="RUNNING", timestamp=now - dt.timedelta(minutes=4))
        writes.append_status(
            conn, job_id=done, status="COMPLETED", timestamp=now - dt.timedelta(minutes=1, seconds=30)
        )
    duo.wait_for_page(url=f"{duo.server_url}/jobs?ordering=duration")
    until(lambda: shown_ids(duo) == [done, running], 10)
    cells = duo.find_elements("#jobs-rows .duration-cell")
    assert cells[0].text == "3m 30s" and "duration-running" not in cells[0].get_attribute("class")
    assert cells[1].text == "running 3h 12m"
    assert "duration-running" in cells[1].get_attribute("class")
    assert "text-body-secondary" in cells[1].get_attribute("class")


def test_a_jump_to_a_date_keeps_every_other_filter(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    updated_after = (now - dt.timedelta(days=150)).isoformat()
    query = (
        f"status=COMPLETED,FAILED&q=e&family=etl-orders&updated_after={quote(updated_after)}"
        f"&min_duration=60&max_duration=100000&page_size={PAGE_SIZE}"
    )
    duo.wait_for_page(url=f"{duo.server_url}/jobs?{query}")
    until(lambda: len(shown_ids(duo)) > 0, 10)
    before = dict(url_args(duo))
    day = (now - dt.timedelta(days=40)).date()
    set_value(duo, "jobs-jump-date", day.isoformat())
    go = duo.find_element("#jobs-jump")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", go)
    go.click()
    until(lambda: "created_before" in url_args(duo), 10)
    after = url_args(duo)
    for name, values in before.items():
        assert after[name] == values, name
    assert after["created_before"] == [
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).isoformat()
    ]
    filters = {
        "statuses": ["COMPLETED", "FAILED"],
        "q": "e",
        "family": "etl-orders",
        "updated_after": dt.datetime.fromisoformat(updated_after),
        "min_duration": 60,
        "max_duration": 100000,
        "created_before": dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC),
    }
    wanted = expected_ids(seeded, **filters)
    assert wanted
    until(lambda: shown_ids(duo) == wanted, 10)
    checked = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#jobs-status input:checked')).map(i => i.value);"
    )
    assert sorted(checked) == ["COMPLETED", "FAILED"]
    assert duo.find_element("#jobs-min-duration").get_attribute("value") == "60"
    assert duo.find_element("#jobs-family").get_attribute("value") == "etl-orders"
    # A datetime-local input leaves out ":00" seconds: compare the times, not the texts.
    shown_after = duo.find_element("#jobs-updated-after").get_attribute("value")
    assert dt.datetime.fromisoformat(shown_after) == dt.datetime.fromisoformat(updated_after[:19])
    assert (
        duo.driver.find_element(By.ID, "jobs-created-before")
        .get_attribute("value")
        .startswith((day + dt.timedelta(days=1)).isoformat())
    )
