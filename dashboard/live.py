"""Live pages: the auto-refresh choice in the navbar, its ticks, and refreshes that never move rows.

The navbar's one control picks how often every page refreshes (off by default, remembered by the
browser). The ticks are made in the browser (``assets/jobdash.js``): none while the tab is hidden, one
as soon as it is shown again. Each tick sets the shell's ``shell-tick`` store, which the pages' refresh
callbacks listen to.

A refresh of a list is applied only when it moves no row under the reader (:func:`plan_refresh`): a row
may change in place (its status, its update time), and on the first page of a newest-first list new
rows may be added at the top, marked as new. Anything else (a row leaving or entering in the middle,
another order) is held back: the rows stay as they are and a banner says the list has changed, with how
many newer jobs there are (:func:`newer_jobs`, counted like the list's own count: from the count tables,
bounded at any size) and a button that refreshes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from sqlalchemy import Connection

from dashboard.components import describe_count, html_attributes
from dashboard.pages import PageCallbacks
from db.queries import Count, JobFilter, count_jobs

# The refresh intervals offered, in seconds (0: off, the default).
INTERVALS = (0, 5, 15, 60)
INTERVAL_STORAGE_KEY = "jobdash-refresh"


@dataclasses.dataclass(frozen=True)
class Refresh:
    """What to do with a fresh read of a list: apply it (``new`` are the ids added at the top), or hold
    it back (the rows that are shown stay)."""

    apply: bool
    new: tuple[Any, ...] = ()


def plan_refresh(
    shown: Sequence[Mapping[str, Any]],
    fresh: Sequence[Mapping[str, Any]],
    *,
    grows_at_top: bool,
    forced: bool = False,
) -> Refresh:
    """Whether the fresh rows can replace the ``shown`` ones without moving any row.

    The same rows in the same order can (their cells may have changed). With ``grows_at_top`` (the first
    page of a newest-first list) rows that were not shown may come first, pushing the last ones off the
    page: the rows that stay keep their order under them. ``forced`` (the reader asked for the refresh)
    applies it whatever moved, the rows that were not shown marked new.
    """
    shown_ids = [row.get("id") for row in shown]
    fresh_ids = [row.get("id") for row in fresh]
    if forced:
        known = set(shown_ids)
        return Refresh(apply=True, new=tuple(row_id for row_id in fresh_ids if row_id not in known))
    if fresh_ids == shown_ids:
        return Refresh(apply=True)
    if not grows_at_top:
        return Refresh(apply=False)
    known = set(shown_ids)
    added = 0
    while added < len(fresh_ids) and fresh_ids[added] not in known:
        added += 1
    rest = fresh_ids[added:]
    if added and rest == shown_ids[: len(rest)]:
        return Refresh(apply=True, new=tuple(fresh_ids[:added]))
    return Refresh(apply=False)


def parse_as_of(value: object) -> dt.datetime | None:
    """The time a table was read at, as its data store keeps it (ISO 8601), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def newer_jobs(conn: Connection, filters: JobFilter, *, since: dt.datetime) -> Count:
    """How many jobs matching ``filters`` were created at or after ``since``: the list's own count with
    the created range narrowed (exact from the count tables; a name search within its budget)."""
    if filters.created_before is not None and filters.created_before <= since:
        return Count(0, "exact")
    after = since if filters.created_after is None else max(since, filters.created_after)
    return count_jobs(conn, filters=dataclasses.replace(filters, created_after=after))


def changed_text(newer: Count | None, *, noun: str = "job") -> str:
    """What the banner says: the list changed, and how many newer rows there are where that is known."""
    if newer is None or newer.value == 0:
        return "This list has changed since it was shown."
    text = describe_count(newer, f"newer {noun}")
    return f"{text[0].upper()}{text[1:]} since this list was shown."


def new_rows_text(count: int, *, noun: str = "job") -> str:
    """What a screen reader hears when rows were added at the top."""
    if not count:
        return ""
    return f"{count} new {noun}{'s' if count != 1 else ''} at the top"


def changed_banner(prefix: str) -> html.Div:
    """The banner of a list (hidden until the list has changed under a held-back refresh): what changed,
    and a button that refreshes the list. It floats over the page, so it never moves the rows."""
    return html.Div(
        [
            html.I(className="bi bi-arrow-up-circle me-2", **html_attributes(aria_hidden="true")),
            html.Span(id=f"{prefix}-live-text"),
            dbc.Button(
                [html.I(className="bi bi-arrow-clockwise me-1"), "Refresh"],
                id=f"{prefix}-live-refresh",
                size="sm",
                color="primary",
                className="ms-3",
                n_clicks=0,
            ),
        ],
        id=f"{prefix}-live-banner",
        className="live-banner shadow",
        hidden=True,
        role="status",
    )


def announcer(prefix: str) -> html.Div:
    """A polite live region saying what a refresh added (read out, not shown)."""
    return html.Div(
        id=f"{prefix}-live-announce", className="visually-hidden", **html_attributes(aria_live="polite")
    )


def live_parts(prefix: str, baseline: dict[str, Any] | None = None) -> list[Any]:
    """What a live list adds to its page: the store its refreshes arrive in (holding ``baseline`` until
    the first one), its banner, its announcer."""
    return [dcc.Store(id=f"{prefix}-live", data=baseline), changed_banner(prefix), announcer(prefix)]


def interval_control() -> html.Div:
    """The navbar's auto-refresh choice, labelled: off or every few seconds, for every page."""
    options = [
        {"label": "Off" if seconds == 0 else f"{seconds} s", "value": str(seconds)} for seconds in INTERVALS
    ]
    return html.Div(
        [
            dbc.Label(
                [html.I(className="bi bi-arrow-repeat me-1"), "Auto-refresh"],
                html_for="shell-refresh-interval",
                className="mb-0 small text-nowrap shell-control-label",
            ),
            dbc.Select(
                id="shell-refresh-interval",
                options=options,
                value="0",
                size="sm",
                className="shell-refresh-select",
            ),
        ],
        className="d-flex align-items-center gap-2",
    )


def apply_live_callbacks(
    callbacks: PageCallbacks, prefix: str, *, data: str, caption: str, previous: str, following: str
) -> None:
    """The two browser callbacks of a live list (``assets/jobdash.js``): one applies what arrives in its
    ``<prefix>-live`` store to the table's ``data`` store, its ``caption`` and its paging buttons
    (``previous``, ``following``); one shows or hides its banner, so that a new view of the list (a filter,
    a page) drops a stale banner at once."""
    callbacks.clientside_callback(
        ClientsideFunction("jobdash", "applyLive"),
        Output(data, "data", allow_duplicate=True),
        Output(caption, "children", allow_duplicate=True),
        Output(f"{prefix}-live-announce", "children"),
        Output(previous, "disabled", allow_duplicate=True),
        Output(following, "disabled", allow_duplicate=True),
        Input(f"{prefix}-live", "data"),
        State(data, "data"),
        prevent_initial_call=True,
    )
    callbacks.clientside_callback(
        ClientsideFunction("jobdash", "liveBanner"),
        Output(f"{prefix}-live-banner", "hidden"),
        Output(f"{prefix}-live-text", "children"),
        Input(f"{prefix}-live", "data"),
        Input(data, "data"),
        prevent_initial_call=True,
    )
