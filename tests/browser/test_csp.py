"""The Content-Security-Policy in a real browser: our pages and Dash run under it with no violation in
Chromium's console, and an injected inline script is refused."""

from __future__ import annotations

from typing import Any

from tests.browser.test_dashboard import eventually, wait_for_rows


def csp_messages(duo: Any) -> list[str]:
    return [
        entry["message"]
        for entry in duo.driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_the_pages_run_under_the_policy_without_console_violations(
    dash_server: Any, job_factory: Any
) -> None:
    duo = dash_server
    job = job_factory(name="csp-check", status="FAILED")
    theme = "return document.documentElement.getAttribute('data-bs-theme');"
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: duo.find_element("#overview-created"))
    duo.wait_for_page(url=f"{duo.server_url}/jobs")
    wait_for_rows(duo)
    duo.find_element("#shell-theme-switch").click()  # the clientside callback
    eventually(lambda: duo.driver.execute_script(theme) == "dark")
    duo.wait_for_page(url=f"{duo.server_url}/jobs/{job['id']}")  # the inline theme script, dark saved
    eventually(lambda: duo.driver.execute_script(theme) == "dark")
    eventually(lambda: "csp-check" in duo.find_element("#shell-main").text)
    assert csp_messages(duo) == []

    # The policy is enforced: an injected inline script does not run, and the console says so.
    duo.driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.injected = 1;';"
        "document.body.appendChild(s);"
    )
    eventually(lambda: csp_messages(duo))
    assert duo.driver.execute_script("return window.injected === undefined;")
