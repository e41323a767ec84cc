"""Dash's own routes under hostile requests: 4xx problems, never a 500 or a logged traceback.

Also resilience case 8: every server-side callback, Dash's page router included, fuzzed with hostile
values through ``/_dash-update-component``; no 5xx, no ERROR logged, data unchanged.
"""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text

from tests.api.conftest import assert_problem
from tests.dashboard.dash_requests import callback_body, find_callback, router_body

HOSTILE = [
    None,
    0,
    -1,
    2**70,
    1e308,
    True,
    "",
    "x" * 5000,
    "<script>alert(1)</script>",
    "\x00",
    "../../etc/passwd",
    "/jobs/99999999999999999999999",
    "?status=nope&page_size=-5&cursor=%%%",
    [],
    [None, 1, "a"],
    {},
    {"a": {"b": [1]}},
]


@pytest.fixture
def dash_client(client):
    client.get("/")  # Dash registers its page router on the first request
    return client


def no_errors_logged(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("pathname", "search"),
    [(5, ""), (None, ""), ("jobs", ""), ("", ""), ("/", 5), ("/", ["?a=1"]), ({"p": "/"}, None)],
)
def test_the_page_router_refuses_a_location_that_is_not_text(dash_client, caplog, pathname, search):
    response = dash_client.post("/_dash-update-component", json=router_body(dash_client, pathname, search))
    assert_problem(response, 400)
    assert no_errors_logged(caplog) == []


def test_the_page_router_still_routes(dash_client):
    response = dash_client.post(
        "/_dash-update-component", json=router_body(dash_client, "/jobs", "?status=FAILED")
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "outputs",
    ["missing", None, "x", [], [1, 2], [{"id": "content"}], {"id": "a", "property": "b"}],
)
def test_malformed_outputs_are_refused(dash_client, caplog, outputs):
    body = router_body(dash_client, "/")
    if outputs == "missing":
        del body["outputs"]
    else:
        body["outputs"] = outputs
    assert_problem(dash_client.post("/_dash-update-component", json=body), 400)
    assert no_errors_logged(caplog) == []


def test_a_clientside_callback_cannot_be_called_on_the_server(dash_client, caplog):
    dependency = find_callback(dash_client, "shell-theme.data")
    body = {
        "output": dependency["output"],
        "outputs": [
            {"id": "shell-theme-switch", "property": "value"},
            {"id": "shell-theme", "property": "data"},
        ],
        "inputs": [{"id": "shell-theme-switch", "property": "value", "value": True}],
        "state": [],
        "changedPropIds": [],
    }
    assert_problem(dash_client.post("/_dash-update-component", json=body), 400)
    assert no_errors_logged(caplog) == []


@pytest.mark.parametrize(
    "path", ["/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/nope.js"]
)
def test_an_unknown_component_file_is_a_404(dash_client, caplog, path):
    assert_problem(dash_client.get(path), 404)
    assert no_errors_logged(caplog) == []


def test_a_huge_callback_body_is_refused_unread(dash_client, caplog):
    body = router_body(dash_client, "/" + "a" * 2_000_000)
    response = dash_client.post("/_dash-update-component", json=body)
    assert_problem(response, 413)
    assert all(len(r.getMessage()) < 10_000 for r in caplog.records)


def snapshot(database):
    with database.read() as conn:
        jobs = conn.execute(text("SELECT id, name, current_status_type, updated_at FROM job ORDER BY id"))
        events = conn.execute(text("SELECT id, job_id, status_type, timestamp FROM job_status ORDER BY id"))
        return [tuple(r) for r in jobs], [tuple(r) for r in events]


def post(client, body):
    """Post with the standard library's JSON, which (unlike the app's) writes integers beyond 64 bits."""
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


def _call(dependency, values):
    """The body calling ``dependency`` with ``values`` for its inputs then its state, in order."""
    items = [*dependency["inputs"], *dependency["state"]]
    by_prop = {f"{item['id']}.{item['property']}": value for item, value in zip(items, values, strict=True)}
    first = dependency["inputs"][:1]
    return callback_body(dependency, by_prop, triggered=[f"{i['id']}.{i['property']}" for i in first])


def test_every_callback_survives_hostile_values(dash_client, caplog, job_factory, database):
    """Resilience case 8: each input and state of every server callback, one hostile value at a time."""
    job_factory(name="fuzz-target", status="RUNNING")
    before = snapshot(database)
    dependencies = [
        d for d in dash_client.get("/_dash-dependencies").get_json() if not d.get("clientside_function")
    ]
    sent = 0
    for dependency in dependencies:
        slots = len(dependency["inputs"]) + len(dependency["state"])
        for slot in range(slots):
            for value in HOSTILE:
                values = [None] * slots
                values[slot] = value
                response = post(dash_client, _call(dependency, values))
                sent += 1
                assert response.status_code < 500, (
                    dependency["output"],
                    slot,
                    value,
                    response.get_data()[:300],
                )
        for value in HOSTILE:  # every slot hostile at once
            response = post(dash_client, _call(dependency, [value] * slots))
            sent += 1
            assert response.status_code < 500, (dependency["output"], value, response.get_data()[:300])
    assert sent > 100
    assert no_errors_logged(caplog) == []
    assert snapshot(database) == before
