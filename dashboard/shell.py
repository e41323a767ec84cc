"""The Dash app: created unattached, given its shell (navbar, theme, page container), attached to Flask.

Pages live one per module in ``dashboard/pages``: each registers itself with ``dash.register_page`` when
first imported and records its callbacks on a ``PageCallbacks``, which this module attaches to every app
it builds (see ``dashboard/pages/__init__.py``). Only Dash's public API is used, so several apps can live
in one process (the tests build one per test) without sharing or duplicating callbacks.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.io
from dash import Input, Output, dcc, html
from dash.exceptions import DependencyException
from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard import pages
from dashboard.delivery import dash_options
from dashboard.live import INTERVAL_STORAGE_KEY, INTERVALS, interval_control
from dashboard.local_time import ZONE_COOKIE, ZONE_MODE_KEY
from dashboard.pages import PageCallbacks
from dashboard.problems import problem
from dashboard.settings import get_settings

# Installed from the wheel, assets/ is inside this package (setup.py); in a checkout it is beside it.
_PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = next(
    (path for path in (_PACKAGE_DIR / "assets", _PACKAGE_DIR.parent / "assets") if path.is_dir()),
    _PACKAGE_DIR.parent / "assets",
)
THEME_STORAGE_KEY = "jobdash-theme"
# A callback request carries a few inputs and states: far below this. Larger bodies are refused unread.
CALLBACK_MAX_BYTES = 256 * 1024

# Sets the saved theme before the first paint, so a dark-mode user never sees a white flash, and the time
# zone to show times in (the browser's, or UTC when the viewer chose it) in the cookie the server formats
# times with, before Dash asks the server for anything (dashboard/local_time.py).
_INDEX = (
    """<!DOCTYPE html>
<html lang="en" data-bs-theme="light">
    <head>
        <script>
            try {
                if (localStorage.getItem("__THEME_KEY__") === "dark") {
                    document.documentElement.setAttribute("data-bs-theme", "dark");
                }
            } catch (e) {}
            (function () {
                var zone = "UTC";
                try {
                    if (localStorage.getItem("__ZONE_MODE_KEY__") !== "utc") {
                        zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
                    }
                } catch (e) {}
                document.documentElement.setAttribute("data-time-zone", zone);
                document.cookie = "__ZONE_COOKIE__=" + zone + "; path=/; SameSite=Lax";
            })();
        </script>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>""".replace("__THEME_KEY__", THEME_STORAGE_KEY)
    .replace("__ZONE_MODE_KEY__", ZONE_MODE_KEY)
    .replace("__ZONE_COOKIE__", ZONE_COOKIE)
)

# On the first call the saved choice wins (and moves the switch); afterwards the switch does.
_APPLY_THEME = """
function (dark) {
    const triggered = (window.dash_clientside.callback_context || {}).triggered || [];
    const initial = triggered.every(function (t) { return !t.prop_id || t.prop_id === "."; });
    if (initial) {
        try { dark = localStorage.getItem("__THEME_KEY__") === "dark"; } catch (e) { dark = false; }
    }
    const theme = dark ? "dark" : "light";
    document.documentElement.setAttribute("data-bs-theme", theme);
    try { localStorage.setItem("__THEME_KEY__", theme); } catch (e) {}
    return [Boolean(dark), theme];
}
""".replace("__THEME_KEY__", THEME_STORAGE_KEY)


# The auto-refresh choice: on the first call the saved one wins; a choice is saved and starts the ticks.
_CHOOSE_INTERVAL = """
function (seconds) {
    const triggered = (window.dash_clientside.callback_context || {}).triggered || [];
    const initial = triggered.every(function (t) { return !t.prop_id || t.prop_id === "."; });
    const offered = __OFFERED__;
    if (initial) {
        try { seconds = localStorage.getItem("__INTERVAL_KEY__") || "0"; } catch (e) { seconds = "0"; }
    }
    seconds = offered.indexOf(String(seconds)) >= 0 ? String(seconds) : "0";
    try { localStorage.setItem("__INTERVAL_KEY__", seconds); } catch (e) {}
    window.dash_clientside.jobdash.live.every(Number(seconds));
    return [seconds, Number(seconds)];
}
""".replace("__INTERVAL_KEY__", INTERVAL_STORAGE_KEY).replace(
    "__OFFERED__", json.dumps([str(s) for s in INTERVALS])
)

# The UTC switch shows the saved choice; turning it saves the choice and reloads the page, whose first
# script then sets the zone every time on it is drawn in (the server's and the tables' alike).
_CHOOSE_ZONE = """
function (utc) {
    const triggered = (window.dash_clientside.callback_context || {}).triggered || [];
    const initial = triggered.every(function (t) { return !t.prop_id || t.prop_id === "."; });
    let saved = false;
    try { saved = localStorage.getItem("__ZONE_MODE_KEY__") === "utc"; } catch (e) {}
    if (initial || Boolean(utc) === saved) {
        return [saved, document.documentElement.getAttribute("data-time-zone") || "UTC"];
    }
    try { localStorage.setItem("__ZONE_MODE_KEY__", utc ? "utc" : "local"); } catch (e) {}
    window.location.reload();
    return [Boolean(utc), window.dash_clientside.no_update];
}
""".replace("__ZONE_MODE_KEY__", ZONE_MODE_KEY)


def nav_links() -> list[dbc.NavItem]:
    """One link per page registered with a ``nav_icon``, in the pages' order; "/" is active only there."""
    return [
        dbc.NavItem(
            dbc.NavLink(
                [html.I(className=f"bi {page['nav_icon']} me-1"), page["name"]],
                href=page["relative_path"],
                active="exact" if page["path"] == "/" else "partial",
                id="shell-nav-" + page["module"].rsplit(".", 1)[-1],
            )
        )
        for page in dash.page_registry.values()
        if page.get("nav_icon")
    ]


