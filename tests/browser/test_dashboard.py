"""The dashboard in headless Chromium: each page, filters in the UI and by URL, sorting, paging, search,
drill-down, and never more rows in the browser than one page. Saves the README screenshot of /jobs (those
of the overview and the job page, in both themes, are saved by test_insights.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dash.testing.wait import until as _until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from db.engine import Database
from db.queries import JobFilter, list_jobs

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGE_SIZE = 10


def eventually(condition: Any, timeout: float = 10) -> Any:
    """Wait until ``condition()`` is true (the page updates asynchronously)."""
    return _until(condition, timeout)


def shown_ids(duo: Any) -> list[int]:
    """Job ids in the table, asserting the page never holds more rows than the page size."""
    ids = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#jobs-rows tr.job-row'))"
        ".map(function (row) { return Number(row.dataset.jobId); });"
    )
    all_rows = duo.driver.execute_script("return document.querySelectorAll('tr.job-row').length;")
    assert all_rows <= PAGE_SIZE
    return list(ids)


def shown_statuses(duo: Any) -> set[str]:
    return {badge.text.strip() for badge in duo.find_elements("#jobs-rows .status-badge")}


def wait_for_rows(duo: Any, condition: Any = lambda ids: bool(ids), timeout: float = 10) -> list[int]:
    eventually(lambda: condition(shown_ids(duo)), timeout)
    return shown_ids(duo)


def expected_ids(database: Database, **query: Any) -> list[int]:
    """What the data layer says the first page is, to compare with what the browser shows."""
    filters = JobFilter.build(statuses=query.pop("statuses", None), q=query.pop("q", None))
    with database.read() as conn:
        page = list_jobs(conn, filters=filters, page_size=PAGE_SIZE, **query)
    return [row["id"] for row in page.results]


def click_status_chip(duo: Any, label: str) -> None:
    duo.driver.find_element(By.XPATH, f"//div[@id='jobs-status']//label[contains(., '{label}')]").click()


def test_jobs_table_filters_sorts_pages_and_searches(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/jobs?page_size={PAGE_SIZE}")
    first = wait_for_rows(duo, lambda ids: len(ids) == PAGE_SIZE)
    assert first == expected_ids(seeded)
    duo.driver.save_screenshot(str(SCREENSHOTS / "jobs.png"))
    eventually(lambda: "jobs" in duo.find_element("#jobs-count").text)

    # Page forward and back: keyset cursors in the URL, the same rows again.
    duo.find_element("#jobs-next").click()
    second = wait_for_rows(duo, lambda ids: ids and ids != first)
    assert "cursor=" in duo.driver.current_url and not set(first) & set(second)
    duo.find_element("#jobs-prev").click()
    assert wait_for_rows(duo, lambda ids: ids == first) == first

    # Filter by status in the UI: the URL follows with the API's parameter name.
    click_status_chip(duo, "Failed")
    eventually(lambda: "status=FAILED" in duo.driver.current_url)
    failed = wait_for_rows(duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"]))
    assert shown_statuses(duo) == {"Failed"} and "cursor=" not in duo.driver.current_url

    # Sort by name (header click), then reverse it.
    duo.find_element("#jobs-sort-name").click()
    eventually(lambda: "ordering=name" in duo.driver.current_url)
    by_name = wait_for_rows(
        duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"], ordering="name")
    )
    assert by_name != failed
    duo.find_element("#jobs-sort-name").click()
    eventually(lambda: "ordering=-name" in duo.driver.current_url)
    wait_for_rows(duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"], ordering="-name"))

    # Search by name (debounced): only matching names, q in the URL.
    search = duo.find_element("#jobs-q")
    search.send_keys("orders")
    eventually(lambda: "q=orders" in duo.driver.current_url)
    wait_for_rows(
        duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"], q="orders", ordering="-name")
    )
    assert all("orders" in link.text for link in duo.find_elements("#jobs-rows .job-link"))

    # The back button returns to the previous view, controls included.
    duo.driver.back()
    eventually(lambda: "q=orders" not in duo.driver.current_url)
    wait_for_rows(duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"], ordering="-name"))
    eventually(lambda: duo.find_element("#jobs-q").get_attribute("value") == "")


def test_filters_given_in_the_url_are_applied_and_shown(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(
        url=f"{duo.server_url}/jobs?status=completed,cancelled&page_size={PAGE_SIZE}&ordering=created_at"
    )
    wanted = expected_ids(seeded, statuses=["COMPLETED", "CANCELLED"], ordering="created_at")
    wait_for_rows(duo, lambda ids: ids == wanted)
    assert shown_statuses(duo) <= {"Completed", "Cancelled"}
    checked = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#jobs-status input:checked')).map(i => i.value);"
    )
    assert sorted(checked) == ["CANCELLED", "COMPLETED"]
    assert "bi-sort-up" in duo.find_element("#jobs-sort-created .sort-arrow").get_attribute("class")

    # A bad value in a shared link is explained in the page, not a blank screen or a traceback.
    duo.wait_for_page(url=f"{duo.server_url}/jobs?status=SOMETIMES")
    eventually(lambda: "cannot use" in duo.find_element("#jobs-notice").text)
    assert "must be one of" in duo.find_element("#jobs-notice").text
    assert shown_ids(duo) == []


def test_opening_a_job_from_the_table_shows_its_history(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/jobs?status=FAILED&page_size={PAGE_SIZE}")
    wait_for_rows(duo, lambda ids: len(ids) == PAGE_SIZE)
    duo.find_element("#jobs-q").send_keys("etl")  # a family with a rich history, for the screenshot
    eventually(lambda: "q=etl" in duo.driver.current_url)
    wait_for_rows(duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"], q="etl"))
    duo.driver.execute_script("window.__stillTheSamePage = true;")
    link = duo.find_element("#jobs-rows tr.job-row .job-link")
    name, job_id = link.text, link.get_attribute("href").rsplit("/", 1)[1]
    link.click()

    eventually(lambda: re.search(r"/jobs/\d+$", duo.driver.current_url) is not None)
    duo.wait_for_text_to_equal("#job-name", name)
    eventually(lambda: len(duo.find_elements("#job-history-rows tr.history-row")) == 5)
    assert duo.driver.execute_script("return window.__stillTheSamePage === true;")  # no full reload
    assert duo.driver.current_url.endswith(f"/jobs/{job_id}")
    assert "Failed" in duo.find_element("#job-page .status-badge").text
    assert "Built from all 5 events" in duo.find_element("#job-timeline-note").text
    duo.wait_for_element("#job-timeline svg.chart-svg")
    duo.driver.save_screenshot(str(SCREENSHOTS / "job.png"))

    # Back to the list it came from.
    duo.driver.back()
    eventually(lambda: "status=FAILED" in duo.driver.current_url)
    wait_for_rows(duo, lambda ids: ids == expected_ids(seeded, statuses=["FAILED"], q="etl"))


def test_overview_shows_totals_charts_and_failures(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: len(duo.find_elements("#overview-kpis .stat-card")) == 6)
    duo.wait_for_element("#overview-created svg.chart-svg")
    duo.wait_for_element("#overview-distribution svg.chart-svg")
    eventually(lambda: len(duo.find_elements("#overview-failures .job-link")) > 0)
    assert "1,500 all time" in duo.find_element("#overview-kpis").text

    # The range selector drives the page.
    duo.driver.find_element(By.XPATH, "//div[@id='overview-range']//label[.='1y']").click()
    eventually(lambda: "1 year" in duo.find_element("#overview-as-of").text)
    eventually(lambda: duo.find_element("#overview-kpis .stat-value").text == "1,500")

    failure = duo.find_element("#overview-failures .job-link")
    name = failure.text
    # Below the insight panels now: clicked where it is, as the link's own handler takes it.
    duo.driver.execute_script("arguments[0].click();", failure)
    duo.wait_for_text_to_equal("#job-name", name)


def test_names_are_text_and_unknown_pages_are_friendly(dash_server: Any, job_factory: Any) -> None:
    duo = dash_server
    job_factory(name="<img src=x onerror=window.__xss=1>")
    job_factory(name="javascript:window.__xss=2")
    duo.wait_for_page(url=f"{duo.server_url}/jobs?q=xss")
    eventually(lambda: len(shown_ids(duo)) == 2)
    texts = [link.text for link in duo.find_elements("#jobs-rows .job-link")]
    assert texts == ["javascript:window.__xss=2", "<img src=x onerror=window.__xss=1>"]
    assert all(
        re.search(r"/jobs/\d+$", link.get_attribute("href")) for link in duo.find_elements(".job-link")
    )
    assert duo.driver.execute_script("return window.__xss === undefined;")

    duo.wait_for_page(url=f"{duo.server_url}/jobs/not-a-number")
    duo.wait_for_text_to_equal("#job-not-found h1", "Job not found")
    duo.wait_for_page(url=f"{duo.server_url}/jobs/987654321")
    duo.wait_for_text_to_equal("#job-not-found h1", "Job not found")
    duo.wait_for_page(url=f"{duo.server_url}/no/such/page")
    duo.wait_for_text_to_equal("#not-found-page h1", "Page not found")
    eventually(lambda: duo.driver.title == "Not found · JobDash")


def test_theme_switch_turns_the_dark_mode_on_and_remembers_it(dash_server: Any, database: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/jobs")
    theme = "return document.documentElement.getAttribute('data-bs-theme');"
    assert duo.driver.execute_script(theme) == "light"
    duo.find_element("#shell-theme-switch").click()
    eventually(lambda: duo.driver.execute_script(theme) == "dark")
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: duo.driver.execute_script(theme) == "dark")
    assert duo.find_element("#shell-theme-switch").is_selected()
    duo.find_element("#shell-theme-switch").send_keys(Keys.SPACE)
    eventually(lambda: duo.driver.execute_script(theme) == "light")
