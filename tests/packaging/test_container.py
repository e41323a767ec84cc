"""The Dockerfile, .dockerignore and docker-compose.yml, read and checked (no Docker engine runs here).

Their command lines are run for real, outside Docker, by tests/packaging/test_wheel.py."""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.packaging import dockerfile

ROOT = Path(__file__).resolve().parents[2]
PINNED_PYTHON = re.compile(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$")
PINNED_IMAGE = re.compile(r"[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a compose duration: {duration}"
    return sum(float(n) * units[u] for n, u in parts)


def test_the_image_is_built_in_two_stages_on_a_pinned_base():
    builder, runtime = dockerfile.stages()
    assert PINNED_PYTHON.match(builder.base) and runtime.base == builder.base
    build = " ".join(builder.all("RUN"))
    assert "python -m build" in build and "pip wheel" in build
    # The runtime installs the built wheels only: no source is copied in, no editable install.
    install = " ".join(runtime.all("RUN"))
    assert "from=builder" in install and "--no-index" in install and "-e " not in install
    assert not runtime.all("COPY") and not runtime.all("ADD")


def test_the_runtime_runs_as_a_user_with_a_writable_data_directory():
    runtime = dockerfile.stages()[-1]
    user = runtime.last("USER")
    assert user not in {"root", "0"} and not user.startswith("0:")
    install = " ".join(runtime.all("RUN"))
    assert re.search(rf"useradd .*\b{user}\b", install)
    database_url = runtime.env()["JOBDASH_DATABASE_URL"]
    data_dir = database_url.removeprefix("sqlite:///").rsplit("/", 1)[0]
    assert database_url.startswith("sqlite:////") and data_dir == runtime.last("WORKDIR")
    assert re.search(rf"chown {user}(:{user})? {data_dir}\b", install)
    assert f'"{data_dir}"' in runtime.last("VOLUME")


def test_gunicorn_is_pid_1_drains_on_sigterm_and_is_health_checked_after_a_start_period():
    runtime = dockerfile.stages()[-1]
    # Exec form with no shell in between: `jobdash serve` execs gunicorn in its own process.
    assert runtime.exec_form("CMD") == ["jobdash", "serve"]
    assert not runtime.all("ENTRYPOINT")
    assert runtime.last("STOPSIGNAL") == "SIGTERM"
    health = runtime.last("HEALTHCHECK")
    assert re.search(r"--start-period=\d+s", health) and "/livez" in health
    assert "db upgrade" not in " ".join(runtime.all("CMD")), "migrations belong to the migrate service"


def test_the_build_context_holds_only_what_the_builder_copies():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    copied = [arg.split()[:-1] for arg in dockerfile.stages()[0].all("COPY")]
    sources = [source for sources in copied for source in sources]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for path in tracked:
        needed = any(path == s or path.startswith(s.rstrip("/") + "/") for s in sources)
        assert _in_context(path, patterns) == needed, path
    left_out = [".git/HEAD", ".venv/bin/python", "jobdash.db", "jobdash.db-wal", "db/__pycache__/x.pyc"]
    for path in left_out:
        assert not _in_context(path, patterns), path


def _in_context(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides (``!`` keeps)."""
    included = True
    for pattern in patterns:
        keep = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            included = keep
    return included


def test_compose_pins_every_image(compose):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in compose["services"].items():
        image = service["image"]
        assert PINNED_IMAGE.match(image) and not image.endswith(":latest"), f"{name}: {image}"
        if "build" in service:
            assert image == f"jobdash:{version}", f"{name} builds this project: tag it with its version"


def test_compose_migrates_once_before_the_app_starts(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["jobdash", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["image"] == services["app"]["image"]
    assert services["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "command" not in services["app"], "the app runs the image's CMD (no migration at start)"


def test_compose_refuses_to_start_without_a_write_token(compose):
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        token = environment.get("JOBDASH_API_TOKENS")
        if name == "app":
            # ${VAR:?message}: compose stops with the message when VAR is unset or empty.
            assert re.fullmatch(r"\$\{JOBDASH_API_TOKENS:\?[^}]+\}", token), token
        else:
            assert token is None, f"{name} does not write through the API"
        assert "JOBDASH_ALLOW_ANONYMOUS_WRITES" not in environment


def test_compose_waits_longer_than_gunicorn_drains(compose):
    from dashboard import gunicorn_conf

    app = compose["services"]["app"]
    assert _seconds(app["stop_grace_period"]) > gunicorn_conf.graceful_timeout
    assert app.get("stop_signal", "SIGTERM") == "SIGTERM"