def navbar() -> dbc.Navbar:
    """Brand, the pages' links, the auto-refresh choice, the UTC switch and the light/dark switch."""
    brand = dcc.Link(
        [html.I(className="bi bi-kanban brand-mark"), html.Span("JobDash", className="ms-2")],
        href="/",
        className="navbar-brand d-flex align-items-center",
    )
    links = dbc.Nav(nav_links(), navbar=True, className="me-auto")
    theme = html.Div(
        [
            html.I(className="bi bi-sun me-2", title="Light"),
            dbc.Switch(
                id="shell-theme-switch",
                value=False,
                className="mb-0",
                input_class_name="theme-switch",
                label=html.Span("Dark mode", className="visually-hidden"),
            ),
            html.I(className="bi bi-moon-stars", title="Dark"),
        ],
        className="d-flex align-items-center theme-toggle",
    )
    utc = dbc.Switch(
        id="shell-utc-switch",
        value=False,
        className="mb-0 small text-nowrap",
        label="UTC",
        input_class_name="utc-switch",
    )
    controls = html.Div(
        [interval_control(), html.Div(utc, title="Show times in UTC instead of your time zone"), theme],
        className="d-flex flex-wrap align-items-center gap-3 shell-controls",
    )
    return dbc.Navbar(
        dbc.Container([brand, links, controls], fluid="xl", className="gap-3"),
        color="var(--jd-surface)",
        className="shell-navbar border-bottom mb-4",
    )


def shell_layout() -> html.Div:
    """The frame around every page."""
    return html.Div(
        [
            navbar(),
            dbc.Container(dash.page_container, fluid="xl", className="pb-5", id="shell-main"),
            dcc.Store(id="shell-theme"),
            dcc.Store(id="shell-tick"),  # set by each auto-refresh tick (assets/jobdash.js)
            dcc.Store(id="shell-live"),
            dcc.Store(id="shell-zone"),
        ]
    )


def _page_modules() -> list[ModuleType]:
    """Every module of ``dashboard/pages``, imported (the first import registers its page)."""
    return [
        importlib.import_module(f"{pages.__name__}.{info.name}")
        for info in pkgutil.iter_modules(pages.__path__)
        if not info.name.startswith("_")
    ]


def _attach_pages(app: dash.Dash) -> None:
    """Import the pages (once per process) and give ``app`` their callbacks."""
    for module in _page_modules():
        callbacks = getattr(module, "callbacks", None)
        if isinstance(callbacks, PageCallbacks):
            callbacks.attach(app)


def router_location_id() -> str:
    """The id of the ``dcc.Location`` inside Dash's page container, which the page router reads."""
    locations = [child for child in dash.page_container.children if isinstance(child, dcc.Location)]
    return str(locations[0].to_plotly_json()["props"]["id"])


def _is_component_ref(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str | dict)
        and isinstance(item.get("property"), str)
    )


def _router_value_error(item: dict[str, object], location_id: str) -> str | None:
    """Dash's page router trusts its location's pathname and search to be text (a pathname from ``/``)."""
    if item.get("id") != location_id:
        return None
    value = item.get("value")
    if item.get("property") == "pathname" and not (isinstance(value, str) and value.startswith("/")):
        return "the pathname must be a string starting with /"
    if item.get("property") == "search" and value is not None and not isinstance(value, str):
        return "the search must be a string"
    return None


