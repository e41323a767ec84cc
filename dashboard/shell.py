"""The Dash app: created unattached, given its shell (navbar, theme, page container), attached to Flask."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from flask import Flask

from dashboard.settings import Settings

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def init_dash(server: Flask, settings: Settings) -> dash.Dash:
    """Create the Dash app unattached (``server=False``), then attach it to ``server``."""
    app = dash.Dash(
        __name__,
        server=False,
        title="JobDash",
        assets_folder=str(ASSETS_DIR),
        external_stylesheets=[dbc.themes.BOOTSTRAP],
        suppress_callback_exceptions=True,
    )
    app.layout = dbc.Container(
        [
            dbc.NavbarSimple(brand="JobDash", brand_href="/", color="dark", dark=True, className="mb-4"),
        ],
        fluid=True,
    )
    app.init_app(server)
    return app
