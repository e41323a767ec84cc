# syntax=docker/dockerfile:1
# JobDash production image. Two stages: the builder makes the wheel (and wheels of its dependencies); the
# runtime installs only those, so no source tree, build tool or compiler reaches the image.
# `docker compose up` runs `jobdash db upgrade` once (the migrate service), then this image's CMD.

# Pinned: a floating tag would change the interpreter and Debian under an unchanged Dockerfile.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN pip install "build==1.2.2.post1"
# Only what the sdist needs (.dockerignore keeps the rest out of the context anyway).
COPY pyproject.toml setup.py README.md ./
COPY dashboard dashboard
COPY db db
COPY migrations migrations
COPY assets assets
# sdist first, then the wheel from it: what is published is what is tested (tests/packaging).
RUN python -m build --outdir /dist . \
    && pip wheel --wheel-dir /wheels /dist/jobdash-*.whl

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8050 \
    JOBDASH_DATABASE_URL=sqlite:////data/jobdash.db
# The wheels come from the builder stage; nothing is fetched here.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels jobdash \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home jobdash \
    && mkdir /data \
    && chown jobdash:jobdash /data
# The default SQLite file lives here: mount a volume to keep it.
VOLUME ["/data"]
WORKDIR /data
USER jobdash
EXPOSE 8050
# gunicorn drains on SIGTERM (graceful_timeout 20 s): give it that long before the kill.
STOPSIGNAL SIGTERM
# A cold start imports Dash and Plotly (a few seconds): failures then do not count.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/livez', timeout=2)"]
# Exec form, no shell: `jobdash serve` execs gunicorn, which so becomes PID 1 and gets the stop signal.
# Migrations are not run here (scaled containers would race): run `jobdash db upgrade` once first.
CMD ["jobdash", "serve"]
