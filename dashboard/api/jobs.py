"""Job endpoints: list, detail, history, create, append a status, delete. Thin calls into ``db/``."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, url_for
from sqlalchemy import Connection

from dashboard.api.auth import requires_write_token
from dashboard.api.inputs import json_body, query_params
from dashboard.api.openapi import CURSOR_RULE, TIMES_RULE, TIMESTAMP_RULE, document
from dashboard.api.outputs import json_bytes, json_response, respond
from dashboard.api.schemas import CreatedEvent, History, JobCreate, JobDetail, JobList, StatusCreate
from dashboard.cache import cache_params, cached_body, get_cache
from dashboard.database import get_database
from dashboard.params import (
    HistoryParams,
    JobListParams,
    check_page_size,
    list_query_string,
    parse_job_list_query,
)
from dashboard.settings import get_settings
from db import queries, search, writes

bp = Blueprint("jobs", __name__)


@contextlib.contextmanager
def _write() -> Iterator[Connection]:
    """A write transaction; once it has committed, every cached list and stats answer is stale."""
    with get_database().write() as conn:
        yield conn
    get_cache().bump_generation()


def _page_url(
    endpoint: str, cursor: str | None, params: dict[str, str | list[str]], **path: int
) -> str | None:
    """The root-relative URL of a neighbouring page: the same query, plus its cursor."""
    if cursor is None:
        return None
    values: dict[str, Any] = {**path, **params, "cursor": cursor}
    return url_for(endpoint, **values)


def _search_progress(page: queries.Page) -> dict[str, Any]:
    """``partial`` and ``searched`` of a name-search page that ran out of budget (db/search.py)."""
    if not isinstance(page, search.SearchPage) or not page.partial or page.through is None:
        return {"partial": False, "searched": None}
    return {"partial": True, "searched": {"scanned": page.scanned, **page.through}}


@bp.get("/jobs/")
@document(
    summary="List jobs, filtered, ordered and keyset-paginated",
    tag="jobs",
    query=JobListParams,
    responses={200: JobList},
    rules=(
        CURSOR_RULE,
        "created_before is not later than created_after",
        "updated_before is not later than updated_after",
        "max_duration is less than min_duration",
        TIMES_RULE,
    ),
)
def list_jobs() -> Response:
    """One page of jobs, with links to its neighbours and an honest count."""
    settings = get_settings()
    query = parse_job_list_query(
        request.args.to_dict(flat=False),
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
    )
    # Links repeat the normalised query (same filters, ordering, page size) with the new cursor.
    params = list_query_string(
        dataclasses.replace(query, cursor=None), default_page_size=settings.default_page_size
    )

    def compute() -> bytes:
        with get_database().read() as conn:
            page, count = queries.list_and_count_jobs(
                conn,
                filters=query.filters,
                ordering=query.ordering,
                page_size=query.page_size,
                max_page_size=settings.max_page_size,
                cursor=query.cursor,
            )
        return json_bytes(
            JobList,
            {
                "results": page.results,
                "next": _page_url(".list_jobs", page.next_cursor, params),
                "previous": _page_url(".list_jobs", page.previous_cursor, params),
                "count": count.value,
                "count_exact": count.exact,
                **_search_progress(page),
            },
        )

    # The key is the normalised query, so equal requests spelled differently share one entry.
    return json_response(cached_body("jobs", cache_params({**params, "cursor": query.cursor or ""}), compute))


@bp.get("/jobs/<int:job_id>/")
@document(summary="One job", tag="jobs", responses={200: JobDetail})
def get_job(job_id: int) -> Response:
    """A job with the size of its history; 404 when it does not exist."""
    with get_database().read() as conn:
        job = queries.get_job(conn, job_id=job_id)
    return respond(JobDetail, job)


@bp.get("/jobs/<int:job_id>/history/")
@document(
    summary="A job's status events, newest first",
    tag="jobs",
    query=HistoryParams,
    responses={200: History},
    rules=(CURSOR_RULE,),
)
def job_history(job_id: int) -> Response:
    """One page of a job's events, newest first."""
    settings = get_settings()
    params = query_params(HistoryParams)
    page_size = check_page_size(
        params.page_size, default=settings.default_page_size, maximum=settings.max_page_size
    )
    with get_database().read() as conn:
        page = queries.job_history(
            conn,
            job_id=job_id,
            page_size=page_size,
            max_page_size=settings.max_page_size,
            cursor=params.cursor,
        )
    link_params: dict[str, str | list[str]] = {}
    if page_size != settings.default_page_size:
        link_params["page_size"] = str(page_size)
    return respond(
        History,
        {
            "results": page.results,
            "next": _page_url(".job_history", page.next_cursor, link_params, job_id=job_id),
            "previous": _page_url(".job_history", page.previous_cursor, link_params, job_id=job_id),
        },
    )


@bp.post("/jobs/")
@requires_write_token
@document(
    summary="Create a job (and its first event)",
    tag="jobs",
    body=JobCreate,
    responses={201: JobDetail},
    headers={201: {"Location": "Root-relative URL of the new job."}},
    rules=(TIMESTAMP_RULE, "the name is blank once trimmed"),
)
def create_job() -> Response:
    """Create a job; 201 with the job and its ``Location``."""
    body = json_body(JobCreate)
    with _write() as conn:
        created = writes.create_job(
            conn,
            name=body.name,
            status=body.status,
            timestamp=body.timestamp,
            family_rules=get_settings().family_rules,
        )
        job = queries.get_job(conn, job_id=created["id"])
    return respond(JobDetail, job, status=201, headers={"Location": url_for(".get_job", job_id=job["id"])})


@bp.post("/jobs/<int:job_id>/status/")
@requires_write_token
@document(
    summary="Append a status event",
    tag="jobs",
    body=StatusCreate,
    responses={201: CreatedEvent},
    rules=(TIMESTAMP_RULE,),
)
def append_status(job_id: int) -> Response:
    """Append an event; it becomes the current status only if it is the newest."""
    body = json_body(StatusCreate)
    with _write() as conn:
        event = writes.append_status(
            conn, job_id=job_id, status=body.status, timestamp=body.timestamp, message=body.message
        )
    return respond(CreatedEvent, event, status=201)


@bp.delete("/jobs/<int:job_id>/")
@requires_write_token
@document(summary="Delete a job and its history", tag="jobs", responses={204: None})
def delete_job(job_id: int) -> Response:
    """Delete a job; 204, or 404 when it does not exist."""
    with _write() as conn:
        writes.delete_job(conn, job_id=job_id)
    return Response(status=204)
