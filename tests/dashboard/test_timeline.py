"""Time spent in each status, from a job's events."""

from __future__ import annotations

import datetime as dt

from dashboard.timeline import status_segments, time_in_status, total_duration

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def event(ident: int, status: str, minutes: float) -> dict[str, object]:
    return {"id": ident, "status": status, "timestamp": T0 + dt.timedelta(minutes=minutes), "message": None}


def test_segments_run_from_each_event_to_the_next_in_time_order() -> None:
    newest_first = [event(3, "COMPLETED", 30), event(2, "RUNNING", 10), event(1, "PENDING", 0)]
    segments = status_segments(newest_first, now=T0 + dt.timedelta(hours=5))
    assert [(s.status, s.duration) for s in segments] == [
        ("PENDING", dt.timedelta(minutes=10)),
        ("RUNNING", dt.timedelta(minutes=20)),
        ("COMPLETED", dt.timedelta(0)),
    ]
    assert not any(s.ongoing for s in segments)


def test_an_active_last_status_lasts_until_now() -> None:
    segments = status_segments(
        [event(1, "PENDING", 0), event(2, "RUNNING", 10)], now=T0 + dt.timedelta(hours=1)
    )
    assert segments[-1].ongoing and segments[-1].duration == dt.timedelta(minutes=50)


def test_ties_in_time_are_ordered_by_id_and_late_events_by_their_time() -> None:
    events = [event(5, "RUNNING", 10), event(4, "FAILED", 10), event(9, "PENDING", 0)]
    assert [s.status for s in status_segments(events, now=T0)] == ["PENDING", "FAILED", "RUNNING"]


def test_time_in_status_adds_up_repeated_statuses() -> None:
    events = [
        event(1, "RUNNING", 0),
        event(2, "FAILED", 5),
        event(3, "RUNNING", 6),
        event(4, "COMPLETED", 16),
    ]
    totals = time_in_status(status_segments(events, now=T0))
    assert totals == {
        "RUNNING": dt.timedelta(minutes=15),
        "FAILED": dt.timedelta(minutes=1),
        "COMPLETED": dt.timedelta(0),
    }


def test_total_duration_stops_at_the_last_update_once_finished() -> None:
    job = {"status": "FAILED", "created_at": T0, "updated_at": T0 + dt.timedelta(minutes=7)}
    assert total_duration(job, now=T0 + dt.timedelta(days=1)) == (dt.timedelta(minutes=7), False)
    job["status"] = "RUNNING"
    assert total_duration(job, now=T0 + dt.timedelta(hours=1)) == (dt.timedelta(hours=1), True)
