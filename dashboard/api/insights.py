"""Insight endpoints: transitions, disallowed transitions, time in state, stuck jobs, families, and one
job's time in each state beside its family's. Thin calls into ``db/insights.py``; the status mix as of
an hour is ``GET /api/stats/?as_of=`` (dashboard/api/stats.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, url_for

from dashboard.api.inputs import query_params
from dashboard.api.insight_schemas import (
    DisallowedList,
    DisallowedParams,
    Families,
    JobTimeInState,
    StuckList,
    StuckParams,
    TimeInState,
    TimeInStateParams,
    TransitionParams,
    Transitions,
)
from dashboard.api.openapi import CURSOR_RULE, TIMES_RULE, document
from dashboard.api.outputs import fields_of, json_bytes, json_response
from dashboard.cache import cache_params, cached_body
from dashboard.database import get_database
from dashboard.params import check_page_size
from dashboard.settings import get_settings
from db import families, insights, validation

bp = Blueprint("insights", __name__)
DEFAULT_SPAN = dt.timedelta(days=30)


def _end_of(now: dt.datetime, unit: dt.timedelta) -> dt.datetime:
    """The end of the hour (or UTC day) holding ``now``."""
    start = now.replace(minute=0, second=0, microsecond=0)
    if unit == dt.timedelta(days=1):
        start = start.replace(hour=0)
    return start + unit


def _window(since: dt.datetime | None, until: dt.datetime | None, unit: dt.timedelta) -> tuple[Any, Any]:
    """The requested range, defaulting to the 30 days up to the end of the current hour or day."""
    end = until or _end_of(dt.datetime.now(dt.UTC), unit)
    # Checked before any arithmetic: a year-1 `until` must be a 400, not an overflow computing `since`.
    end = validation.timestamp(end, "until")
    return since or end - DEFAULT_SPAN, end


def _cached(view: str, key: dict[str, object], compute: Callable[[], bytes]) -> Response:
    return json_response(cached_body(view, cache_params(key), compute))


@bp.get("/insights/transitions/")
@document(
    summary="Status transitions (from -> to) per family over a range",
    tag="insights",
    query=TransitionParams,
    responses={200: Transitions},
    rules=("since is not earlier than until", "the range spans more than 400 days", TIMES_RULE),
)
def transitions() -> Response:
    """Counts of transitions by the time of the later event, over whole UTC hours."""
    params = query_params(TransitionParams)
    since, until = _window(params.since, params.until, dt.timedelta(hours=1))

    def compute() -> bytes:
        with get_database().read() as conn:
            counts = insights.transition_counts(conn, since=since, until=until, family=params.family)
        return json_bytes(Transitions, fields_of(counts))

    key = {"since": since.isoformat(), "until": until.isoformat(), "family": params.family or ""}
    return _cached("transitions", key, compute)


@bp.get("/insights/transitions/disallowed/")
@document(
    summary="Transitions the lifecycle does not allow, newest first",
    tag="insights",
    query=DisallowedParams,
    responses={200: DisallowedList},
    rules=(CURSOR_RULE, "since is not earlier than until", TIMES_RULE),
)
def disallowed() -> Response:
    """One keyset page of flagged transitions in a range (default the last 30 days)."""
    settings = get_settings()
    params = query_params(DisallowedParams)
    since, until = _window(params.since, params.until, dt.timedelta(hours=1))
    page_size = check_page_size(
        params.page_size, default=settings.default_page_size, maximum=settings.max_page_size
    )
    link: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat()}
    if params.family:
        link["family"] = params.family
    if page_size != settings.default_page_size:
        link["page_size"] = page_size

    def compute() -> bytes:
        with get_database().read() as conn:
            page = insights.disallowed_transitions(
                conn,
                since=since,
                until=until,
                family=params.family,
                page_size=page_size,
                max_page_size=settings.max_page_size,
                cursor=params.cursor,
            )
        results = [{**row, "event_id": row["id"]} for row in page.results]
        return json_bytes(
            DisallowedList,
            {
                "since": since,
                "until": until,
                "results": results,
                "next": _link(".disallowed", page.next_cursor, link),
                "previous": _link(".disallowed", page.previous_cursor, link),
            },
        )

    return _cached("disallowed", {**link, "cursor": params.cursor or ""}, compute)


def _link(endpoint: str, cursor: str | None, params: dict[str, Any]) -> str | None:
    return None if cursor is None else url_for(endpoint, **params, cursor=cursor)


@bp.get("/insights/time-in-state/")
@document(
    summary="p50 / p95 / p99 of the time spent in each status, per family, over a range",
    tag="insights",
    query=TimeInStateParams,
    responses={200: TimeInState},
    rules=("since is not earlier than until", "the range spans more than 400 days", TIMES_RULE),
)
def time_in_state() -> Response:
    """Percentiles of the stays that ended in whole UTC days (default the last 30)."""
    params = query_params(TimeInStateParams, multi=("status",))
    since, until = _window(params.since, params.until, dt.timedelta(days=1))

    def compute() -> bytes:
        with get_database().read() as conn:
            times = insights.time_in_state(
                conn, since=since, until=until, family=params.family, statuses=params.status
            )
        return json_bytes(TimeInState, fields_of(times))

    key = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "family": params.family or "",
        "status": params.status,
    }
    return _cached("time-in-state", key, compute)


@bp.get("/insights/stuck/")
@document(
    summary="Jobs in PENDING or RUNNING for longer than their family's p99 time in that status",
    tag="insights",
    query=StuckParams,
    responses={200: StuckList},
    rules=(CURSOR_RULE, "a status other than PENDING or RUNNING is asked for"),
)
def stuck() -> Response:
    """One keyset page of stuck jobs, most overdue first, with each job's threshold and overrun."""
    settings = get_settings()
    params = query_params(StuckParams, multi=("status",))
    page_size = check_page_size(
        params.page_size, default=settings.default_page_size, maximum=settings.max_page_size
    )
    link: dict[str, Any] = {}
    if params.family:
        link["family"] = params.family
    if params.status:
        link["status"] = ",".join(params.status)
    if page_size != settings.default_page_size:
        link["page_size"] = page_size

    def compute() -> bytes:
        with get_database().read() as conn:
            page = insights.stuck_jobs(
                conn,
                page_size=page_size,
                max_page_size=settings.max_page_size,
                cursor=params.cursor,
                family=params.family,
                statuses=params.status,
            )
        results = [
            {
                **row,
                "threshold_s": row["threshold"].total_seconds(),
                "overrun_s": row["overrun"].total_seconds(),
                "stuck_since": row["deadline"],
            }
            for row in page.results
        ]
        thresholds = [
            {
                "family": t.family,
                "status": t.status,
                "threshold_s": t.threshold.total_seconds(),
                "p99_s": None if t.p99 is None else t.p99.total_seconds(),
                "stays": t.stays,
            }
            for t in page.thresholds
        ]
        return json_bytes(
            StuckList,
            {
                "as_of": page.now,
                "results": results,
                "next": _link(".stuck", page.next_cursor, link),
                "previous": _link(".stuck", page.previous_cursor, link),
                "thresholds": thresholds,
            },
        )

    # Stuck depends on the clock, not only on writes: cached answers expire with the TTL alone.
    return _cached("stuck", {**link, "cursor": params.cursor or ""}, compute)


@bp.get("/insights/families/")
@document(summary="Job families and their jobs per status", tag="insights", responses={200: Families})
def family_list() -> Response:
    """Every family that has jobs, with exact counts per current status, and the cap."""
    cap = get_settings().max_families

    def compute() -> bytes:
        with get_database().read() as conn:
            counts = insights.family_counts(conn)
            admitted = len(insights.admitted_families(conn))
        results = [
            {
                "name": name,
                "by_status": by_status,
                "total": sum(by_status.values()),
                "overflow": name == families.OTHER,
            }
            for name, by_status in sorted(counts.items())
        ]
        return json_bytes(Families, {"cap": cap, "admitted": admitted, "results": results})

    return _cached("families", {}, compute)


@bp.get("/jobs/<int:job_id>/time-in-state/")
@document(
    summary="A job's time in each status beside its family's p50 and p95",
    tag="insights",
    responses={200: JobTimeInState},
)
def job_time_in_state(job_id: int) -> Response:
    """The job's stays, and per status its family's p50 / p95 over the recent weeks; 404 if no job."""
    with get_database().read() as conn:
        detail = insights.job_time_in_state(conn, job_id=job_id)
    return json_response(json_bytes(JobTimeInState, detail))
