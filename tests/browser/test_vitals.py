"""Web vitals a person notices, in headless Chromium: nothing on a page jumps while its data arrives (the
cumulative layout shift stays at most 0.05), every control has a name a screen reader can say, headings
never skip a level, and a link inside a sentence is told apart by more than its colour."""

from __future__ import annotations

from typing import Any

import pytest

from db.engine import Database
from tests.browser.test_dashboard import eventually

pytestmark = pytest.mark.browser
CLS_LIMIT = 0.05

# Every layout shift since the page started loading (the browser keeps them), unless caused by input.
LAYOUT_SHIFT = """
const done = arguments[arguments.length - 1];
let total = 0;
new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (entry) { if (!entry.hadRecentInput) { total += entry.value; } });
}).observe({type: "layout-shift", buffered: true});
setTimeout(function () { done(total); }, 200);
"""

# Controls without an accessible name: a <label>, aria-label(ledby), a title, or (buttons, links) text.
UNNAMED_CONTROLS = """
const named = function (el) {
    if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.getAttribute("title")) {
        return true;
    }
    if (el.labels && Array.from(el.labels).some(function (l) { return l.textContent.trim(); })) {
        return true;
    }
    const tag = el.tagName.toLowerCase();
    return (tag === "button" || tag === "a") && el.textContent.trim() !== "";
};
return Array.from(document.querySelectorAll("input, select, textarea, button, a[href]"))
    .filter(function (el) { return el.type !== "hidden" && !named(el); })
    .map(function (el) { return el.outerHTML.slice(0, 160); });
"""

# Headings (h1-h6, role=heading) that go more than one level deeper than the heading before them.
SKIPPED_HEADINGS = """
let previous = 0;
const skipped = [];
document.querySelectorAll("h1, h2, h3, h4, h5, h6, [role=heading]").forEach(function (el) {
    if (!el.offsetParent) { return; }
    const level = Number(el.getAttribute("aria-level")) || Number(el.tagName.slice(1)) || 2;
    if (previous && level > previous + 1) {
        skipped.push("h" + previous + " -> " + el.outerHTML.slice(0, 120));
    }
    previous = level;
});
return skipped;
"""

# Links inside running text (a text beside them in the same element) shown by colour alone: no underline.
COLOUR_ONLY_LINKS = """
return Array.from(document.querySelectorAll("a[href]")).filter(function (a) {
    const parent = a.parentElement;
    if (!a.offsetParent || !parent || a.classList.contains("btn")) { return false; }
    const inText = Array.from(parent.childNodes).some(function (node) {
        return node.nodeType === Node.TEXT_NODE && node.textContent.trim() !== "";
    });
    return inText && !getComputedStyle(a).textDecorationLine.includes("underline");
}).map(function (a) { return a.outerHTML.slice(0, 160); });
"""


def page_ready(duo: Any, path: str) -> None:
    """Open ``path`` and wait until its data is shown (rows, charts) and has had time to settle."""
    duo.wait_for_page(url=f"{duo.server_url}{path}")
    if path == "/":
        eventually(lambda: len(duo.find_elements("#overview-created svg.chart-svg")) > 0)
        eventually(lambda: len(duo.find_elements("#overview-kpis .stat-card")) == 6)
        eventually(lambda: len(duo.find_elements("#overview-failures tr")) > 0)
    elif path.startswith("/jobs/"):
        eventually(lambda: len(duo.find_elements("#job-history-rows tr.history-row")) > 0)
        eventually(lambda: len(duo.find_elements("#job-timeline svg.chart-svg")) > 0)
    else:
        eventually(lambda: len(duo.find_elements("#jobs-rows tr.job-row")) > 0)
        eventually(lambda: "jobs" in duo.find_element("#jobs-count").text)
    duo.driver.execute_script("return new Promise(function (r) { setTimeout(r, 500); });")


def test_no_page_shifts_its_layout_while_its_data_arrives(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    with seeded.read() as conn:
        job_id = conn.exec_driver_sql("SELECT max(id) FROM job").scalar_one()
    shifts = {}
    for path in ("/", "/jobs", f"/jobs/{job_id}"):
        page_ready(duo, path)
        shifts[path] = duo.driver.execute_async_script(LAYOUT_SHIFT)
    assert all(shift <= CLS_LIMIT for shift in shifts.values()), shifts


def test_every_control_has_a_label(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    with seeded.read() as conn:
        job_id = conn.exec_driver_sql("SELECT max(id) FROM job").scalar_one()
    unnamed = {}
    for path in ("/", "/jobs", f"/jobs/{job_id}"):
        page_ready(duo, path)
        unnamed[path] = duo.driver.execute_script(UNNAMED_CONTROLS)
    assert unnamed == {"/": [], "/jobs": [], f"/jobs/{job_id}": []}


def test_headings_keep_their_order_and_links_in_text_are_underlined(
    dash_server: Any, seeded: Database
) -> None:
    duo = dash_server
    with seeded.read() as conn:
        job_id = conn.exec_driver_sql("SELECT max(id) FROM job").scalar_one()
    found = {}
    for path in ("/", "/jobs", f"/jobs/{job_id}", "/no-such-page"):
        if path == "/no-such-page":
            duo.wait_for_page(url=f"{duo.server_url}{path}")
            eventually(lambda: len(duo.find_elements("#not-found-page")) > 0)
        else:
            page_ready(duo, path)
        found[path] = {
            "skipped": duo.driver.execute_script(SKIPPED_HEADINGS),
            "colour only": duo.driver.execute_script(COLOUR_ONLY_LINKS),
        }
    assert all(not f["skipped"] and not f["colour only"] for f in found.values()), found
