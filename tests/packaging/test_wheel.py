"""The sdist and wheel, built and installed into a fresh virtualenv outside the checkout, then migrated,
seeded and served with the container's own command line: what a team installing JobDash gets.

`pytest -m wheel tests/packaging` (about a minute: it installs the dependencies into a new virtualenv);
`.ci/run` runs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.packaging import dockerfile
from tests.resilience.servers import free_port, wait_until

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
SEEDED_JOBS = 300
# Files the app reads at run time besides its Python modules, as the wheel installs them.
RUNTIME_FILES = [
    "dashboard/assets/bootstrap.min.css",
    "dashboard/assets/bootstrap-icons.min.css",
    "dashboard/assets/jobdash.css",
    "dashboard/assets/fonts/bootstrap-icons.woff",
    "dashboard/assets/fonts/bootstrap-icons.woff2",
    "migrations/alembic.ini",
    "migrations/env.py",
    "migrations/script.py.mako",
    *(f"migrations/versions/{p.name}" for p in sorted((ROOT / "migrations/versions").glob("0*.py"))),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build``: the sdist from the checkout, then the wheel from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = out.glob("jobdash-*.whl")
    [sdist] = out.glob("jobdash-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def installed(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A new virtualenv with only the wheel (and its dependencies); the environment to run it in."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", str(built["wheel"])],
        check=True,
        capture_output=True,
        timeout=900,
    )
    run_dir = tmp_path_factory.mktemp("run")
    runtime = dockerfile.stages()[-1]
    # The image's environment, with its data directory moved to a scratch one and nothing of the
    # checkout's (no PYTHONPATH, no JOBDASH_* of the developer's shell).
    env = {
        **runtime.env(),
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(run_dir),
        "LANG": "C.UTF-8",
        "JOBDASH_DATABASE_URL": f"sqlite:///{run_dir / 'jobdash.db'}",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
    }
    return {**env, "JOBDASH_RUN_DIR": str(run_dir)}


def _run(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        argv, env=env, cwd=env["JOBDASH_RUN_DIR"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_the_wheel_and_sdist_hold_every_runtime_file(built):
    wheel_names = set(zipfile.ZipFile(built["wheel"]).namelist())
    assert [f for f in RUNTIME_FILES if f not in wheel_names] == []
    # Installed inside the package: no top-level "assets" in site-packages, no tests or benchmarks.
    tops = {name.split("/", 1)[0] for name in wheel_names if "/" in name and ".dist-info" not in name}
    assert tops == {"dashboard", "db", "migrations"}
    with tarfile.open(built["sdist"]) as sdist:
        sdist_names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    in_checkout = [f.replace("dashboard/assets/", "assets/") for f in RUNTIME_FILES]
    assert [f for f in in_checkout if f not in sdist_names] == []


def test_the_installed_wheel_migrates_seeds_and_serves_with_the_container_command(installed):
    env = installed
    # The code that runs is the installed copy, not this checkout.
    where = _run(env, "python", "-c", "import dashboard, db, migrations; print(dashboard.__file__)")
    assert where.startswith(str(Path(env["PATH"].split(":")[0]).parent)), where
    assert "database at revision" in _run(env, "jobdash", "db", "upgrade")
    assert f"seeded {SEEDED_JOBS} jobs" in _run(env, "jobdash", "seed", "--jobs", str(SEEDED_JOBS))

    command = dockerfile.stages()[-1].exec_form("CMD")
    log_path = Path(env["JOBDASH_RUN_DIR"]) / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, cwd=env["JOBDASH_RUN_DIR"], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until(lambda: _get(base + "/readyz")[0] == 200, 60, "the installed server is ready")
        status, content_type, page = _get(base + "/jobs")
        assert status == 200 and content_type.startswith("text/html")
        html = page.decode()
        # Every stylesheet the page links is served, from the installed package.
        links = re.findall(r'<link[^>]+href="(/assets/[^"]+\.css[^"]*)"', html)
        assert any("bootstrap.min.css" in link for link in links), links
        for link in links:
            status, content_type, body = _get(base + link)
            assert status == 200 and content_type.startswith("text/css") and body, link
        icons = next(link for link in links if "bootstrap-icons" in link)
        font = re.search(r'url\("?(?:\./)?(fonts/bootstrap-icons\.woff2)', _get(base + icons)[2].decode())
        assert font, "bootstrap-icons.css names its font"
        status, content_type, body = _get(f"{base}/assets/{font.group(1)}")
        assert status == 200 and content_type == "font/woff2" and body[:4] == b"wOF2"

        status, _, body = _get(base + "/api/jobs/?page_size=1")
        assert status == 200 and json.loads(body)["count"] == SEEDED_JOBS
        status, content_type, body = _get(base + "/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        assert b'jobdash_http_request_duration_seconds_count{method="GET",route="/api/jobs/"' in body

        # The image's HEALTHCHECK command, as Docker would run it.
        health = dockerfile.stages()[-1].exec_form("HEALTHCHECK")
        assert subprocess.run(health, env=env, timeout=30).returncode == 0
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    lines = log_path.read_text().splitlines()
    assert code == 0, lines[-20:]
    # gunicorn's own lines are JSON like the app's.
    records = [json.loads(line) for line in lines if line.strip()]
    assert any(r["logger"] == "gunicorn.error" and "Listening at" in r["msg"] for r in records)
    assert os.path.exists(env["JOBDASH_DATABASE_URL"].removeprefix("sqlite:///"))
