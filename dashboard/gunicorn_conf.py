"""gunicorn settings, read from the environment: PORT, WEB_CONCURRENCY, JOBDASH_THREADS, JOBDASH_LOG_*.

Importing this module has no side effects beyond reading the settings. Run it through `jobdash serve`,
which also gives gunicorn the metrics directory its workers share (dashboard/metrics.py).
"""

from __future__ import annotations

import os
from typing import Any

from dashboard.metrics import empty_multiprocess_dir, remove_temporary_dir, worker_exited
from dashboard.settings import Settings

_settings = Settings.from_env()

bind = f"0.0.0.0:{_settings.port}"
workers = _settings.web_concurrency
threads = _settings.threads
# gthread that reads whole requests before a thread sees them: slow clients cannot take the threads.
worker_class = "dashboard.worker.BufferingThreadWorker"
timeout = 30
graceful_timeout = 20
keepalive = 5
# The app logs each request itself as JSON; gunicorn's access log would be a second, different line.
accesslog = None
errorlog = "-"
max_requests = 10_000
max_requests_jitter = 1_000
# A client must not set SCRIPT_NAME (it would reach every cached link): no forwarded header is trusted.
forwarder_headers = ""
# tmpfs, where it exists (containers mount it): files there never wait for a disk. What goes there is
# created by mkstemp/mkdtemp (private names, mode 0600/0700).
MEMORY_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108
# The heartbeat file each worker touches: in memory, so a slow or full disk cannot make the arbiter kill
# workers that are fine (elsewhere gunicorn's default temporary directory).
worker_tmp_dir = MEMORY_DIR
# No runtime control socket (gunicorn >= 25): its default path is per user ($HOME/.gunicorn), so servers
# sharing a user (or a container's data volume as HOME) would share it; signals do what we need.
control_socket_disable = True

# gunicorn's own lines (boot, worker timeouts, signals) as the app's: one JSON object per line on stderr,
# through the same formatter (dashboard.logs), in the master and in every worker.
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"jobdash": {"()": "dashboard.logs.log_formatter", "log_format": _settings.log_format}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "jobdash", "stream": "ext://sys.stderr"}
    },
    "root": {"level": _settings.log_level, "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": _settings.log_level, "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    """Before any worker: an empty directory for the workers' metrics files (dashboard/metrics.py)."""
    if not _settings.metrics:
        return
    directory = empty_multiprocess_dir()
    if directory is None:
        server.log.warning(
            "metrics: PROMETHEUS_MULTIPROC_DIR was not set when gunicorn started (start it with `jobdash "
            "serve`): each worker's /metrics reports only its own requests"
        )
    else:
        server.log.info("metrics files in %s", directory)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: drop its live gauges (connections in use) from what /metrics sums."""
    if _settings.metrics:
        worker_exited(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics directory `jobdash serve` made for this run (a configured one stays)."""
    remove_temporary_dir()
