"""JobDash: a Dash dashboard and JSON API over a PostgreSQL (or SQLite) store of jobs and their events."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from flask import Flask

from dashboard.cache import init_cache
from dashboard.database import init_db
from dashboard.health import bp as health_bp
from dashboard.logs import init_logging
from dashboard.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR.parent / "assets"


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app and the Flask server under it, configured from ``settings``."""
    settings = settings or Settings.from_env()
    server = Flask(__name__)
    server.config["JOBDASH_SETTINGS"] = settings
    init_logging(server, settings)
    init_db(server, settings)
    init_cache(server, settings)
    server.register_blueprint(health_bp)
    return init_dash(server, settings)


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
