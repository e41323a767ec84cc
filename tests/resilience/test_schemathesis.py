"""Resilience case 9: schemathesis against /api/openapi.json with a write token, every phase, 2 minutes.

Fault: generated and mutated requests of every documented operation (examples, coverage, fuzzing,
stateful), through gunicorn. The service must answer none with a server error, and schemathesis must find
no failure of any check: responses, content types, headers and status codes as documented, schema-valid
requests accepted and schema-violating ones refused.

Two settings of the run come from the contract itself, not from this test:
- an operation that lists ``x-rules`` (checks a JSON Schema cannot state: ranges across two fields, the
  clock, opaque cursors) may answer a schema-valid request 400, as its 400 response documents;
- a request refused before it reaches the app is refused with the status HTTP has for it (413 body too
  large, 414 URI too long, 431 headers too large), which schemathesis does not count as a rejection.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.resilience.client import TOKEN
from tests.resilience.servers import jobdash_serve, migrate

pytestmark = pytest.mark.resilience
BUDGET_S = 120
# schemathesis' default for negative_data_rejection, plus the statuses HTTP has for oversized requests.
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429, 431]
ACCEPTANCES = ["2xx", "3xx", 401, 403, 404, 409, 429]


def schemathesis_config(document: dict) -> str:
    """schemathesis.toml: global rejection statuses, and 400 accepted where ``x-rules`` document it."""
    lines = [f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(REJECTIONS)}\n"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("x-rules"):
                statuses = json.dumps([*ACCEPTANCES, 400])
                lines.append(
                    f"[[operations]]\ninclude-path = {json.dumps(path)}\n"
                    f"include-method = {json.dumps(method.upper())}\n"
                    f"checks.positive_data_acceptance.expected-statuses = {statuses}\n"
                )
    return "\n".join(lines)


def test_schemathesis_finds_no_failure(tmp_path, record_property):
    st = shutil.which("st") or str(Path(__file__).resolve().parents[2] / ".venv/bin/st")
    if not Path(st).exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    url = f"sqlite:///{tmp_path / 'schemathesis.db'}"
    migrate(url)
    env = {"JOBDASH_DATABASE_URL": url, "JOBDASH_API_TOKENS": TOKEN, "JOBDASH_CACHE_TTL": "5"}
    with jobdash_serve(env, tmp_path / "server.log") as (base, _):
        with urllib.request.urlopen(f"{base}/api/openapi.json") as answer:
            config = tmp_path / "schemathesis.toml"
            config.write_text(schemathesis_config(json.load(answer)))
        run = subprocess.run(
            [
                st,
                "--config-file",
                str(config),
                "run",
                f"{base}/api/openapi.json",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-time",
                str(BUDGET_S),
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # its example cache (.schemathesis/) stays out of the work tree
            timeout=BUDGET_S * 5,  # a hang detector
        )
    output = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    generated = re.search(r"(\d+) generated", output)
    summary = output[output.rfind("SUMMARY") :]
    print(summary[:4000])
    record_property("schemathesis_test_cases", int(generated.group(1)) if generated else 0)
    failures = re.findall(r"❌ (.+): \d+", summary.split("Failures:", 1)[1]) if "Failures:" in summary else []
    assert "Test cases:" in summary, output[-4000:]
    assert failures == [], output[output.find("FAILURES") :][:6000]
    assert run.returncode == 0, output[-4000:]
    assert "Traceback" not in (tmp_path / "server.log").read_text()
