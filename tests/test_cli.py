"""The jobdash command: db upgrade, seed, and one-line errors with a non-zero exit."""

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dashboard.cli import main
from db import migrate
from db.engine import Database
from db.models import job_table
from tests.invariant import invariant_violations


@pytest.fixture
def fresh_url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(args, url):
    return CliRunner().invoke(main, args, env={"JOBDASH_DATABASE_URL": url})


def test_db_upgrade_then_seed(fresh_url):
    upgraded = run(["db", "upgrade"], fresh_url)
    assert upgraded.exit_code == 0, upgraded.output
    assert "revision 0001" in upgraded.output
    seeded = run(["seed", "--jobs", "250", "--events-per-job", "3", "--seed", "2"], fresh_url)
    assert seeded.exit_code == 0, seeded.output
    assert "seeded 250 jobs and 750 events" in seeded.output
    database = Database.connect(fresh_url)
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(job_table)).scalar_one() == 250
    assert invariant_violations(database) == []
    assert migrate.current_revision(database.writer) == "0001"
    database.dispose()


def test_seed_before_upgrade_says_what_to_do(fresh_url):
    result = run(["seed", "--jobs", "5"], fresh_url)
    assert result.exit_code != 0
    assert "jobdash db upgrade" in result.output


@pytest.mark.parametrize(
    "args",
    [["seed", "--jobs", "-1"], ["seed", "--jobs", "x"], ["seed", "--jobs", "1", "--events-per-job", "0"]],
)
def test_bad_arguments_fail(fresh_url, args):
    assert run(args, fresh_url).exit_code == 2


def test_a_bad_setting_is_one_line_and_a_non_zero_exit():
    result = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "db", "upgrade"],
        env={"JOBDASH_DATABASE_URL": "mysql://nope", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Error: JOBDASH_DATABASE_URL must be a postgresql:// or sqlite:// URL, got 'mysql://nope'"
    ]
