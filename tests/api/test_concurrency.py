"""The status invariant , with the writes arriving over HTTP from several threads at once."""

from __future__ import annotations

import datetime as dt
import random
import threading

from tests.api.conftest import AUTH
from tests.conftest import T0
from tests.invariant import invariant_violations

THREADS = 8
EVENTS_PER_THREAD = 20
STATUSES = ("RUNNING", "FAILED", "COMPLETED", "CANCELLED", "PENDING")


def test_concurrent_status_posts_leave_every_job_on_its_newest_event(app, database, job_factory):
    jobs = [job_factory(created_at=T0)["id"] for _ in range(3)]
    rnd = random.Random(11)
    # Few distinct minutes, shuffled: ties on time and late, older events are both frequent.
    plan = [
        (rnd.choice(jobs), rnd.randrange(1, 40), rnd.choice(STATUSES))
        for _ in range(THREADS * EVENTS_PER_THREAD)
    ]
    slices = [plan[t::THREADS] for t in range(THREADS)]
    start = threading.Barrier(THREADS)
    failures = []

    def writer(work):
        client = app.server.test_client()  # one client per thread: clients keep per-client state
        try:
            start.wait()
            for job_id, minute, status in work:
                at = (T0 + dt.timedelta(minutes=minute)).isoformat()
                response = client.post(
                    f"/api/jobs/{job_id}/status/", json={"status": status, "timestamp": at}, headers=AUTH
                )
                if response.status_code != 201:
                    failures.append(response.get_data(as_text=True))
        except Exception as exc:  # surfaced below; a thread's exception would otherwise vanish
            failures.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(work,)) for work in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert invariant_violations(database) == []

    client = app.server.test_client()
    for job_id in jobs:
        job = client.get(f"/api/jobs/{job_id}/").get_json()
        newest = client.get(f"/api/jobs/{job_id}/history/?page_size=1").get_json()["results"][0]
        assert (job["status"], job["updated_at"]) == (newest["status"], newest["timestamp"])
    assert sum(client.get(f"/api/jobs/{j}/").get_json()["history_count"] for j in jobs) == len(plan) + len(
        jobs
    )
