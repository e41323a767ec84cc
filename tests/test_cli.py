"""The jobdash command: db upgrade, seed, and one-line errors with a non-zero exit."""

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from dashboard.cli import main
from db import migrate
from db.engine import Database
from db.models import job_table
from tests.conftest import head_revision
from tests.invariant import invariant_violations


@pytest.fixture
def fresh_url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(args, url):
    return CliRunner().invoke(main, args, env={"JOBDASH_DATABASE_URL": url})


def test_db_upgrade_then_seed(fresh_url):
    head = head_revision(Database.connect(fresh_url))
    upgraded = run(["db", "upgrade"], fresh_url)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision {head}" in upgraded.output
    seeded = run(["seed", "--jobs", "250", "--events-per-job", "3", "--seed", "2"], fresh_url)
    assert seeded.exit_code == 0, seeded.output
    assert "seeded 250 jobs and 750 events" in seeded.output
    database = Database.connect(fresh_url)
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(job_table)).scalar_one() == 250
    assert invariant_violations(database) == []
    assert migrate.current_revision(database.writer) == head
    database.dispose()
    checked = run(["db", "check"], fresh_url)
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("ok: counts, history aggregates and invariant hold")


def test_db_downgrade_goes_back_to_a_revision_and_upgrade_returns(fresh_url):
    assert run(["db", "upgrade"], fresh_url).exit_code == 0
    assert run(["seed", "--jobs", "60", "--events-per-job", "4"], fresh_url).exit_code == 0
    back = run(["db", "downgrade", "--revision", "0004"], fresh_url)
    assert back.exit_code == 0, back.output
    assert "revision 0004" in back.output
    assert run(["db", "upgrade"], fresh_url).exit_code == 0
    # The time-in-state rows survived both ways.
    assert run(["db", "check"], fresh_url).output.startswith("ok:")
    unknown = run(["db", "downgrade", "--revision", "9999"], fresh_url)
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: migration failed:") and unknown.output.count("\n") == 1
    assert run(["db", "downgrade"], fresh_url).exit_code == 2  # the revision is required


def test_db_check_reports_each_problem_and_repair_fixes_drift(fresh_url):
    assert run(["db", "upgrade"], fresh_url).exit_code == 0
    assert run(["seed", "--jobs", "40", "--events-per-job", "3"], fresh_url).exit_code == 0
    database = Database.connect(fresh_url)
    tampering = [
        "UPDATE job_count_total SET jobs = jobs + 2 WHERE stripe = (SELECT min(stripe) FROM job_count_total)",
        "DELETE FROM job_count_hour WHERE starts_at = (SELECT max(starts_at) FROM job_count_hour)",
        "UPDATE job SET current_status_type = CASE current_status_type WHEN 'FAILED' THEN 'CANCELLED' "
        "ELSE 'FAILED' END WHERE id = 7",
        "UPDATE job_status SET timestamp = '9999-01-01 00:00:00.000000' "
        "WHERE id = (SELECT max(id) FROM job_status WHERE job_id = 9)",
    ]
    with database.write() as conn:
        for statement in tampering:
            conn.execute(text(statement))
    database.dispose()
    checked = run(["db", "check"], fresh_url)
    assert checked.exit_code == 1
    lines = checked.output.splitlines()
    assert any(line.startswith("problem: drift: job_count_total") for line in lines), lines
    assert any(line.startswith("problem: drift: job_count_hour") for line in lines), lines
    assert any(line.startswith("problem: invariant: job 7 is") for line in lines), lines
    # job 9's newest event is now in year 9999: its current status no longer matches (an invariant
    # break), and the event is listed as dated in the future.
    assert any(line.startswith("finding: future: event") and "job 9 " in line for line in lines), lines
    repaired = run(["db", "check", "--repair"], fresh_url)
    assert repaired.exit_code == 1  # the counts are rebuilt; the invariant breaks are still reported
    after = repaired.output.splitlines()
    assert after[0].startswith("rebuilt the count and history tables")
    assert not [line for line in after if "drift" in line], after
    assert [line for line in after if line.startswith("problem: invariant: job 7 ")]


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
