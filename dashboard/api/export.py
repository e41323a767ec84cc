"""``GET /api/jobs/export.csv``: every job of a list view as CSV, streamed (the rows: ``db/export.py``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
from collections.abc import Generator

from flask import Blueprint, Response, g, request

from dashboard.api.openapi import TIMES_RULE, document
from dashboard.database import get_database
from dashboard.params import JobView, JobViewParams, parse_job_view
from dashboard.settings import get_settings
from db.engine import Database
from db.export import stream_csv

log = logging.getLogger(__name__)
bp = Blueprint("export", __name__)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def _csv_body(database: Database, view: JobView, *, timeout_ms: int, request_id: str) -> Generator[bytes]:
    """The export's chunks, on a connection of its own held until the last one is sent or the client
    goes: closing this generator early stops the query (db/export.py) and returns the connection."""
    with (
        database.stream() as conn,
        contextlib.closing(
            stream_csv(conn, filters=view.filters, ordering=view.ordering, statement_timeout_ms=timeout_ms)
        ) as chunks,
    ):
        yield next(chunks)  # an error before this is the view's to answer (a problem, not a stream)
        try:
            yield from chunks
        except Exception as exc:
            # Part of the CSV is out: the answer can only be cut short (the client sees no final chunk).
            log.error(
                "CSV export ended early", extra={"error": str(exc).splitlines()[0], "request_id": request_id}
            )
            raise


@bp.get("/jobs/export.csv")
@document(
    summary="Every job of a list view as CSV (the list's filters and ordering; no pages), streamed",
    tag="jobs",
    query=JobViewParams,
    responses={200: None},
    media={200: "text/csv"},
    headers={200: {"Content-Disposition": 'attachment; filename="jobs-<UTC time>.csv"'}},
    rules=(
        "page_size or cursor is given (the export holds every page)",
        "created_before is not later than created_after",
        TIMES_RULE,
    ),
)
def export_jobs() -> Response:
    """The CSV of the list's view: a header row, then its jobs in the list's order."""
    view = parse_job_view(request.args.to_dict(flat=False))
    body = _csv_body(
        get_database(),
        view,
        timeout_ms=get_settings().export_statement_timeout_ms,
        request_id=g.get("request_id", ""),
    )
    first = next(body)  # runs the query: a database error is answered as a problem before any byte
    response = Response(itertools.chain((first,), body), content_type=CSV_MEDIA_TYPE)
    response.call_on_close(body.close)  # the server closes the answer, at its end or when the client goes
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    response.headers["Content-Disposition"] = f'attachment; filename="jobs-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer it either
    return response
