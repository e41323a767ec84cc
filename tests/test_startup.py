"""Start-up does no database work: building the app, and importing the WSGI module gunicorn loads, connect
to nothing, so a worker's start costs the same at ten thousand jobs as at ten million (the figures are in
docs/performance.md, from `python benchmarks/production.py`)."""

import os
import subprocess
import sys

from sqlalchemy import event
from sqlalchemy.pool import Pool

from dashboard import create_app
from dashboard.database import database_of
from dashboard.settings import Settings
from tests.resilience.servers import free_port


def test_building_the_app_opens_no_connection(tmp_path):
    connects = []

    def count(*args):
        connects.append(args)

    event.listen(Pool, "connect", count)
    try:
        app = create_app(Settings.from_env({}, database_url=f"sqlite:///{tmp_path / 'never.db'}"))
        database_of(app.server).dispose()
    finally:
        event.remove(Pool, "connect", count)
    assert connects == []
    assert not (tmp_path / "never.db").exists()


def test_importing_the_wsgi_module_works_with_no_database_answering():
    # Nothing listens on this port: any connection attempt during the import would fail it.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/jobdash"
    env = {**os.environ, "JOBDASH_DATABASE_URL": url, "JOBDASH_READ_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", "import dashboard.wsgi; print(dashboard.wsgi.server.name)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "dashboard"
