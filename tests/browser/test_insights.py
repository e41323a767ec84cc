"""The insight panels in headless Chromium: the overview's "as of" control moves the all-time totals, the
transitions heatmap flags and lists a transition the lifecycle does not allow, the stuck panel shows a
stuck job with its overrun and links, and the job page sets each stay beside its family's p50 and p95.
Saves the README screenshots of both pages in both themes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from dashboard.components import format_duration
from db import insights, writes
from db.engine import Database
from tests.browser.test_dashboard import SCREENSHOTS, eventually, shown_ids

pytestmark = pytest.mark.browser
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
THEME = "return document.documentElement.getAttribute('data-bs-theme');"
# A datetime-local input changed the way typing does, so that React (and the debounce) sees it.
SET_INPUT = """
const input = document.getElementById(arguments[0]);
Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, arguments[1]);
input.dispatchEvent(new Event("input", {bubbles: true}));
input.dispatchEvent(new Event("change", {bubbles: true}));
"""
# The figure the chart drew (assets/jobdash-charts.js keeps it on the chart's element).
TRACES = "return (document.getElementById('overview-transitions')._jobdashFigure || {}).data;"


def history(database: Database, name: str, events: list[tuple[str, dt.datetime]]) -> dict[str, Any]:
    """A job called ``name`` with ``events`` (the first creates it)."""
    with database.write() as conn:
        job = writes.create_job(conn, name=name, status=events[0][0], timestamp=events[0][1])
        for status, at in events[1:]:
            writes.append_status(conn, job_id=job["id"], status=status, timestamp=at)
    return job


@pytest.fixture
def insight_jobs(seeded: Database) -> dict[str, Any]:
    """The seeded jobs, one stuck job (a new family: the one-hour floor applies), one job that went from
    completed back to running, and one etl-orders run far slower than its family."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stuck = history(seeded, "stalled-import-7", [("PENDING", now - 3 * H), ("RUNNING", now - 150 * M)])
    replayed = history(
        seeded,
        "replay-9",
        [
            ("PENDING", now - 6 * H),
            ("RUNNING", now - 5 * H),
            ("COMPLETED", now - 4 * H),
            ("RUNNING", now - 3 * H),
            ("COMPLETED", now - 170 * M),
        ],
    )
    with seeded.read() as conn:
        _window, family = insights.family_percentiles(conn, family="etl-orders", now=now)
    p95 = family["RUNNING"]["p95"]
    assert p95, "the seeded etl-orders family has finished RUNNING stays in the last weeks"
    slow_run = dt.timedelta(seconds=3 * p95)
    slow = history(
        seeded,
        "etl-orders-999999",
        [("PENDING", now - slow_run - 2 * M), ("RUNNING", now - slow_run - M), ("COMPLETED", now - M)],
    )
    return {"now": now, "stuck": stuck, "replayed": replayed, "slow": slow, "family": family}


def click(duo: Any, element: Any) -> None:
    """Click ``element`` wherever it is on the page (as a pointer click would, through its handlers)."""
    duo.driver.execute_script("arguments[0].click();", element)


def switch_theme(duo: Any, wanted: str) -> None:
    """Turn the theme switch until the page is in ``wanted`` ("light" or "dark")."""
    if duo.driver.execute_script(THEME) != wanted:
        duo.find_element("#shell-theme-switch").click()
        eventually(lambda: duo.driver.execute_script(THEME) == wanted)


def screenshots(duo: Any, name: str) -> None:
    """The whole page (a taller window), light and dark: ``<name>.png`` and ``<name>-dark.png``."""
    size = duo.driver.get_window_size()
    height = duo.driver.execute_script("return document.documentElement.scrollHeight;")
    duo.driver.set_window_size(size["width"], max(size["height"], height + 20))
    duo.driver.execute_script("return new Promise(function (r) { setTimeout(r, 500); });")
    duo.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    switch_theme(duo, "dark")
    duo.driver.execute_script("return new Promise(function (r) { setTimeout(r, 300); });")
    duo.driver.save_screenshot(str(SCREENSHOTS / f"{name}-dark.png"))
    switch_theme(duo, "light")
    duo.driver.set_window_size(size["width"], size["height"])


