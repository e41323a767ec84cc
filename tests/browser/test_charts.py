"""Charts drawn as SVG in the browser (assets/jobdash-charts.js): no plotly.js on a page load, hover details,
a text alternative with the figures, and plotly.js loaded only for a trace type drawn nowhere else."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from db.engine import Database
from tests.browser.test_dashboard import eventually

pytestmark = pytest.mark.browser

PLOTLY_LOADED = (
    "return Boolean(window.Plotly) || Array.from(document.scripts).some(function (s) {"
    " return /plotly/.test(s.src); });"
)


def hover_text(duo: Any, selector: str, *, synthetic: bool = False) -> str:
    """Point at the middle one of ``selector``'s elements and read the chart's tooltip (``synthetic``: send
    the pointer event to the element itself, for shapes whose box's middle is not on them, as a ring's)."""
    targets = duo.find_elements(selector)
    assert targets, selector
    target = targets[len(targets) // 2]
    if synthetic:
        duo.driver.execute_script(
            "const box = arguments[0].getBoundingClientRect();"
            "const at = {clientX: box.left, clientY: box.top};"
            "arguments[0].dispatchEvent(new PointerEvent('pointerenter', at));",
            target,
        )
    else:
        ActionChains(duo.driver).move_to_element(target).perform()
    chart = selector.split()[0]  # the tooltip of that chart
    read = f"const tip = document.querySelector('{chart} .chart-tip.shown'); return tip && tip.innerText;"
    return str(eventually(lambda: duo.driver.execute_script(read)))


def test_overview_charts_are_svg_with_hover_details_and_a_text_alternative(
    dash_server: Any, seeded: Database
) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/")
    created = duo.wait_for_element("#overview-created svg.chart-svg[data-x-start]")
    eventually(lambda: "in total" in created.get_attribute("aria-label"))
    assert created.get_attribute("role") == "img"
    assert created.get_attribute("aria-label").startswith("Jobs created, by current status.")
    mix = duo.wait_for_element("#overview-distribution svg.chart-svg")
    eventually(lambda: "Completed: " in mix.get_attribute("aria-label"))
    assert "%" in mix.get_attribute("aria-label")  # each status's share, as the hover says
    assert not duo.driver.execute_script(PLOTLY_LOADED)

    # A column of stacked bars tells its day and each status's count there.
    text = hover_text(duo, "#overview-created .chart-column")
    lines = text.splitlines()
    months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
    assert lines[0][:3] in months
    assert any(line.split(" ", 1)[0].replace(",", "").isdigit() for line in lines[1:])

    # A slice of the donut: its status, count and share.
    assert "%" in hover_text(duo, "#overview-distribution .chart-mark", synthetic=True)


def test_job_timeline_is_svg_with_hover_details(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    with seeded.read() as conn:
        job_id = (
            conn.exec_driver_sql(
                "SELECT job_id FROM job_status GROUP BY job_id HAVING count(*) >= 3 ORDER BY job_id DESC"
            )
            .scalars()
            .first()
        )
    duo.wait_for_page(url=f"{duo.server_url}/jobs/{job_id}")
    timeline = duo.wait_for_element("#job-timeline svg.chart-svg")
    assert " UTC" in timeline.get_attribute("aria-label")
    assert "UTC" in hover_text(duo, "#job-timeline .chart-mark")
    assert not duo.driver.execute_script(PLOTLY_LOADED)


def test_a_trace_type_not_drawn_as_svg_is_drawn_by_plotly(dash_server: Any, seeded: Database) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/")
    duo.wait_for_element("#overview-created svg.chart-svg")
    drawn = duo.driver.execute_script(
        "window.dash_clientside.callback_context = {inputs_list: [{id: 'overview-created-figure'}]};"
        "return window.dash_clientside.charts.draw("
        "{data: [{type: 'candlestick', x: [1, 2], open: [1, 2], high: [2, 3], low: [0, 1], close: [2, 1]}],"
        " layout: {height: 320}});"
    )
    assert drawn == 1
    eventually(lambda: duo.find_elements("#overview-created .chart-plotly .main-svg"))
    assert not duo.find_elements("#overview-created svg.chart-svg")
    assert duo.driver.execute_script("return Boolean(window.Plotly);")


def test_a_range_chosen_earlier_in_the_session_is_drawn_when_the_overview_opens_again(
    dash_server: Any, seeded: Database
) -> None:
    duo = dash_server
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: "30 days" in duo.find_element("#overview-as-of").text)  # the default, with the page
    duo.driver.find_element(By.XPATH, "//div[@id='overview-range']//label[.='1y']").click()
    eventually(lambda: "1 year" in duo.find_element("#overview-as-of").text)
    duo.wait_for_page(url=f"{duo.server_url}/jobs")
    duo.wait_for_page(url=f"{duo.server_url}/")
    eventually(lambda: "1 year" in duo.find_element("#overview-as-of").text)
    assert duo.find_element("#overview-range input:checked").get_attribute("value") == "1y"
