"""The insight endpoints: status mix as of an hour, transitions, time in state, stuck jobs, families, a
job's time in each state, and the family list filter; every answer checked against the OpenAPI document."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard import create_app
from db import writes
from tests.api.conftest import AUTH, assert_problem, field_errors
from tests.conftest import T0

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def history(database, name, events):
    """A job called ``name`` with ``events`` [(status, at), ...] (the first creates it)."""
    with database.write() as conn:
        job = writes.create_job(conn, name=name, status=events[0][0], timestamp=events[0][1])
        for status, at in events[1:]:
            writes.append_status(conn, job_id=job["id"], status=status, timestamp=at)
    return job


def test_stats_as_of_an_hour_counts_each_job_in_its_status_then(client, contract, database):
    first = history(database, "etl-1", [("PENDING", T0), ("RUNNING", T0 + 2 * H), ("COMPLETED", T0 + 5 * H)])
    history(database, "etl-2", [("PENDING", T0 + 3 * H + 10 * M)])
    # A late event, reported after the others: etl-1 had failed at 01:30 (before it ran at 02:00).
    with database.write() as conn:
        writes.append_status(conn, job_id=first["id"], status="FAILED", timestamp=T0 + H + 30 * M)

    def mix(at):
        body = contract(client.get("/api/stats/", query_string={"as_of": at.isoformat()})).get_json()
        return body["as_of"], {s: n for s, n in body["by_status"].items() if n}, body["total"]

    assert mix(T0 - H) == ("2025-12-31T23:00:00+00:00", {}, 0)
    assert mix(T0 + 30 * M) == ("2026-01-01T00:00:00+00:00", {}, 0)  # the start of the hour: before 00:00
    assert mix(T0 + H) == ("2026-01-01T01:00:00+00:00", {"PENDING": 1}, 1)
    assert mix(T0 + 2 * H)[1] == {"FAILED": 1}
    assert mix(T0 + 3 * H)[1] == {"RUNNING": 1}
    assert mix(T0 + 4 * H)[1] == {"RUNNING": 1, "PENDING": 1}
    assert mix(T0 + 6 * H)[1] == {"COMPLETED": 1, "PENDING": 1}
    now = contract(client.get("/api/stats/")).get_json()
    assert (
        now["by_status"]
        == contract(client.get("/api/stats/?as_of=2030-01-01T00:00:00Z")).get_json()["by_status"]
    )
    assert "as_of" in field_errors(client.get("/api/stats/?as_of=yesterday"))
    assert "as_of" in field_errors(client.get("/api/stats/?as_of=2026-01-01T00:00:00"))  # no offset


def test_transitions_per_family_with_the_lifecycle(client, contract, database):
    history(
        database,
        "etl-1",
        [("PENDING", T0), ("RUNNING", T0 + H), ("RUNNING", T0 + 2 * H), ("COMPLETED", T0 + 3 * H)],
    )
    history(database, "sync-1", [("COMPLETED", T0), ("RUNNING", T0 + H)])
    body = contract(
        client.get("/api/insights/transitions/?since=2026-01-01T00:30:00Z&until=2026-01-01T02:10:00Z")
    ).get_json()
    # Widened to whole hours: 00:00 to 03:00 (exclusive), so the 03:00 completion is left out.
    assert (body["since"], body["until"]) == ("2026-01-01T00:00:00+00:00", "2026-01-01T03:00:00+00:00")
    assert body["results"] == [
        {"family": "etl", "from_status": "PENDING", "to_status": "RUNNING", "count": 1, "allowed": True},
        {"family": "etl", "from_status": "RUNNING", "to_status": "RUNNING", "count": 1, "allowed": True},
        {"family": "sync", "from_status": "COMPLETED", "to_status": "RUNNING", "count": 1, "allowed": False},
    ]
    only = contract(
        client.get(
            "/api/insights/transitions/?family=sync&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"
        )
    )
    assert [r["family"] for r in only.get_json()["results"]] == ["sync"]
    assert contract(client.get("/api/insights/transitions/")).status_code == 200
    assert "until" in field_errors(
        client.get("/api/insights/transitions/?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z")
    )
    assert "since" in field_errors(
        client.get("/api/insights/transitions/?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z")
    )
    assert "nope" in field_errors(client.get("/api/insights/transitions/?nope=1"))


def test_disallowed_transitions_are_listed_newest_first_by_keyset(client, contract, database):
    for i in range(5):
        history(database, f"bad-{i}", [("COMPLETED", T0 + i * H), ("RUNNING", T0 + i * H + M)])
    history(database, "good-1", [("PENDING", T0), ("RUNNING", T0 + M)])
    seen, url = (
        [],
        "/api/insights/transitions/disallowed/?page_size=2&since=2025-12-31T00:00:00Z&until=2026-01-02T00:00:00Z",
    )
    while url:
        body = contract(client.get(url)).get_json()
        seen.extend(body["results"])
        url = body["next"]
    assert [(r["from_status"], r["to_status"]) for r in seen] == [("COMPLETED", "RUNNING")] * 5
    assert [r["at"] for r in seen] == sorted((r["at"] for r in seen), reverse=True)
    assert {r["family"] for r in seen} == {"bad"}
    assert_problem(client.get("/api/insights/transitions/disallowed/?cursor=zzz"), 400)


def test_time_in_state_percentiles_per_family(client, contract, database):
    for i in range(20):
        start = T0 + i * H
        history(
            database,
            f"etl-{i}",
            [("PENDING", start), ("RUNNING", start + (i + 1) * M), ("COMPLETED", start + 50 * M)],
        )
    body = contract(
        client.get(
            "/api/insights/time-in-state/?since=2026-01-01T00:00:00Z&until=2026-01-03T00:00:00Z&status=pending"
        )
    ).get_json()
    assert len(body["results"]) == 1
    pending = body["results"][0]
    assert (pending["family"], pending["status"], pending["stays"]) == ("etl", "PENDING", 20)
    # Exact: 10.5 min (nearest rank 10 of 1..20 min = 10), 19 and 20 minutes; bucketed within 19 %.
    assert pending["p50"] == pytest.approx(600, rel=0.19)
    assert pending["p95"] == pytest.approx(1140, rel=0.19)
    assert pending["p99"] == pytest.approx(1200, rel=0.19)
    assert field_errors(client.get("/api/insights/time-in-state/?status=done"))["status"].startswith(
        "must be one of"
    )


def test_a_job_time_in_state_beside_its_family(client, contract, database):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for i in range(5):
        history(
            database,
            f"etl-{i}",
            [("PENDING", now - 3 * H), ("RUNNING", now - 3 * H + (i + 1) * M), ("COMPLETED", now - 2 * H)],
        )
    job = history(
        database, "etl-99", [("PENDING", now - 30 * M), ("RUNNING", now - 20 * M), ("RUNNING", now - 10 * M)]
    )
    body = contract(client.get(f"/api/jobs/{job['id']}/time-in-state/")).get_json()
    assert body["family"] == "etl" and body["status"] == "RUNNING"
    assert [(s["status"], s["until"] is None) for s in body["stays"]] == [
        ("PENDING", False),
        ("RUNNING", True),
    ]
    assert body["stays"][0]["seconds"] == 600.0
    assert body["family_percentiles"]["PENDING"]["stays"] == 6  # its own finished PENDING stay too
    assert body["family_percentiles"]["PENDING"]["p50"] == pytest.approx(180, rel=0.19)
    assert body["family_percentiles"]["FAILED"] == {"stays": 0, "p50": None, "p95": None}
    assert_problem(client.get("/api/jobs/999999/time-in-state/"), 404)
    assert_problem(client.get(f"/api/jobs/{job['id']}/time-in-state/?x=1"), 400)


def test_stuck_jobs_exceed_their_family_p99_or_the_floor(client, contract, database):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # 120 etl runs of 5 to 10 minutes in RUNNING: enough history for its own p99 (about 10 minutes).
    for i in range(120):
        start = now - dt.timedelta(days=2) + i * 10 * M
        history(
            database,
            f"etl-{i}",
            [("PENDING", start), ("RUNNING", start + M), ("COMPLETED", start + M + (5 + i % 6) * M)],
        )
    stuck_etl = history(database, "etl-500", [("PENDING", now - 3 * H), ("RUNNING", now - 2 * H)])
    history(database, "etl-501", [("PENDING", now - 3 * M), ("RUNNING", now - 2 * M)])  # not yet
    # A family with little history: the floor (an hour) applies.
    history(
        database,
        "rare-1",
        [("PENDING", now - 5 * H), ("RUNNING", now - 5 * H + M), ("COMPLETED", now - 5 * H + 2 * M)],
    )
    history(database, "rare-2", [("PENDING", now - 30 * M), ("RUNNING", now - 29 * M)])  # under the floor
    stuck_rare = history(database, "rare-3", [("PENDING", now - 3 * H), ("RUNNING", now - 2 * H - 30 * M)])
    stuck_pending = history(database, "rare-4", [("PENDING", now - 90 * M)])
    body = contract(client.get("/api/insights/stuck/")).get_json()
    # Most overdue first: etl-500 is 2 h in, 1 h 50 past its ~10 min; rare-3 1 h 30 past the floor.
    assert [job["id"] for job in body["results"]] == [stuck_etl["id"], stuck_rare["id"], stuck_pending["id"]]
    thresholds = {(t["family"], t["status"]): t for t in body["thresholds"]}
    etl_running = thresholds[("etl", "RUNNING")]
    assert etl_running["stays"] == 120 and etl_running["threshold_s"] == pytest.approx(600, rel=0.19)
    assert thresholds[("rare", "RUNNING")]["threshold_s"] == 3600
    first = body["results"][0]
    assert first["family"] == "etl" and first["status"] == "RUNNING"
    assert first["overrun_s"] == pytest.approx(7200 - first["threshold_s"], abs=60)
    # Paging walks the same order, one job a page.
    seen, url = [], "/api/insights/stuck/?page_size=1"
    while url:
        page = contract(client.get(url)).get_json()
        seen.extend(job["id"] for job in page["results"])
        url = page["next"]
    assert seen == [job["id"] for job in body["results"]]
    running = contract(client.get("/api/insights/stuck/?status=running&family=rare")).get_json()
    assert [job["id"] for job in running["results"]] == [stuck_rare["id"]]
    assert (
        field_errors(client.get("/api/insights/stuck/?status=completed"))["status"]
        == "must be one of PENDING, RUNNING"
    )


def test_families_and_the_list_filter(client, contract, database):
    for name in ("etl-1", "etl-2", "sync-7f3a9c21", "train-3"):
        history(database, name, [("PENDING", T0)])
    body = contract(client.get("/api/insights/families/")).get_json()
    assert body["cap"] == 1000 and body["admitted"] == 3
    assert {f["name"]: f["total"] for f in body["results"]} == {"etl": 2, "sync": 1, "train": 1}
    page = contract(client.get("/api/jobs/?family=etl&page_size=1")).get_json()
    assert (
        [job["name"] for job in page["results"]] == ["etl-2"] and page["count"] == 2 and page["count_exact"]
    )
    assert "family=etl" in page["next"]
    rest = contract(client.get(page["next"])).get_json()
    assert [job["name"] for job in rest["results"]] == ["etl-1"]
    assert contract(client.get("/api/jobs/?family=nope")).get_json()["count"] == 0


def test_families_beyond_the_cap_are_counted_under_other(settings, contract):
    capped = create_app(settings.replace(max_families=2))
    client = capped.server.test_client()
    for name in ("etl-1", "sync-1", "train-1", "backup-1", "etl-2"):
        assert client.post("/api/jobs/", json={"name": name}, headers=AUTH).status_code == 201
    body = contract(client.get("/api/insights/families/")).get_json()
    assert body["cap"] == 2 and body["admitted"] == 2
    assert {f["name"]: (f["total"], f["overflow"]) for f in body["results"]} == {
        "etl": (2, False),
        "sync": (1, False),
        "other": (2, True),
    }
    listed = contract(client.get("/api/jobs/?family=other")).get_json()
    assert sorted(job["name"] for job in listed["results"]) == ["backup-1", "train-1"]
    capped.server.extensions["jobdash.database"].dispose()
