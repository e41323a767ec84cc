"""gunicorn settings, read from the environment (SPEC section 2): PORT, WEB_CONCURRENCY, JOBDASH_THREADS."""

from dashboard.settings import Settings

_settings = Settings.from_env()

bind = f"0.0.0.0:{_settings.port}"
workers = _settings.web_concurrency
threads = _settings.threads
worker_class = "gthread" if _settings.threads > 1 else "sync"
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