def _callback_request_error(body: object, callbacks: dict[str, dict[str, Any]]) -> str | None:
    """What is wrong with the envelope of a ``_dash-update-component`` request, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callbacks:
        return "output does not name a callback of this app"
    callback = callbacks[output]
    if "callback" not in callback:
        return "output names a callback that runs in the browser"
    inputs, state = body.get("inputs"), body.get("state", [])
    if not isinstance(inputs, list) or not isinstance(state, list):
        return "inputs and state must be lists"
    if (len(inputs), len(state)) != (len(callback["inputs"]), len(callback["state"])):
        return "inputs and state do not match the callback"
    items = [*inputs, *state]
    if not all(isinstance(item, dict) and isinstance(item.get("id"), str | dict) for item in items):
        return "each input must name a component"
    # Several outputs are spelled "..a.x...b.y.." and sent as a list; one output is one object.
    multi = output.startswith("..")
    outputs = body.get("outputs")
    listed = outputs if isinstance(outputs, list) else [outputs]
    if isinstance(outputs, list) != multi or len(listed) != (
        len(output.strip(".").split("...")) if multi else 1
    ):
        return "outputs do not match the callback"
    if not all(_is_component_ref(item) for item in listed):
        return "each output must name a component and a property"
    if not isinstance(body.get("changedPropIds", []), list):
        return "changedPropIds must be a list"
    location_id = router_location_id()
    return next(filter(None, (_router_value_error(item, location_id) for item in items)), None)


def _callback_body() -> object:
    """The JSON of a callback request, refusing (413) a body above CALLBACK_MAX_BYTES before reading it."""
    too_large = RequestEntityTooLarge(f"a callback request must be at most {CALLBACK_MAX_BYTES} bytes")
    if (request.content_length or 0) > CALLBACK_MAX_BYTES:
        raise too_large
    request.max_content_length = CALLBACK_MAX_BYTES  # a chunked body is cut off there
    try:
        request.get_data()
    except RequestEntityTooLarge:
        raise too_large from None
    return request.get_json(silent=True)


def _refuse_malformed_callback_requests(app: dash.Dash) -> None:
    """Answer a malformed callback request with a 4xx problem before Dash trips over it (a 500).

    The values inside a well-formed request are each callback's to validate; this checks the envelope,
    and the location values Dash's own page router would fail on.
    """
    endpoint = app.config.routes_pathname_prefix + "_dash-update-component"

    def check() -> Response | None:
        if request.method != "POST" or request.path != endpoint:
            return None
        body = _callback_body()
        error = _callback_request_error(body, app.callback_map)
        return problem(400, "Bad Request", f"Not a valid callback request: {error}.") if error else None

    def unknown_dependency(exc: DependencyException) -> Response:
        return problem(404, "Not Found", "no such Dash component file")

    app.server.before_request(check)
    app.server.register_error_handler(DependencyException, unknown_dependency)


def init_dash(server: Flask) -> dash.Dash:
    """Create the Dash app unattached (``server=False``), load its pages, then attach it to ``server``."""
    with server.app_context():
        settings = get_settings()
    # Dash writes every callback answer with plotly's JSON. Its default engine, orjson, fails on the first
    # try as soon as an answer holds a component (nearly every one of ours does), then walks the whole
    # answer in Python to clean it: 2.4 ms of a 5.6 ms table page, its 50 rows included. The json engine
    # encodes it in one pass of the C encoder, asking Python only about the components.
    plotly.io.json.config.default_engine = "json"
    app = dash.Dash(
        "dashboard",
        server=False,
        use_pages=True,
        pages_folder="",  # pages are imported as modules by _attach_pages, once per process
        title="JobDash",
        update_title=None,  # type: ignore[arg-type]  # documented: None keeps the title while updating
        assets_folder=str(ASSETS_DIR),
        external_stylesheets=[],  # Bootstrap and its icons are served from assets/: no CDN needed
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        # Dash's social-card tags copy the request's Host into the page (twitter:url): none wanted.
        include_pages_meta=False,
        **dash_options(settings),
    )
    app.index_string = _INDEX
    app.layout = shell_layout
    app.clientside_callback(
        _APPLY_THEME,
        Output("shell-theme-switch", "value"),
        Output("shell-theme", "data"),
        Input("shell-theme-switch", "value"),
    )
    app.clientside_callback(
        _CHOOSE_INTERVAL,
        Output("shell-refresh-interval", "value"),
        Output("shell-live", "data"),
        Input("shell-refresh-interval", "value"),
    )
    app.clientside_callback(
        _CHOOSE_ZONE,
        Output("shell-utc-switch", "value"),
        Output("shell-zone", "data"),
        Input("shell-utc-switch", "value"),
    )
    app.init_app(server)
    _attach_pages(app)  # after init_app: dash.register_page needs an app attached to a server
    _refuse_malformed_callback_requests(app)
    return app
