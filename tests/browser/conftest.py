"""Browser-test setup: headless Chromium for ``dash_duo``; skipped without Chromium, except in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.chrome.options import Options

from db.engine import Database
from db.seed import seed

CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    # Bootstrap scrolls smoothly unless reduced motion is asked for: WebDriver's scroll-into-view before a
    # click would then race the animation, and a control below the fold would be "not clickable".
    "--force-prefers-reduced-motion",
)


def pytest_setup_options() -> Options:
    """Chromium options for dash_duo (a hook of dash's pytest plugin)."""
    options = Options()
    for argument in CHROME_ARGS:
        options.add_argument(argument)
    return options


def missing_browser() -> str | None:
    """What is missing to drive Chromium here, or None."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return " and ".join(missing) or None


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    """Skip with a reason when Chromium is absent; in CI (CI=true) that is a failure instead."""
    missing = missing_browser()
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{missing} not installed: CI must run the browser tests "
            "(apt-get install chromium chromium-driver)"
        )
    pytest.skip(
        f"{missing} not installed (apt-get install chromium chromium-driver to run the browser tests)"
    )


@pytest.fixture
def seeded(database: Database) -> Iterator[Database]:
    """The test database with 1,500 realistic jobs spread over the last 180 days."""
    seed(database, jobs=1500, events_per_job=5, seed=11)
    yield database


# One port for every browser test of a run; JOBDASH_BROWSER_TEST_PORT moves it when runs share a machine.
BROWSER_TEST_PORT = int(os.environ.get("JOBDASH_BROWSER_TEST_PORT", "8050"))


@pytest.fixture
def dash_server(dash_duo: Any, app: Any) -> Any:
    """``dash_duo`` with the app served on the one port browser tests use."""
    dash_duo.start_server(app, port=BROWSER_TEST_PORT)
    return dash_duo
