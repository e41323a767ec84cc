"""Aggregate endpoints: status totals and jobs created over time."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Blueprint, Response

from dashboard.api.inputs import query_params
from dashboard.api.openapi import TIMES_RULE, document
from dashboard.api.outputs import json_bytes, json_response
from dashboard.api.schemas import Stats, Timeseries, TimeseriesParams
from dashboard.cache import cache_params, cached_body
from dashboard.database import get_database
from db import queries, validation

bp = Blueprint("stats", __name__)
DEFAULT_SPAN = {"hour": dt.timedelta(hours=48), "day": dt.timedelta(days=30)}


def _end_of_current_bucket(now: dt.datetime, bucket: str) -> dt.datetime:
    """Where the bucket holding ``now`` ends, so a default range has no partial bucket at its end."""
    start = now.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    return start + queries.BUCKETS[bucket]


@bp.get("/stats/")
@document(summary="Jobs per current status", tag="stats", responses={200: Stats})
def stats() -> Response:
    """Totals per status, exact at any size (summed from the count tables)."""

    def compute() -> bytes:
        with get_database().read() as conn:
            totals = queries.status_totals(conn)
        return json_bytes(Stats, dataclasses.asdict(totals))

    return json_response(cached_body("stats", (), compute))


@bp.get("/stats/timeseries/")
@document(
    summary="Jobs created per hour or day and current status",
    tag="stats",
    query=TimeseriesParams,
    responses={200: Timeseries},
    rules=(
        f"the range holds more than {queries.MAX_BUCKETS} buckets",
        "since is not earlier than until",
        TIMES_RULE,
    ),
)
def timeseries() -> Response:
    """Counts per (bucket, status) over at most 1,000 buckets, exact, summed from the count tables."""
    params = query_params(TimeseriesParams, multi=("status",))
    until = params.until or _end_of_current_bucket(dt.datetime.now(dt.UTC), params.bucket)
    # Checked before any arithmetic: a year-1 `until` must be a 400, not an overflow computing `since`.
    until = validation.timestamp(until, "until")
    since = params.since or until - DEFAULT_SPAN[params.bucket]

    def compute() -> bytes:
        with get_database().read() as conn:
            results = queries.created_timeseries(
                conn, bucket=params.bucket, since=since, until=until, statuses=params.status
            )
        return json_bytes(
            Timeseries,
            {
                "bucket": params.bucket,
                "since": since.astimezone(dt.UTC),
                "until": until.astimezone(dt.UTC),
                "results": results,
            },
        )

    key = {
        "bucket": params.bucket,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "status": params.status,
    }
    return json_response(cached_body("timeseries", cache_params(key), compute))
