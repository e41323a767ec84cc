"""Every page says the same thing when the database does not answer, logs why, and offers a way to retry."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.dashboard.conftest import text

CONTROLS = {"status": [], "q": "", "family": "", "created_after": "", "created_before": "", "page_size": "50"}


def unavailable(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def render(view: str) -> Any:
    """What the page shows in place of its data for ``view``."""
    if view == "job list":
        jobs = importlib.import_module("dashboard.pages.jobs")
        return jobs.update_view("jobs-url", search="?q=etl", controls=CONTROLS)["notice"]
    job = importlib.import_module("dashboard.pages.job")
    if view == "job page":
        return job.layout(job_id="7")
    if view == "job history":
        return job.history_page(None, {"job_id": 7})["notice"]
    return importlib.import_module("dashboard.pages.overview").update_overview("7d", None)[-1]


@pytest.mark.parametrize(
    ("query", "view", "retry"),
    [
        ("jobs.list_and_count_jobs", "job list", "/jobs?q=etl"),
        ("job.get_job", "job page", "/jobs/7"),
        ("job.job_history", "job history", None),
        ("overview.created_timeseries", "overview", "/"),
    ],
)
def test_a_database_that_does_not_answer_is_said_and_logged(
    app: Any, monkeypatch: Any, caplog: Any, query: str, view: str, retry: str | None
) -> None:
    monkeypatch.setattr(f"dashboard.pages.{query}", unavailable)
    with app.server.test_request_context(), caplog.at_level(logging.ERROR):
        shown = text(render(view))
    assert "The database did not answer" in shown and '"data-state": "error"' in shown
    assert (f'"href": "{retry}"' in shown) if retry else '"href"' not in shown
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failures] == [f"{view} query failed"]
    assert failures[0].exc_info is not None
