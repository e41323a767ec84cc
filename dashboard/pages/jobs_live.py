"""``/jobs`` kept live: each auto-refresh tick reads the page shown again, and the browser applies it only
when no row moves under the reader (see dashboard/live.py); otherwise a banner says what changed.

The server answers the ``jobs-live`` store: the fresh table data, whether to apply it, the ids added at
the top, and the banner's text; the browser applies it (:func:`dashboard.live.apply_live_callbacks`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, ctx
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from dashboard.components import describe_count
from dashboard.database import get_database
from dashboard.list_state import args_from_search, parse_view
from dashboard.live import (
    apply_live_callbacks,
    changed_text,
    new_rows_text,
    newer_jobs,
    parse_as_of,
    plan_refresh,
)
from dashboard.pages import PageCallbacks
from dashboard.pages.jobs import read_table, same_query, table_data
from dashboard.settings import get_settings
from db.errors import ValidationError
from db.queries import DEFAULT_ORDERING

log = logging.getLogger(__name__)
callbacks = PageCallbacks()


def refresh_jobs(search: object, shown: Mapping[str, Any], *, forced: bool) -> dict[str, Any]:
    """Read the page ``shown`` again; what the browser should do with it (the ``jobs-live`` store).

    ``forced`` (the banner's Refresh) applies it whatever moved, from a new baseline.
    """
    settings = get_settings()
    query = parse_view(
        args_from_search(search),
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
    )
    read_at = dt.datetime.now(dt.UTC)
    page, count, searched = read_table(query, max_page_size=settings.max_page_size)
    data = table_data(page)
    listed = shown.get("rows")
    shown_rows = [row for row in listed if isinstance(row, dict)] if isinstance(listed, list) else []
    # New jobs belong at the top of the first page, newest first; elsewhere they are on other pages.
    grows_at_top = query.cursor is None and query.ordering == DEFAULT_ORDERING
    plan = plan_refresh(shown_rows, data["rows"], grows_at_top=grows_at_top, forced=forced)
    # The baseline moves when the reader sees everything newer: after Refresh, or on the first page of a
    # newest-first list that was refreshed.
    since = parse_as_of(shown.get("as_of"))
    moves = forced or (grows_at_top and plan.apply)
    baseline = since if since is not None and not moves else read_at
    banner = None
    if not forced and since is not None and not (plan.apply and grows_at_top):
        with get_database().read() as conn:
            newer = newer_jobs(conn, query.filters, since=since)
        if not plan.apply or newer.value:
            banner = changed_text(newer)
    return {
        "search": shown.get("search"),
        "from": shown.get("as_of"),
        "apply": plan.apply,
        "data": {
            **data,
            "search": shown.get("search"),
            "as_of": baseline.isoformat(),
            "fresh": list(plan.new),
        },
        "count": describe_count(count) + searched,
        "banner": banner,
        "as_of": baseline.isoformat(),
        "announce": new_rows_text(len(plan.new)) if plan.apply else "",
    }


@callbacks.callback(
    Output("jobs-live", "data"),
    Input("shell-tick", "data"),
    Input("jobs-live-refresh", "n_clicks"),
    State("jobs-url", "search"),
    State("jobs-url", "pathname"),
    State("jobs-data", "data"),
    prevent_initial_call=True,
)
def on_jobs_tick(_tick: object, _clicks: object, search: object, pathname: object, shown: object) -> Any:
    """An auto-refresh tick, or the banner's Refresh: read the page shown again."""
    if not isinstance(pathname, str) or pathname.rstrip("/") != "/jobs" or not isinstance(shown, dict):
        raise PreventUpdate
    if not same_query(search, shown):
        raise PreventUpdate  # another view of the list is on its way: it is fresh already
    try:
        return refresh_jobs(search, shown, forced=ctx.triggered_id == "jobs-live-refresh")
    except ValidationError:
        raise PreventUpdate from None  # the view no longer reads (a stale cursor): its rows stay
    except SQLAlchemyError:
        log.warning("jobs refresh failed; the rows shown stay", exc_info=True)
        raise PreventUpdate from None


apply_live_callbacks(
    callbacks, "jobs", data="jobs-data", caption="jobs-count", previous="jobs-prev", following="jobs-next"
)
