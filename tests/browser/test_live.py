"""Live pages in headless Chromium: auto-refresh adds new jobs at the top of the first page marked new and
re-draws only the rows that changed (an unchanged row keeps its very element); elsewhere a banner counts
the newer jobs and refreshes on request; a hidden tab makes no refresh; times follow the browser's zone
until the viewer switches to UTC, which is remembered."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import Select

from db.engine import Database
from db.writes import append_status, create_job
from tests.browser.test_dashboard import SCREENSHOTS, eventually, shown_ids, wait_for_rows

pytestmark = pytest.mark.browser
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

SET_VISIBILITY = """
Object.defineProperty(document, "visibilityState", {value: arguments[0], configurable: true});
Object.defineProperty(document, "hidden", {value: arguments[0] === "hidden", configurable: true});
document.dispatchEvent(new Event("visibilitychange"));
"""


def old_jobs(job_factory: Any, count: int) -> list[int]:
    """``count`` jobs created an hour apart on the first day of 2026, oldest first."""
    return [job_factory(created_at=T0 + dt.timedelta(hours=n))["id"] for n in range(count)]


def new_job(database: Database, name: str = "fresh-job") -> int:
    with database.write() as conn:
        return int(create_job(conn, name=name)["id"])


def auto_refresh(duo: Any, seconds: str = "5") -> None:
    Select(duo.find_element("#shell-refresh-interval")).select_by_value(seconds)


def row(duo: Any, job_id: int) -> Any:
    return duo.find_element(f'#jobs-rows tr[data-job-id="{job_id}"]')


def test_new_jobs_appear_on_top_marked_new_and_unchanged_rows_keep_their_element(
    dash_server: Any, database: Database, job_factory: Any
) -> None:
    duo = dash_server
    ids = old_jobs(job_factory, 5)
    duo.wait_for_page(url=f"{duo.server_url}/jobs?page_size=10")
    assert wait_for_rows(duo, lambda shown: len(shown) == 5) == list(reversed(ids))
    unchanged, changed = row(duo, ids[1]), row(duo, ids[3])
    auto_refresh(duo)
    with database.write() as conn:
        append_status(conn, job_id=ids[3], status="RUNNING")
    added = new_job(database)

    eventually(lambda: shown_ids(duo)[:1] == [added], timeout=15)
    assert shown_ids(duo) == [added, *reversed(ids)]
    fresh = row(duo, added)
    assert "row-new" in fresh.get_attribute("class") and "New" in fresh.text
    eventually(lambda: "Running" in row(duo, ids[3]).text)
    # The unchanged row is the very element it was (Selenium raises if it was replaced or detached)...
    assert unchanged.get_attribute("data-job-id") == str(ids[1]) and unchanged.is_displayed()
    # ...while the row whose status changed was re-drawn.
    with pytest.raises(StaleElementReferenceException):
        changed.get_attribute("data-job-id")
    assert "1 new job at the top" in duo.find_element("#jobs-live-announce").get_attribute("textContent")
    assert duo.find_element("#jobs-live-banner").get_attribute("hidden") is not None
    duo.driver.save_screenshot(str(SCREENSHOTS / "jobs-live.png"))

    # The next refresh lifts the mark, keeping the row.
    eventually(lambda: "row-new" not in fresh.get_attribute("class"), timeout=15)
    assert "New" not in fresh.text


def test_on_another_page_a_banner_counts_newer_jobs_and_refreshes_on_request(
    dash_server: Any, database: Database, job_factory: Any
) -> None:
    duo = dash_server
    old_jobs(job_factory, 15)
    duo.wait_for_page(url=f"{duo.server_url}/jobs?page_size=10")
    first = wait_for_rows(duo, lambda shown: len(shown) == 10)
    duo.find_element("#jobs-next").click()
    second = wait_for_rows(duo, lambda shown: shown and shown != first)
    kept = row(duo, second[0])
    auto_refresh(duo)
    new_job(database, "newer-1")
    new_job(database, "newer-2")

    banner = duo.find_element("#jobs-live-banner")
    eventually(lambda: banner.get_attribute("hidden") is None, timeout=15)
    assert "2 newer jobs" in banner.text
    assert shown_ids(duo) == second and kept.is_displayed()  # nothing moved
    duo.driver.save_screenshot(str(SCREENSHOTS / "jobs-live-banner.png"))

    duo.find_element("#jobs-live-refresh").click()
    eventually(lambda: banner.get_attribute("hidden") is not None)
    assert shown_ids(duo) == second  # this page again: the newer jobs are on the first


def test_a_hidden_tab_makes_no_refresh_and_refreshes_once_shown(
    dash_server: Any, database: Database, job_factory: Any
) -> None:
    duo = dash_server
    old_jobs(job_factory, 3)
    duo.wait_for_page(url=f"{duo.server_url}/jobs")
    wait_for_rows(duo, lambda shown: len(shown) == 3)
    auto_refresh(duo)
    duo.driver.execute_script(SET_VISIBILITY, "hidden")
    added = new_job(database)
    time.sleep(7)  # longer than the 5 s interval: a visible tab would have refreshed
    assert added not in shown_ids(duo)
    duo.driver.execute_script(SET_VISIBILITY, "visible")
    eventually(lambda: shown_ids(duo)[:1] == [added], timeout=4)  # at once, not after another 5 s


def test_times_follow_the_browser_zone_until_switched_to_utc_which_is_remembered(
    dash_server: Any, job_factory: Any
) -> None:
    duo = dash_server
    duo.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Europe/Paris"})
    job = job_factory(name="zoned", created_at=T0)
    duo.wait_for_page(url=f"{duo.server_url}/jobs")
    wait_for_rows(duo)
    first_row = lambda: row(duo, job["id"]).text  # noqa: E731
    assert "2026-01-01 01:00:00" in first_row()
    assert "(CET)" in duo.find_element("#jobs-sort-created").text
    label = duo.find_element("label[for='jobs-created-after']")
    assert "(CET)" in label.text
    assert "local time (Europe/Paris)" in label.find_element("css selector", ".zone-label").get_attribute(
        "title"
    )

    duo.wait_for_page(url=f"{duo.server_url}/jobs/{job['id']}")
    eventually(lambda: "2026-01-01 01:00:00 CET" in duo.find_element("#job-facts").text)
    eventually(lambda: "01:00:00" in duo.find_element("#job-history-rows").text)
    duo.driver.save_screenshot(str(SCREENSHOTS / "job-local-time.png"))

    duo.find_element("label[for='shell-utc-switch']").click()  # the page reloads in UTC
    eventually(lambda: "2026-01-01 00:00:00 UTC" in duo.find_element("#job-facts").text)
    eventually(lambda: "00:00:00" in duo.find_element("#job-history-rows").text)
    duo.driver.refresh()
    eventually(lambda: "2026-01-01 00:00:00 UTC" in duo.find_element("#job-facts").text)
    assert duo.find_element("#shell-utc-switch").is_selected()
    duo.wait_for_page(url=f"{duo.server_url}/jobs")
    eventually(lambda: "2026-01-01 00:00:00" in first_row())
    assert "(UTC)" in duo.find_element("#jobs-sort-created").text


def test_the_job_page_and_the_overview_refresh_too(
    dash_server: Any, database: Database, job_factory: Any
) -> None:
    duo = dash_server
    job = job_factory(name="watched", created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    duo.wait_for_page(url=f"{duo.server_url}/jobs/{job['id']}")
    eventually(lambda: len(duo.find_elements("#job-history-rows tr.history-row")) == 1)
    first_event = duo.find_element("#job-history-rows tr.history-row")
    auto_refresh(duo)
    with database.write() as conn:
        event = append_status(conn, job_id=job["id"], status="FAILED", message="disk full")
    # The new event is added at the top, marked new; the older one keeps its element; the header follows.
    top = f'#job-history-rows tr[data-event-id="{event["id"]}"]'
    eventually(lambda: len(duo.find_elements(top)) == 1, timeout=15)
    assert "row-new" in duo.find_element(top).get_attribute("class")
    assert first_event.is_displayed()
    eventually(lambda: "Failed" in duo.find_element("#job-page .status-badge").text)

    # The overview is refreshed by the same choice (remembered across pages): the new failure is listed.
    other = job_factory(name="late-failure", created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: "watched" in duo.find_element("#overview-failures").text)
    assert Select(duo.find_element("#shell-refresh-interval")).first_selected_option.text == "5 s"
    with database.write() as conn:
        append_status(conn, job_id=other["id"], status="FAILED")
    eventually(lambda: "late-failure" in duo.find_element("#overview-failures").text, timeout=15)
