"""Time `jobdash seed` of 1M jobs x 5 events into a fresh PostgreSQL database (issue 2's target: < 90 s).

Usage: python benchmarks/seed_speed.py [--jobs N] [--events-per-job M] [--admin-url URL]
Creates the database `jobdash_bench_seed` on the server of --admin-url, migrates it, runs the real
`jobdash seed` command, checks the invariant on a sample, prints one JSON line, and drops the database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "jobdash_bench_seed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--events-per-job", type=int, default=5)
    parser.add_argument("--admin-url", default=os.environ.get("JOBDASH_BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    parser.add_argument("--keep", action="store_true", help="keep the seeded database afterwards")
    args = parser.parse_args()

    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
    url = make_url(args.admin_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    env = {**os.environ, "JOBDASH_DATABASE_URL": url}
    jobdash = [sys.executable, "-m", "dashboard.cli"]
    try:
        subprocess.run([*jobdash, "db", "upgrade"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run(
            [*jobdash, "seed", "--jobs", str(args.jobs), "--events-per-job", str(args.events_per_job)],
            env=env,
            check=True,
        )
        elapsed = time.perf_counter() - started
        engine = create_engine(url)
        with engine.connect() as conn:
            jobs = conn.execute(text("SELECT count(*) FROM job")).scalar_one()
            events = conn.execute(text("SELECT count(*) FROM job_status")).scalar_one()
            size_sql = "SELECT pg_size_pretty(pg_database_size(current_database()))"
            size = conn.execute(text(size_sql)).scalar_one()
        engine.dispose()
        print(
            json.dumps(
                {
                    "jobs": jobs,
                    "events": events,
                    "seconds": round(elapsed, 1),
                    "jobs_per_second": round(jobs / elapsed),
                    "database_size": size,
                }
            )
        )
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
