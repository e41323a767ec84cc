"""The shell: pages registered once, callbacks on every app, navbar from the pages, local assets, a 404."""

from __future__ import annotations

import json
from typing import Any

import dash

from dashboard.shell import nav_links
from tests.dashboard.dash_requests import router_body

PAGES = {
    "dashboard.pages.overview": "/",
    "dashboard.pages.jobs": "/jobs",
    "dashboard.pages.job": "/jobs/none",
    "dashboard.pages.not_found_404": "/404",
}


def callback_outputs(client: Any) -> list[str]:
    return sorted(dependency["output"] for dependency in client.get("/_dash-dependencies").get_json())


def test_every_page_is_registered_once(app: Any) -> None:
    assert {module: page["path"] for module, page in dash.page_registry.items()} == PAGES


def test_several_apps_in_one_process_each_get_all_callbacks_once(make_app: Any) -> None:
    # A page callback declared with dash.callback instead of PageCallbacks would reach the first app only.
    outputs = [callback_outputs(make_app().server.test_client()) for _ in range(2)]
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == len(set(outputs[0]))
    for output in ("jobs-data.data", "job-history-data.data", "overview-kpis.children"):
        assert any(output in listed for listed in outputs[0]), output
    assert len(dash.page_registry) == len(PAGES)


def test_index_page_serves_the_shell_with_local_assets(client: Any) -> None:
    response = client.get("/jobs?status=FAILED")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "/assets/bootstrap.min.css" in html and "/assets/jobdash.css" in html
    assert "cdn.jsdelivr" not in html  # the dashboard works offline
    assert "jobdash-theme" in html  # the saved theme is applied before the first paint
    assert client.get("/assets/bootstrap.min.css").status_code == 200
    assert client.get("/assets/fonts/bootstrap-icons.woff2").status_code == 200


def test_page_titles(app: Any) -> None:
    registry = dash.page_registry
    assert registry["dashboard.pages.overview"]["title"] == "Overview · JobDash"
    assert registry["dashboard.pages.jobs"]["title"] == "Jobs · JobDash"
    title = registry["dashboard.pages.job"]["title"]
    assert title(job_id="12") == "Job #12 · JobDash"
    assert title(job_id="<script>") == "Job not found · JobDash"


def test_the_navbar_links_the_pages_that_ask_for_it_in_their_order(app: Any) -> None:
    with app.server.test_request_context():
        links = [item.children for item in nav_links()]
    assert [(link.id, link.href, link.active) for link in links] == [
        ("shell-nav-overview", "/", "exact"),
        ("shell-nav-jobs", "/jobs", "partial"),
    ]
    assert [link.children[1] for link in links] == ["Overview", "Jobs"]


def test_unknown_paths_get_the_friendly_404(client: Any) -> None:
    response = client.post("/_dash-update-component", json=router_body(client, "/no/such/page"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Page not found" in body and "Browse jobs" in body


def test_malformed_callback_requests_are_a_400_problem(client: Any) -> None:
    client.get("/")
    target = "jobs-live.data"
    bodies = [
        b"not json",
        b"[1, 2]",
        json.dumps({"output": "nope.children", "inputs": [], "changedPropIds": []}).encode(),
        json.dumps({"output": target, "inputs": [], "changedPropIds": []}).encode(),
        json.dumps({"output": target, "inputs": [1], "changedPropIds": []}).encode(),
        json.dumps(
            {"output": target, "inputs": [{"id": "x", "property": "y"}], "changedPropIds": 5}
        ).encode(),
    ]
    for body in bodies:
        response = client.post("/_dash-update-component", data=body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.content_type == "application/problem+json"
        assert "Traceback" not in response.get_data(as_text=True)
