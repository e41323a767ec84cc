"""``/jobs/<id>`` kept live: each auto-refresh tick reads the job again (its header and timeline are drawn
anew) and, when its newest events are shown, the newest page of its history, new events added at the top
and marked new. On an older page of the history the rows stay, and a banner says how many newer events
there are, with a button that shows the newest (see dashboard/live.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, ctx
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from dashboard.database import get_database
from dashboard.figures import figure_store, status_timeline_figure
from dashboard.live import apply_live_callbacks, changed_text, new_rows_text, plan_refresh
from dashboard.local_time import viewer_zone
from dashboard.pages import PageCallbacks
from dashboard.pages.job import (
    build_job_header,
    build_timeline_note,
    history_page,
    parse_job_id,
    read_job,
)
from dashboard.timeline import status_segments
from db.errors import NotFound, ValidationError
from db.queries import Count

log = logging.getLogger(__name__)
callbacks = PageCallbacks()


def refresh_history(shown: Mapping[str, Any], events: int, baseline: int, *, forced: bool) -> dict[str, Any]:
    """The ``job-history-live`` store after a tick: the newest page of history to apply (on the newest
    page, or after the banner's button), or the banner saying how many events are newer."""
    if shown.get("previous") is not None and not forced:
        newer = events - baseline
        banner = changed_text(Count(newer, "exact"), noun="event") if newer > 0 else None
        return {"apply": False, "banner": banner, "events": baseline}
    outputs = history_page(None, {"job_id": shown.get("job_id")})
    data = outputs["data"]
    shown_rows = [row for row in shown.get("rows") or [] if isinstance(row, dict)]
    plan = plan_refresh(shown_rows, data["rows"], grows_at_top=True, forced=forced)
    return {
        "apply": plan.apply,
        "data": {**data, "fresh": list(plan.new)},
        "count": outputs["caption"],
        "announce": new_rows_text(len(plan.new), noun="event"),
        "banner": None if plan.apply else changed_text(None, noun="event"),
        "events": events if plan.apply else baseline,
    }


@callbacks.callback(
    Output("job-header", "children"),
    Output(figure_store("job-timeline"), "data"),
    Output("job-timeline-note", "children"),
    Output("job-history-live", "data"),
    Input("shell-tick", "data"),
    Input("job-history-live-refresh", "n_clicks"),
    State("job-history-data", "data"),
    State("job-history-live", "data"),
    prevent_initial_call=True,
)
def on_job_tick(_tick: object, _clicks: object, shown: object, live: object) -> tuple[Any, ...]:
    """An auto-refresh tick, or the banner's button: read the job and its newest events again."""
    if not isinstance(shown, dict) or (number := parse_job_id(str(shown.get("job_id")))) is None:
        raise PreventUpdate
    baseline = live.get("events") if isinstance(live, dict) else None
    try:
        with get_database().read() as conn:
            job, newest = read_job(conn, number)
        events = int(job["history_count"])
        history = refresh_history(
            shown,
            events,
            baseline if isinstance(baseline, int) else events,
            forced=ctx.triggered_id == "job-history-live-refresh",
        )
    except (NotFound, ValidationError):
        raise PreventUpdate from None  # the job is gone: the page shown stays
    except SQLAlchemyError:
        log.warning("job refresh failed; the page shown stays", exc_info=True)
        raise PreventUpdate from None
    now = dt.datetime.now(dt.UTC)
    zone = viewer_zone()
    segments = status_segments(newest.results, now=now)
    return (
        build_job_header(job, now=now, zone=zone),
        status_timeline_figure(segments, zone),
        build_timeline_note(shown=len(newest.results), total=events),
        history,
    )


apply_live_callbacks(
    callbacks,
    "job-history",
    data="job-history-data",
    caption="job-history-caption",
    previous="job-history-newer",
    following="job-history-older",
)
