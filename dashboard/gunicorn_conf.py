"""gunicorn settings, read from the environment: PORT, WEB_CONCURRENCY, JOBDASH_THREADS."""

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
