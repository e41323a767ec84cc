"""JobDash: a Dash dashboard and JSON API over a PostgreSQL (or SQLite) store of jobs and their events."""

from __future__ import annotations

import dash
from flask import Flask
from werkzeug.routing import IntegerConverter

from dashboard.api import register_api
from dashboard.cache import init_cache
from dashboard.database import init_db
from dashboard.delivery import init_delivery
from dashboard.errors import init_error_handlers
from dashboard.health import bp as health_bp
from dashboard.instrumentation import init_instrumentation
from dashboard.jsonprovider import OrjsonProvider
from dashboard.logs import configure_logging
from dashboard.metrics import init_metrics
from dashboard.security import init_basic_auth, init_security_headers
from dashboard.settings import Settings, init_settings
from dashboard.shell import init_dash


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app and the Flask server under it, configured from ``settings``."""
    settings = settings or Settings.from_env()
    server = Flask(__name__)
    # Job ids are ASCII digits: werkzeug's int converter would also take a full-width "1" (U+FF11) as 1.
    server.url_map.converters["int"] = AsciiIntegerConverter
    init_settings(server, settings)
    server.json = OrjsonProvider(server)
    configure_logging(settings)
    init_instrumentation(server)
    init_db(server, settings)
    init_cache(server, settings)
    init_metrics(server, settings)
    init_error_handlers(server)
    init_basic_auth(server, settings)
    server.register_blueprint(health_bp)
    register_api(server)
    app = init_dash(server)
    init_security_headers(app)
    init_delivery(app, settings)
    return app


class AsciiIntegerConverter(IntegerConverter):
    """``<int:…>`` for ASCII digits only."""

    regex = r"[0-9]+"
