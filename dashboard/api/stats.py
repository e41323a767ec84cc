"""Aggregate endpoints: status totals and jobs created over time."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response

from dashboard.api.inputs import query_params
from dashboard.api.insight_schemas import StatsParams
from dashboard.api.openapi import TIMES_RULE, document
from dashboard.api.outputs import fields_of, json_bytes, json_response
from dashboard.api.schemas import Stats, Timeseries, TimeseriesParams
from dashboard.cache import cache_params, cached_body
from dashboard.database import get_database
from db import insights, queries, validation

bp = Blueprint("stats", __name__)
DEFAULT_SPAN = {"hour": dt.timedelta(hours=48), "day": dt.timedelta(days=30)}


@bp.get("/stats/")
@document(
    summary="Jobs per current status, or per status at a past hour",
    tag="stats",
    query=StatsParams,
    responses={200: Stats},
    rules=(TIMES_RULE,),
)
def stats() -> Response:
    """Totals per status, exact at any size (summed from the count tables); with ``as_of``, the status
    mix at the start of that UTC hour (summed from the status mix changes of the hours, days and months
    since)."""
    params = query_params(StatsParams)
    as_of = params.as_of

    def compute() -> bytes:
        with get_database().read() as conn:
            totals = queries.status_totals(conn) if as_of is None else insights.status_mix_as_of(conn, as_of)
        return json_bytes(Stats, fields_of(totals))

    return json_response(cached_body("stats", cache_params({"as_of": as_of or ""}), compute))


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
    until = params.until or queries.bucket_end(dt.datetime.now(dt.UTC), params.bucket)
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
