"""The database side of the benchmark: sizes, seeding with reuse, the raw-SQL floor, the invariant check.

- ``ensure_database`` creates ``jobdash_bench_<size>`` with the real CLI (``jobdash db upgrade`` then
  ``jobdash seed``) unless it already holds exactly that many jobs. One at an older Alembic revision is
  brought to the newest with ``jobdash db upgrade``, as an operator would, instead of being seeded again;
  the upgrade (a migration's backfill at that size) is timed and remembered in
  ``benchmarks/results/upgrades.json``, so later runs still report it.
- ``capture_statements`` runs the app's own ``db.queries`` functions on a SQLAlchemy connection and records
  every statement and parameter set they send (``before_cursor_execute``); ``SqlReplayer`` replays them on
  a plain psycopg connection in one transaction per page, exactly what the app sends, minus the app.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import Database

ADMIN_URL = os.environ.get("JOBDASH_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
EVENTS_PER_JOB = 5
SEED_TIMEOUT_S = 3600
UPGRADES = Path(__file__).resolve().parent / "results" / "upgrades.json"
_SIZE = re.compile(r"^(\d+)([km]?)$")


def parse_size(label: str) -> int:
    """``10k`` -> 10_000, ``1m`` -> 1_000_000, ``2500`` -> 2500."""
    match = _SIZE.match(label.strip().lower())
    if not match:
        raise ValueError(f"bad size {label!r}: use e.g. 2k, 10k, 100k, 1m, 10m")
    return int(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2)]


def database_url(size_label: str) -> str:
    """The SQLAlchemy URL of the benchmark database of ``size_label``."""
    name = f"jobdash_bench_{size_label.strip().lower()}"
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a plain libpq URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def head_revision() -> str | None:
    """The newest Alembic revision of the migrations in this checkout."""
    engine = create_engine(ADMIN_URL)
    try:
        return ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()


def describe(url: str) -> dict[str, Any] | None:
    """Jobs, events and revision of the database at ``url``; None when it does not exist or is empty."""
    name = make_url(url).database
    with psycopg.connect(libpq_url(ADMIN_URL), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            return None
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        has_version = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not has_version or not has_version[0]:
            return {"jobs": None, "events": None, "revision": None}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        jobs = conn.execute("SELECT count(*) FROM job").fetchone()
        events = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'job_status'::regclass")
        return {
            "jobs": jobs[0] if jobs else None,
            "events_estimate": (events.fetchone() or [None])[0],
            "revision": revision[0] if revision else None,
        }


def _cli(url: str, *args: str, timeout: float) -> None:
    """Run ``python -m dashboard.cli ARGS`` against ``url``; raise with its output on failure."""
    env = {**os.environ, "JOBDASH_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"jobdash {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def ensure_database(size_label: str, jobs: int, *, fresh: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Reuse or (re)seed the database of ``size_label``; returns what was done and how long it took."""
    url = database_url(size_label)
    name = make_url(url).database
    head = head_revision()
    state = None if fresh else describe(url)
    upgrades = json.loads(UPGRADES.read_text()) if UPGRADES.exists() else {}
    if state is not None and state["jobs"] == jobs and state["revision"] not in (None, head):
        upgrades.setdefault(name, []).append(_upgrade(url, state["revision"], head, log))
        UPGRADES.parent.mkdir(parents=True, exist_ok=True)
        UPGRADES.write_text(json.dumps(upgrades, indent=1))
        state["revision"] = head
    if state is not None and state["jobs"] == jobs and state["revision"] == head:
        log(f"  reusing {name}: {jobs:,} jobs at revision {head}")
        vacuum(url)
        return {
            "database": name,
            "reused": True,
            "seed_seconds": None,
            "revision": head,
            "upgrades": upgrades.get(name, []),
        }
    reason = (
        "--fresh" if fresh else ("missing" if state is None else f"holds {state} (want {jobs} at {head})")
    )
    log(f"  seeding {name} ({reason}): {jobs:,} jobs x {EVENTS_PER_JOB} events ...")
    with psycopg.connect(libpq_url(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    _cli(url, "db", "upgrade", timeout=300)
    _cli(url, "seed", "--jobs", str(jobs), "--events-per-job", str(EVENTS_PER_JOB), timeout=SEED_TIMEOUT_S)
    seconds = time.perf_counter() - started
    vacuum(url)
    log(f"  seeded {name} in {seconds:.1f} s")
    return {
        "database": name,
        "reused": False,
        "seed_seconds": round(seconds, 1),
        "revision": head,
        "upgrades": [],
    }


def _upgrade(url: str, revision: str, head: str | None, log: Callable[[str], None]) -> dict[str, Any]:
    """``jobdash db upgrade`` of the database at ``url`` from ``revision``: what it took, and when."""
    log(f"  upgrading {make_url(url).database} from {revision} to {head} (backfill) ...")
    started = time.perf_counter()
    _cli(url, "db", "upgrade", timeout=SEED_TIMEOUT_S)
    seconds = round(time.perf_counter() - started, 1)
    log(f"  upgraded in {seconds} s")
    return {
        "from": revision,
        "to": head,
        "seconds": seconds,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) every table, as autovacuum eventually would: the big tables, and the aggregate
    tables a seed or a migration has just filled (without it, they have no statistics and no visibility
    map, and the writers measured on them pay for the first vacuum's work, which a database that has
    been running for a while has long done)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def server_facts(url: str) -> dict[str, Any]:
    """PostgreSQL version and a few settings that matter to latency."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        facts: dict[str, Any] = {"postgresql": version[0] if version else None}
        for setting in ("shared_buffers", "work_mem", "effective_cache_size", "jit", "synchronous_commit"):
            row = conn.execute(f"SHOW {setting}").fetchone()
            facts[setting] = row[0] if row else None
        return facts


def pick_ids(url: str, jobs: int) -> dict[str, Any]:
    """Job ids the benchmark uses: one for detail/history (in the middle), a spread set for the writers."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        bounds = conn.execute("SELECT min(id), max(id) FROM job").fetchone()
        low, high = (bounds or (1, jobs))[0] or 1, (bounds or (1, jobs))[1] or jobs
        middle = conn.execute("SELECT id FROM job WHERE id >= %s ORDER BY id LIMIT 1", [(low + high) // 2])
        detail = (middle.fetchone() or [low])[0]
        step = max(1, (high - low) // 64)
        writers = [i for i in range(low + step // 2, high, step) if i != detail][:64]
    return {"detail_job": detail, "writer_jobs": writers, "min_id": low, "max_id": high}


def middle_row(
    url: str, *, statuses: tuple[str, ...], q: str | None, key: str, from_id: int
) -> tuple[Any, int] | None:
    """``(key value, id)`` of the first job at or after id ``from_id`` that matches the filters.

    Ids follow creation time, so this is a row from the middle of the list: a deep cursor position.
    """
    conds, params = ["id >= %s"], [from_id]
    if statuses:
        conds.append("current_status_type = ANY(%s)")
        params.append(list(statuses))
    if q:
        conds.append("name ILIKE %s")
        params.append(f"%{q}%")
    sql = f"SELECT {key}, id FROM job WHERE {' AND '.join(conds)} ORDER BY id LIMIT 1"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return (row[0], row[1]) if row else None


# ------------------------------------------------------------------------------------ raw-SQL floor


@dataclass(frozen=True)
class Statement:
    """One statement the app sent, with its parameters."""

    sql: str
    params: Any


def capture_statements(database: Database, call: Callable[[Connection], object]) -> list[Statement]:
    """Every statement ``call(conn)`` sends inside ``database.read()``, in the app's steady state.

    ``call`` runs once uncaptured first, so per-process memos of the data layer (planner estimates) are
    warm, as they are while a server answers the same page again and again.
    """
    captured: list[Statement] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        params = dict(parameters) if isinstance(parameters, dict) else parameters
        captured.append(Statement(statement, params))

    with database.read() as conn:
        call(conn)
    engine = database.reader
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with database.read() as conn:
            call(conn)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return captured


def read_session(database: Database) -> dict[str, Any]:
    """How the app's read connections run: autocommit or in a transaction, and their time zone."""
    with database.read() as conn:
        dbapi = conn.connection.dbapi_connection
        autocommit = bool(getattr(dbapi, "autocommit", False))
        timezone = conn.exec_driver_sql("SHOW TimeZone").scalar()
    return {"autocommit": autocommit, "timezone": str(timezone)}


class SqlReplayer:
    """Replays captured statements on one plain psycopg connection set up as the app's read sessions."""

    def __init__(self, url: str, session: dict[str, Any]) -> None:
        """Open the connection: same autocommit mode, time zone and statement timeout as the app."""
        self.autocommit = session["autocommit"]
        options = f"-c timezone={session['timezone']} -c statement_timeout=5000"
        self.conn = psycopg.connect(libpq_url(url), autocommit=self.autocommit, options=options)

    def run(self, statements: list[Statement]) -> None:
        """Execute each statement and fetch all its rows (then commit, unless in autocommit)."""
        for statement in statements:
            cur = self.conn.execute(statement.sql, statement.params)
            if cur.description is not None:
                cur.fetchall()
        if not self.autocommit:
            self.conn.commit()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


# ------------------------------------------------------------------------------------------ writers


INVARIANT_SQL = """
SELECT count(*) FROM job AS j
CROSS JOIN LATERAL (
    SELECT s.status_type, s.timestamp FROM job_status AS s
    WHERE s.job_id = j.id ORDER BY s.timestamp DESC, s.id DESC LIMIT 1
) AS newest
WHERE j.id = ANY(%s)
  AND (j.current_status_type <> newest.status_type OR j.updated_at <> newest.timestamp)
"""


def invariant_violations(url: str, job_ids: list[int]) -> int:
    """How many of ``job_ids`` break the status invariant (status and time = newest event)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        row = conn.execute(INVARIANT_SQL, [job_ids]).fetchone()
    return int(row[0]) if row else -1


def count_events(url: str, job_ids: list[int]) -> int:
    """Events currently held by ``job_ids``."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM job_status WHERE job_id = ANY(%s)", [job_ids]).fetchone()
    return int(row[0]) if row else 0


def sql_text(statement: Statement) -> str:
    """A statement with its parameters, for the report's appendix."""
    return f"{' '.join(statement.sql.split())}  -- {statement.params!r}"


def database_size(url: str) -> str:
    """``pg_size_pretty`` of the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar()
            )
    finally:
        engine.dispose()


def ready_database(size: str, ci: bool, log: Any) -> str:
    """The URL of ``jobdash_bench_<size>``, checked to be at this checkout's newest revision."""
    if ci:
        ensure_database(size, parse_size(size), fresh=False, log=log)
    url = database_url(size)
    head = head_revision()
    try:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error as exc:
        raise SystemExit(f"{url}: {str(exc).splitlines()[0]} (seed it with benchmarks/bench.py)") from None
    if row is None or row[0] != head:
        raise SystemExit(f"{url} is at revision {row and row[0]}, this checkout at {head}: upgrade a copy")
    return url
