"""The "Export CSV" button of /jobs: it always links to the export of the view shown, and that CSV holds
exactly the view's rows, every page of them, in the table's order."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By

from db.engine import Database
from tests.browser.test_dashboard import click_status_chip, eventually, wait_for_rows

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp") / "jobdash-export-screenshots"


def export_link(duo: Any) -> tuple[str, dict[str, list[str]]]:
    """The button's href: its path and its query."""
    href = duo.find_element("#jobs-export").get_attribute("href")
    parts = urlsplit(href)
    return parts.path, parse_qs(parts.query)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as answer:
        return bytes(answer.read())


def test_the_button_exports_the_view_shown(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/jobs?page_size=10")
    wait_for_rows(duo)
    button = duo.find_element("#jobs-export")
    assert button.text.strip() == "Export CSV" and button.get_attribute("download")
    assert "btn" in button.get_attribute("class").split()
    assert export_link(duo) == ("/api/jobs/export.csv", {})  # the page size is not part of the export

    click_status_chip(duo, "Failed")
    eventually(lambda: export_link(duo)[1].get("status") == ["FAILED"])
    duo.find_element("#jobs-sort-name").click()
    eventually(lambda: export_link(duo)[1].get("ordering") == ["name"])
    assert export_link(duo)[1]["status"] == ["FAILED"]
    SHOTS.mkdir(exist_ok=True)
    duo.driver.save_screenshot(str(SHOTS / "jobs-export-light.png"))
    duo.find_element("#shell-theme-switch").click()
    eventually(lambda: duo.driver.execute_script("return document.documentElement.dataset.bsTheme") == "dark")
    duo.driver.save_screenshot(str(SHOTS / "jobs-export-dark.png"))

    # What the link downloads is every page of the list's view, in its order.
    href = duo.find_element("#jobs-export").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(fetch(href).decode(), newline="")))
    listed, url = [], "/api/jobs/?status=FAILED&ordering=name&page_size=37"
    while url:
        body = json.loads(fetch(duo.server_url + url))
        listed += body["results"]
        url = body["next"]
    assert len(listed) > 37  # more than one page
    assert [int(row["id"]) for row in rows] == [job["id"] for job in listed]
    assert {row["status"] for row in rows} == {"FAILED"}
    assert duo.driver.find_elements(By.CSS_SELECTOR, "#jobs-export .bi-download")
