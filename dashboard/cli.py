"""The ``jobdash`` command: demo, serve, db upgrade, db check, seed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from dashboard.settings import Settings, SettingsError, redact_url
from db.engine import Database

DEMO_JOBS = 5_000
DEMO_EVENTS_PER_JOB = 5


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(None, **overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _database(settings: Settings) -> Database:
    return Database.connect(
        settings.database_url,
        statement_timeout_ms=0,
        connect_timeout=settings.db_connect_timeout,
        parallel_query=True,
    )


@click.group()
def main() -> None:
    """JobDash: watch large fleets of background jobs."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
def db_upgrade(revision: str) -> None:
    """Migrate the database at JOBDASH_DATABASE_URL to the newest schema."""
    _migrate(revision)


@db.command("downgrade")
@click.option("--revision", required=True, help="Alembic revision to migrate back to, e.g. 0004.")
def db_downgrade(revision: str) -> None:
    """Migrate the database at JOBDASH_DATABASE_URL back to an older schema, with this release's code,
    before the older release runs again (docs/operations.md, "Upgrades")."""
    _migrate(revision, down=True)


def _migrate(revision: str, *, down: bool = False) -> None:
    """Migrate up (or ``down``) to ``revision``; one line and exit 1 if a migration fails."""
    from db import migrate

    database = _database(_settings())
    try:
        (migrate.downgrade if down else migrate.upgrade)(database.writer, revision)
    except Exception as exc:
        raise click.ClickException(f"migration failed: {str(exc).splitlines()[0]}") from None
    finally:
        database.dispose()
    click.echo(f"database at revision {migrate.current_revision(database.writer)}")


@db.command("check")
@click.option(
    "--repair",
    is_flag=True,
    help="Work out families and status_since again, rebuild every count and history table, then check again.",
)
def db_check(repair: bool) -> None:
    """Recount every aggregate, replay every history and check the invariant; one line per problem, exit
    1 if any (disallowed transitions and the like are findings, which do not fail)."""
    from db import check, migrate

    settings = _settings()
    database = _database(settings)
    try:
        if migrate.current_revision(database.writer) is None:
            raise click.ClickException("the database has no schema yet: run `jobdash db upgrade` first")
        if repair:
            started = time.perf_counter()
            with database.write() as conn:
                check.repair(conn, rules=settings.family_rules)
            click.echo(f"rebuilt the count and history tables in {time.perf_counter() - started:.1f} s")
        # One snapshot for the whole check, so that every table is read as of the same moment.
        with database.writer.connect() as conn:
            if database.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                report = check.check(conn, rules=settings.family_rules)
    finally:
        database.dispose()
    for line in report.findings:
        click.echo(f"finding: {line}")
    for line in report.problems:
        click.echo(f"problem: {line}")
    if not report.ok:
        hint = "" if repair else " (`jobdash db check --repair` rebuilds drifted counts)"
        click.echo(f"{len(report.problems)} problem(s) found{hint}", err=True)
        sys.exit(1)
    click.echo(f"ok: counts, history aggregates and invariant hold ({len(report.findings)} finding(s))")


@main.command()
@click.option("--jobs", type=click.IntRange(min=0), required=True, help="How many jobs to add.")
@click.option("--events-per-job", type=click.IntRange(min=1, max=1000), default=5, show_default=True)
@click.option("--seed", "seed_value", type=int, default=0, show_default=True, help="Random seed.")
def seed(jobs: int, events_per_job: int, seed_value: int) -> None:
    """Add realistic jobs and status histories (COPY on PostgreSQL), deterministic for a seed."""
    from db import migrate
    from db.seed import seed as run_seed

    settings = _settings()
    database = _database(settings)
    try:
        if migrate.current_revision(database.writer) is None:
            raise click.ClickException("the database has no schema yet: run `jobdash db upgrade` first")
        started = time.perf_counter()
        with click.progressbar(length=jobs, label="seeding jobs", file=sys.stderr) as bar:
            result = run_seed(
                database,
                jobs=jobs,
                events_per_job=events_per_job,
                seed=seed_value,
                progress=bar.update,
                family_rules=settings.family_rules,
            )
        elapsed = time.perf_counter() - started
    finally:
        database.dispose()
    click.echo(f"seeded {result.jobs} jobs and {result.events} events in {elapsed:.1f} s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Defaults to PORT or 8050.")
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    default=DEMO_JOBS,
    show_default=True,
    help="Demo jobs to create when the database is empty.",
)
def demo(host: str, port: int | None, jobs: int) -> None:
    """Run the dashboard on the embedded SQLite database, migrated and filled with demo data."""
    from sqlalchemy import func, select

    from dashboard import create_app
    from dashboard.database import database_of
    from db import migrate
    from db.models import job_table
    from db.seed import seed as run_seed

    overrides: dict[str, object] = {}
    if "JOBDASH_DATABASE_URL" not in os.environ:
        overrides["database_url"] = f"sqlite:///{Path('jobdash.db').resolve()}"
    if "JOBDASH_ALLOW_ANONYMOUS_WRITES" not in os.environ and "JOBDASH_API_TOKENS" not in os.environ:
        overrides["allow_anonymous_writes"] = True  # the demo is local; let people try the write API
    settings = _settings(**overrides)
    app = create_app(settings)
    database = database_of(app.server)
    migrate.upgrade(database.writer)
    with database.read() as conn:
        empty = conn.execute(select(func.count()).select_from(job_table)).scalar_one() == 0
    if empty and jobs:
        click.echo(f"creating {jobs} demo jobs…", err=True)
        run_seed(
            database,
            jobs=jobs,
            events_per_job=DEMO_EVENTS_PER_JOB,
            seed=42,
            family_rules=settings.family_rules,
        )
    port = port or settings.port
    click.echo(f"JobDash demo on http://{host}:{port}/  (database: {redact_url(settings.database_url)})")
    app.server.run(host=host, port=port, debug=False, threaded=True)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def serve(gunicorn_args: tuple[str, ...]) -> None:
    """Run the production server (gunicorn, configured from PORT, WEB_CONCURRENCY, JOBDASH_THREADS)."""
    settings = _settings()  # fail fast, in one line, on a bad setting
    environ = dict(os.environ)
    if settings.metrics:
        from dashboard import gunicorn_conf, metrics

        # In gunicorn's environment from its first instruction: see dashboard/metrics.py.
        environ = metrics.multiprocess_environment(environ, parent=gunicorn_conf.MEMORY_DIR)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:dashboard.gunicorn_conf",
        *gunicorn_args,
        "dashboard.wsgi:server",
    ]
    os.execve(sys.executable, argv, environ)  # noqa: S606 - replace this process with gunicorn


if __name__ == "__main__":
    main()