def test_overview_insights_as_of_heatmap_and_stuck(
    dash_server: Any, seeded: Database, insight_jobs: Any
) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: "all time" in duo.find_element("#overview-kpis").text)
    duo.wait_for_element("#overview-transitions svg.chart-svg")

    # The heatmap outlines the one transition the lifecycle does not allow, and lists it with its job.
    replayed = insight_jobs["replayed"]
    eventually(lambda: len(duo.driver.execute_script(TRACES) or []) == 3)
    flags = duo.driver.execute_script(TRACES)[2]
    assert flags["marker"]["symbol"] == "square-open"
    assert (flags["y"], flags["x"]) == (["Completed"], ["Running"])
    flagged = duo.find_element("#overview-disallowed")
    assert "Completed → Running" in flagged.text
    link = duo.find_element(f"#overview-disallowed a[href='/jobs/{replayed['id']}']")
    assert link.text == f"Job #{replayed['id']}"

    # The stuck panel: the stuck job, 2 h 30 m running against the one-hour floor, with its links.
    stuck = insight_jobs["stuck"]
    eventually(lambda: len(duo.find_elements("#overview-stuck .stuck-row")) > 0)
    row = next(
        r
        for r in duo.find_elements("#overview-stuck .stuck-row")
        if r.find_elements("css selector", f"a[href='/jobs/{stuck['id']}']")
    )
    cells = [cell.text for cell in row.find_elements("css selector", "td")]
    assert cells[0].splitlines() == ["stalled-import-7", f"#{stuck['id']}"], cells
    assert cells[1] == "stalled-import" and cells[2] == "Running"
    assert cells[4] == "1h 00m" and re.fullmatch(r"\+1h (29|3[0-2])m", cells[5]), cells
    all_stuck = duo.find_element("#overview-all-stuck")
    assert all_stuck.get_attribute("href").endswith("/jobs?stuck=true")
    # At desktop width every column, the overrun included, is in view: the table does not scroll sideways.
    wrapper = "#overview-stuck .table-responsive"
    overflow = duo.driver.execute_script(
        f"const w = document.querySelector('{wrapper}'); return w.scrollWidth - w.clientWidth;"
    )
    assert overflow <= 0, f"the stuck table is {overflow}px wider than its card"
    # Every job's id is whole, whatever the length of its name (a long name is cut, not the id).
    cut = duo.driver.execute_script(
        "return [...document.querySelectorAll('#overview-stuck .name-cell span')]"
        ".filter(s => s.getBoundingClientRect().right > s.parentElement.getBoundingClientRect().right + 0.5)"
        ".map(s => s.textContent);"
    )
    assert cut == [], f"ids cut off: {cut}"
    screenshots(duo, "overview")

    # "As of" a past hour moves the all-time totals (and the status mix) to the figures of that hour; the
    # cards' own figures, jobs created in the range, stay.
    created_in_range = duo.find_element("#overview-kpis .stat-value").text
    at = (insight_jobs["now"] - dt.timedelta(days=90)).replace(minute=0, second=0)
    with seeded.read() as conn:
        then = insights.status_mix_as_of(conn, at)
    assert 0 < then.total < 1500
    duo.driver.execute_script(SET_INPUT, "overview-as-of-time", f"{at:%Y-%m-%dT%H:%M}")
    caption = f"{then.total:,} all time, as of {at:%Y-%m-%d %H}:00 UTC"
    eventually(lambda: caption in duo.find_element("#overview-kpis").text)
    running = duo.find_elements("#overview-kpis .stat-caption")[2].text
    assert running.startswith(f"{then.by_status['RUNNING']:,} all time, as of")
    assert duo.find_element("#overview-kpis .stat-value").text == created_in_range
    assert (
        duo.find_element("#overview-distribution-title").text
        == f"Status mix, all jobs as of {at:%Y-%m-%d %H}:00 UTC"
    )

    # "Now" brings the current totals back.
    duo.find_element("#overview-as-of-now").click()
    eventually(lambda: "1,503 all time" in duo.find_element("#overview-kpis").text)
    assert "as of" not in duo.find_element("#overview-kpis .stat-caption").text

    # A time in the future is refused with a message, not a guess.
    later = insight_jobs["now"] + dt.timedelta(days=2)
    duo.driver.execute_script(SET_INPUT, "overview-as-of-time", f"{later:%Y-%m-%dT%H:%M}")
    eventually(lambda: "must not be in the future" in duo.find_element("#overview-error").text)


def test_job_page_compares_each_stay_with_its_family(
    dash_server: Any, seeded: Database, insight_jobs: Any
) -> None:
    duo = dash_server
    slow = insight_jobs["slow"]
    with seeded.read() as conn:  # the family's figures now count the slow run too
        _window, family = insights.family_percentiles(conn, family="etl-orders", now=insight_jobs["now"])
    duo.wait_for_page(url=f"{duo.server_url}/jobs/{slow['id']}")
    duo.wait_for_element("#job-family-comparison .comparison-row")
    chip = duo.find_element("#job-family")
    assert chip.get_attribute("href").endswith("/jobs?family=etl-orders") and "etl-orders" in chip.text
    rows = {
        row.find_element("css selector", "td").text: row
        for row in duo.find_elements("#job-family-comparison .comparison-row")
    }
    assert set(rows) == {"Pending", "Running"}
    running = rows["Running"]
    assert "verdict-slow" in running.get_attribute("class")
    cells = [cell.text for cell in running.find_elements("css selector", "td")]
    p50, p95 = family["RUNNING"]["p50"], family["RUNNING"]["p95"]
    assert cells[3] == format_duration(dt.timedelta(seconds=p50))
    assert cells[4] == format_duration(dt.timedelta(seconds=p95))
    assert cells[5] == "Slower than 95 % of its family"
    assert len(running.find_elements("css selector", ".family-mark")) == 2
    screenshots(duo, "job")

    # The family link opens the list of that family's jobs.
    duo.find_element("#job-family").click()
    eventually(lambda: "family=etl-orders" in duo.driver.current_url)
    eventually(lambda: duo.find_element("#jobs-family").get_attribute("value") == "etl-orders")


def test_all_stuck_jobs_opens_the_list_filtered_to_them(
    dash_server: Any, seeded: Database, insight_jobs: Any
) -> None:
    duo = dash_server
    with seeded.read() as conn:
        page = insights.stuck_jobs(conn, page_size=10, max_page_size=200)
    expected = [int(row["id"]) for row in page.results]
    assert insight_jobs["stuck"]["id"] in expected
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: len(duo.find_elements("#overview-stuck .stuck-row")) > 0)
    eventually(lambda: len(duo.find_elements("#overview-failures .failure-row")) > 0)
    click(duo, duo.wait_for_element("#overview-all-stuck"))
    eventually(lambda: duo.driver.current_url.endswith("/jobs?stuck=true"))
    eventually(lambda: shown_ids(duo) == expected)
    assert duo.find_element("#jobs-stuck").is_selected()
    # Switched off again: the whole list.
    click(duo, duo.driver.find_element(By.CSS_SELECTOR, "label[for='jobs-stuck']"))
    eventually(lambda: "stuck" not in duo.driver.current_url)
    eventually(lambda: duo.find_element("#jobs-count").text.startswith("1,503 jobs"))
