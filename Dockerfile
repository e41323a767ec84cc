# JobDash production image: the same commands the tests exercise (`jobdash db upgrade`, `jobdash serve`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8050

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app jobdash

# Dependencies first, so that code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY dashboard/__init__.py dashboard/__init__.py
COPY db/__init__.py db/__init__.py
COPY migrations/__init__.py migrations/__init__.py
RUN pip install -e .

COPY dashboard dashboard
COPY db db
COPY migrations migrations
COPY assets assets

USER jobdash
EXPOSE 8050
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/livez', timeout=2)"
# Migrate, then replace the shell with gunicorn (configured from PORT, WEB_CONCURRENCY, JOBDASH_THREADS).
CMD ["sh", "-c", "jobdash db upgrade && exec jobdash serve"]
