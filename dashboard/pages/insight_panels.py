"""The insight panels of the overview and the job page, built from the history aggregates (db/insights.py).

- the overview's "as of" control: the all-time totals and the status mix of every job at a past hour;
- the transitions heatmap (from -> to over the overview's range, one family or all), the transitions the
  lifecycle does not allow flagged in it and listed beside it, each linking to its job;
- the "Stuck" panel: the jobs longest past their family's threshold (p99) in PENDING or RUNNING;
- on the job page, each of the job's stays beside its family's p50 and p95.

Every read costs rows per period or per family, never per job. Not a page itself: ``overview.py`` calls
:func:`register_overview` with its ``PageCallbacks``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from dashboard.components import (
    empty_state,
    error_state,
    format_duration,
    format_timestamp,
    html_attributes,
    status_badge,
    status_label,
)
from dashboard.database import get_database
from dashboard.figures import (
    HEATMAP_HEIGHT,
    chart,
    chart_callback,
    empty_figure,
    figure_store,
    transitions_heatmap_figure,
)
from dashboard.list_state import zoned_timestamp
from dashboard.pages import PageCallbacks, database_error_state
from dashboard.settings import get_settings
from db import families, insights, lifecycle
from db.errors import ValidationError
from db.models import TERMINAL_STATUSES
from db.queries import Totals, status_totals

log = logging.getLogger(__name__)

MIX_TITLE = "Status mix, jobs created in the range"
ALL_FAMILIES = ""  # the family selector's value for every family
FLAGGED_SHOWN = 8
STUCK_SHOWN = 8
STUCK_LIST_HREF = "/jobs?stuck=true"


def hour_text(at: dt.datetime) -> str:
    """An hour as the panels show it: ``2026-01-31 03:00 UTC``."""
    return f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def cap_note(cap: int) -> str:
    """What happens to families beyond the configured number (said wherever families are listed)."""
    return (
        f"Up to {cap:,} families are tracked; jobs of any later family are counted under “{families.OTHER}”."
    )


# ------------------------------------------------------------------------------------------- as of


def parse_as_of(value: object, *, now: dt.datetime) -> dt.datetime | None:
    """The "as of" input (``datetime-local``, UTC) as an aware time; None (now) when empty. A time after
    ``now`` or before 1970 is a ValidationError naming ``as_of``."""
    text = zoned_timestamp(value, "as_of", dt.UTC)  # the as-of input is labelled UTC
    if not text:
        return None
    at = dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    if at > now:
        raise ValidationError.single("as_of", "must not be in the future")
    if at < dt.datetime(1970, 1, 1, tzinfo=dt.UTC):
        raise ValidationError.single("as_of", "must be after 1970")
    return at


def read_totals(conn: Any, as_of: dt.datetime | None) -> Totals:
    """Jobs per status now, or as of the start of the UTC hour holding ``as_of`` (exactly)."""
    return status_totals(conn) if as_of is None else insights.status_mix_as_of(conn, as_of)


def as_of_control() -> html.Div:
    """A labelled date-time input (UTC, whole hours) for the all-time figures, and a button back to now."""
    field = dbc.Input(
        id="overview-as-of-time",
        type="datetime-local",
        step=3600,
        value="",
        debounce=600,
        size="sm",
        className="as-of-input",
        persistence=True,
        persistence_type="session",
    )
    now_button = dbc.Button("Now", id="overview-as-of-now", color="secondary", outline=True, size="sm")
    return html.Div(
        [
            dbc.Label("All time as of (UTC)", html_for="overview-as-of-time", className="small mb-0 me-2"),
            dbc.InputGroup([field, now_button], size="sm", className="as-of-group"),
        ],
        className="d-flex align-items-center me-3",
        title="Move the all-time totals and the status mix back to a past hour (UTC); empty is now",
    )


def mix_title(as_of_input: object, *, now: dt.datetime | None = None) -> str:
    """The status mix's title: of the jobs created in the range, or of every job at the chosen hour (a
    time that is not valid keeps the usual title; the overview's callback says what is wrong)."""
    try:
        as_of = parse_as_of(as_of_input, now=now or dt.datetime.now(dt.UTC))
    except ValidationError:
        return MIX_TITLE
    if as_of is None:
        return MIX_TITLE
    return f"Status mix, all jobs as of {hour_text(as_of.replace(minute=0, second=0, microsecond=0))}"


def totals_caption(as_of: dt.datetime | None) -> str:
    """The words after an all-time total: "all time", or "all time, as of 2026-01-31 03:00 UTC"."""
    return "all time" if as_of is None else f"all time, as of {hour_text(as_of)}"


# ------------------------------------------------------------------------------------- transitions


def family_options(names: Iterable[str]) -> list[dict[str, str]]:
    """The family selector's choices: every family, then each admitted one, then "other"."""
    chosen = sorted(set(names) - {families.OTHER})
    options = [{"label": "All families", "value": ALL_FAMILIES}]
    options += [{"label": name, "value": name} for name in chosen]
    options.append({"label": f"{families.OTHER} (beyond the cap)", "value": families.OTHER})
    return options


def transitions_card() -> dbc.Card:
    """The heatmap (height reserved) with its family selector, and the flagged transitions beside it."""
    select = dbc.Select(
        id="overview-transitions-family",
        options=family_options([]),
        value=ALL_FAMILIES,
        placeholder="All families",  # dbc.Select's own option for "": the one shown for every family
        size="sm",
        className="family-select",
        persistence=True,
        persistence_type="session",
    )
    header = dbc.CardHeader(
        [
            html.Span("Transitions, from → to, in the range"),
            html.Div(
                [
                    dbc.Label("Family", html_for="overview-transitions-family", className="small mb-0 me-2"),
                    select,
                ],
                className="d-flex align-items-center",
            ),
        ],
        className="d-flex flex-wrap justify-content-between align-items-center gap-2",
    )
    graph = chart(
        "overview-transitions",
        empty_figure("Loading…", height=HEATMAP_HEIGHT),
        label="Transitions, from → to, in the range",
        height=HEATMAP_HEIGHT,
    )
    flagged = html.Div(
        html.Div("\u00a0", className="small text-body-secondary"),
        id="overview-disallowed",
        className="flagged-list",
        style={"height": f"{HEATMAP_HEIGHT}px", "overflowY": "auto"},
    )
    legend = html.Div(
        [
            html.Span(className="flag-swatch me-1"),
            "Outlined: a transition the lifecycle does not allow (docs/architecture.md). ",
            html.Span("\u00a0", id="overview-transitions-note"),
        ],
        className="small text-body-secondary mt-2",
    )
    body = dbc.CardBody(
        [
            dbc.Row([dbc.Col(graph, lg=7), dbc.Col(flagged, lg=5)], className="g-3"),
            legend,
        ]
    )
    return dbc.Card([header, body], className="shadow-sm mb-4", id="overview-transitions-card")


def summed_transitions(results: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """Transition counts per (from, to), summed over the families of ``results``."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in results:
        counts[(row["from_status"], row["to_status"])] += int(row["count"])
    return counts


def disallowed_api_href(since: dt.datetime, until: dt.datetime, family: str | None) -> str:
    """Every flagged transition of the range, as the API lists them."""
    query = {"since": since.isoformat(), "until": until.isoformat()}
    if family:
        query["family"] = family
    return "/api/insights/transitions/disallowed/?" + urlencode(query)


def build_flagged(
    rows: Sequence[Mapping[str, Any]], *, more: bool, href: str, counts: Mapping[tuple[str, str], int]
) -> html.Div:
    """The transitions the lifecycle does not allow: how many of each pair, then the newest, each
    linking to its job."""
    pairs = sorted(
        ((pair, n) for pair, n in counts.items() if n and not lifecycle.allowed(*pair)), key=lambda p: -p[1]
    )
    if not pairs:
        return html.Div(
            empty_state(
                "No disallowed transitions",
                "Every transition in this range follows the lifecycle.",
                icon="bi-check2-circle",
            ),
            className="flagged-empty",
        )
    summary = html.Ul(
        [
            html.Li(
                [
                    html.Span(f"{status_label(before)} → {status_label(after)}", className="fw-semibold"),
                    html.Span(f"{n:,}", className="badge text-bg-danger ms-2"),
                ],
                className="flagged-pair",
            )
            for (before, after), n in pairs
        ],
        className="list-unstyled mb-2",
    )
    items = [
        html.Li(
            [
                dcc.Link(
                    f"Job #{int(row['job_id'])}", href=f"/jobs/{int(row['job_id'])}", className="job-link"
                ),
                html.Span(
                    f" {status_label(row['from_status'])} → {status_label(row['to_status'])}",
                    className="small",
                ),
                html.Span(f" · {row['family']}", className="small text-body-secondary"),
                html.Div(f"{format_timestamp(row['at'])} UTC", className="small text-body-secondary"),
            ],
            className="flagged-item py-1",
        )
        for row in rows
    ]
    footer = html.A(
        "All of them (JSON)" if more else "As JSON",
        href=href,
        className="small",
        target="_blank",
        rel="noopener",
    )
    return html.Div(
        [
            html.Div("Not allowed by the lifecycle", className="fw-semibold small mb-1"),
            summary,
            html.Div("Newest", className="fw-semibold small mb-1"),
            html.Ul(items, className="list-unstyled mb-2"),
            footer,
        ]
    )


def update_transitions(
    range_key: object, family: object, _refresh: object, _tick: object = None
) -> tuple[Any, ...]:
    """The heatmap and the flagged list for the overview's range and the chosen family; the family
    selector's choices (read with them)."""
    from dashboard.pages.overview import time_window  # the overview's ranges (it imports this module)

    settings = get_settings()
    chosen = family if isinstance(family, str) and family else None
    now = dt.datetime.now(dt.UTC)
    try:
        since, until, _bucket = time_window(range_key, now=now)
        if chosen is not None:
            chosen = validate_family(chosen)
        with get_database().read() as conn:
            names = insights.admitted_families(conn)
            counts = insights.transition_counts(conn, since=since, until=until, family=chosen)
            flagged = insights.disallowed_transitions(
                conn,
                since=since,
                until=until,
                family=chosen,
                page_size=min(FLAGGED_SHOWN, settings.max_page_size),
                max_page_size=settings.max_page_size,
            )
    except ValidationError as exc:
        alert = error_state("These transitions are not available", errors=exc.errors)
        return empty_figure("No data", height=HEATMAP_HEIGHT), alert, family_options([]), ""
    except SQLAlchemyError:
        alert = database_error_state(log, "transitions")
        return empty_figure("No data", height=HEATMAP_HEIGHT), alert, family_options([]), ""
    summed = summed_transitions(counts.results)
    listing = build_flagged(
        flagged.results,
        more=flagged.next_cursor is not None,
        href=disallowed_api_href(since, until, chosen),
        counts=summed,
    )
    note = f"{hour_text(counts.since)} to {hour_text(counts.until)}. {cap_note(settings.max_families)}"
    return transitions_heatmap_figure(summed, lifecycle.allowed), listing, family_options(names), note


def validate_family(value: str) -> str:
    """A family as the selector sends it (checked like the list's family filter)."""
    from db import validation

    checked = validation.family(value)
    return checked if checked is not None else ALL_FAMILIES


# ------------------------------------------------------------------------------------------- stuck


def stuck_card() -> dbc.Card:
    """The stuck jobs panel (filled by its callback), with a link to the whole list of them."""
    all_stuck = dcc.Link(
        ["All stuck jobs ", html.I(className="bi bi-arrow-right")],
        href=STUCK_LIST_HREF,
        className="small",
        id="overview-all-stuck",
    )
    header = dbc.CardHeader(
        [html.Span("Stuck"), all_stuck], className="d-flex justify-content-between align-items-center"
    )
    rule = html.Div(
        (
            "Pending or running for longer than its family's p99 in that status over the last "
            f"{insights.STUCK_WEEKS} weeks (at least {format_duration(insights.STUCK_FLOOR)} for a family "
            f"with fewer than {insights.STUCK_MIN_STAYS} finished stays)."
        ),
        className="small text-body-secondary px-3 pt-2",
    )
    return dbc.Card(
        [
            header,
            rule,
            dbc.CardBody(id="overview-stuck", className="p-0"),
            html.Div(id="overview-stuck-note"),
        ],
        className="shadow-sm h-100",
    )


def build_stuck(rows: Sequence[Mapping[str, Any]], *, now: dt.datetime, more: bool, cap: int) -> html.Div:
    """The most overdue stuck jobs: each linking to its job, with its family (linking to the family's
    list), status, time in it, threshold and overrun."""
    if not rows:
        return empty_state(
            "Nothing is stuck",
            "Every pending or running job is within its family's usual time.",
            icon="bi-emoji-smile",
        )
    header = html.Thead(
        html.Tr(
            [
                html.Th("Job"),
                html.Th("Family"),
                html.Th("Status"),
                html.Th("In it for", className="text-end"),
                html.Th("Threshold", className="text-end"),
                html.Th("Overrun", className="text-end"),
            ]
        )
    )
    body = [
        html.Tr(
            [
                html.Td(
                    [
                        dcc.Link(row["name"], href=f"/jobs/{int(row['id'])}", className="job-link"),
                        # The id on a line of its own: beside a long name, the narrow cell cut it off.
                        html.Span(
                            f"#{int(row['id'])}", className="d-block text-body-secondary font-monospace small"
                        ),
                    ],
                    className="name-cell",
                ),
                html.Td(
                    dcc.Link(
                        row["family"],
                        href="/jobs?" + urlencode({"family": row["family"], "stuck": "true"}),
                        className="small",
                    ),
                    className="text-nowrap",
                ),
                html.Td(status_badge(row["status"])),
                html.Td(
                    format_duration(now - row["status_since"]),
                    title=f"since {format_timestamp(row['status_since'])} UTC",
                    className="text-end time-cell",
                ),
                html.Td(format_duration(row["threshold"]), className="text-end time-cell"),
                html.Td(
                    "+" + format_duration(row["overrun"]),
                    className="text-end time-cell fw-semibold overrun",
                ),
            ],
            className="stuck-row",
        )
        for row in rows
    ]
    table = html.Table(
        [header, html.Tbody(body)], className="table table-sm table-hover align-middle mb-0 stuck-table"
    )
    shown = f"The {len(rows)} most overdue" + (", more in the full list." if more else ".")
    return html.Div(
        [
            html.Div(table, className="table-responsive"),
            html.Div(f"{shown} {cap_note(cap)}", className="small text-body-secondary px-3 py-2"),
        ]
    )


def update_stuck(_refresh: object, _tick: object = None, _range: object = None) -> Any:
    """The first few stuck jobs, most overdue first."""
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    try:
        with get_database().read() as conn:
            page = insights.stuck_jobs(
                conn,
                page_size=min(STUCK_SHOWN, settings.max_page_size),
                max_page_size=settings.max_page_size,
                now=now,
            )
    except SQLAlchemyError:
        return database_error_state(log, "stuck jobs")
    return build_stuck(page.results, now=now, more=page.next_cursor is not None, cap=settings.max_families)


def register_overview(callbacks: PageCallbacks) -> None:
    """Give the overview's callbacks the panels' own."""
    callbacks.callback(
        Output(figure_store("overview-transitions"), "data"),
        Output("overview-disallowed", "children"),
        Output("overview-transitions-family", "options"),
        Output("overview-transitions-note", "children"),
        Input("overview-range", "value"),
        Input("overview-transitions-family", "value"),
        Input("overview-refresh", "n_clicks"),
        Input("shell-tick", "data"),  # auto-refresh (dashboard/live.py)
    )(update_transitions)
    chart_callback(callbacks, "overview-transitions")
    callbacks.callback(
        Output("overview-stuck", "children"),
        Input("overview-refresh", "n_clicks"),
        Input("shell-tick", "data"),  # auto-refresh (dashboard/live.py)
        # Not read, but an input no other callback writes: the refresh button's clicks are also written
        # by a clientside callback, which answers no_update on load, and a callback whose only input
        # that is would then not run when the page loads.
        Input("overview-range", "value"),
    )(update_stuck)
    callbacks.callback(
        Output("overview-distribution-title", "children"), Input("overview-as-of-time", "value")
    )(mix_title)
    callbacks.callback(
        Output("overview-as-of-time", "value"),
        Input("overview-as-of-now", "n_clicks"),
        prevent_initial_call=True,
    )(lambda _clicks: "")


# ---------------------------------------------------------------------------------------- job page


def job_stays(events: Iterable[Mapping[str, Any]], *, now: dt.datetime) -> list[dict[str, Any]]:
    """The job's stays, oldest first: each run of events in one status (a progress event in the same
    status does not start a new one), until the next status or, for the current one, ``now``. A final
    status (completed, failed, cancelled) has no length and is left out."""
    ordered = sorted(events, key=lambda event: (event["timestamp"], event["id"]))
    runs: list[tuple[str, dt.datetime]] = []
    for event in ordered:
        if not runs or runs[-1][0] != event["status"]:
            runs.append((event["status"], event["timestamp"]))
    stays = []
    for index, (status, start) in enumerate(runs):
        last = index + 1 == len(runs)
        if last and status in TERMINAL_STATUSES:
            continue
        end = max(now, start) if last else runs[index + 1][1]
        stays.append(
            {"status": status, "since": start, "seconds": (end - start).total_seconds(), "ongoing": last}
        )
    return stays


def compare(seconds: float, p50: float | None, p95: float | None) -> str:
    """How a stay compares with its family: "slow" past p95, "above" past p50, else "typical"; "unknown"
    when the family has no finished stays in that status."""
    if p50 is None or p95 is None:
        return "unknown"
    if seconds > p95:
        return "slow"
    if seconds > p50:
        return "above"
    return "typical"


VERDICTS = {
    "slow": ("Slower than 95 % of its family", "text-bg-danger"),
    "above": ("Slower than the median", "text-bg-warning"),
    "typical": ("Within the usual", "text-bg-success"),
    "unknown": ("No family history", "text-bg-secondary"),
}


def _bar(seconds: float, p50: float | None, p95: float | None, verdict: str) -> html.Div:
    """The stay as a bar on a scale to the larger of it and the p95 (x 1.25), with p50 and p95 marked."""
    top = max(seconds, p95 or 0, p50 or 0, 1) * 1.25
    marks = [
        html.Span(
            className=f"family-mark {name}",
            style={"left": f"{100 * value / top:.1f}%"},
            title=f"family {name}",
        )
        for name, value in (("p50", p50), ("p95", p95))
        if value is not None
    ]
    fill = html.Span(className=f"stay-fill {verdict}", style={"width": f"{100 * seconds / top:.1f}%"})
    return html.Div([fill, *marks], className="stay-bar", **html_attributes(aria_hidden="true"))


def build_family_comparison(
    stays: Sequence[Mapping[str, Any]],
    percentiles: Mapping[str, Mapping[str, Any]],
    *,
    family: str,
    window: tuple[dt.datetime, dt.datetime],
    cap: int,
) -> dbc.Card:
    """Each of the job's stays beside its family's p50 and p95 in that status, slow ones highlighted."""
    family_href = "/jobs?" + urlencode({"family": family})
    header = dbc.CardHeader(
        [
            html.Span(
                [
                    "Compared with its family ",
                    dcc.Link(
                        family, href=family_href, id="job-family-link", className="text-decoration-underline"
                    ),
                ]
            ),
            html.Span(
                f"family p50 / p95 of the stays that ended {window[0]:%Y-%m-%d} to "
                f"{window[1] - dt.timedelta(days=1):%Y-%m-%d} (UTC)",
                className="small text-body-secondary fw-normal",
            ),
        ],
        className="d-flex flex-wrap justify-content-between align-items-center gap-2",
    )
    if not stays:
        body: Any = empty_state("No stays to compare", "This job went straight to a final status.")
    else:
        rows = []
        for stay in stays:
            family_times = percentiles.get(stay["status"], {})
            p50, p95 = family_times.get("p50"), family_times.get("p95")
            verdict = compare(stay["seconds"], p50, p95)
            label, badge = VERDICTS[verdict]
            duration = format_duration(dt.timedelta(seconds=stay["seconds"])) + (
                " so far" if stay["ongoing"] else ""
            )
            rows.append(
                html.Tr(
                    [
                        html.Td(status_badge(stay["status"])),
                        html.Td(duration, className="text-end fw-semibold time-cell"),
                        html.Td(_bar(stay["seconds"], p50, p95, verdict), className="bar-cell"),
                        html.Td(
                            "—" if p50 is None else format_duration(dt.timedelta(seconds=p50)),
                            className="text-end time-cell",
                        ),
                        html.Td(
                            "—" if p95 is None else format_duration(dt.timedelta(seconds=p95)),
                            className="text-end time-cell",
                        ),
                        html.Td(html.Span(label, className=f"badge {badge} verdict")),
                    ],
                    className=f"comparison-row verdict-{verdict}",
                )
            )
        head = html.Thead(
            html.Tr(
                [
                    html.Th("Status"),
                    html.Th("This job", className="text-end"),
                    html.Th(
                        [
                            "Against p50 ",
                            html.Span("│", className="mark-key p50"),
                            " and p95 ",
                            html.Span("│", className="mark-key p95"),
                        ]
                    ),
                    html.Th("Family p50", className="text-end"),
                    html.Th("Family p95", className="text-end"),
                    html.Th("", **html_attributes(aria_label="Verdict")),
                ]
            )
        )
        body = html.Div(
            html.Table([head, html.Tbody(rows)], className="table align-middle mb-0 comparison-table"),
            className="table-responsive",
        )
    notes = []
    if family == families.OTHER:
        notes.append(html.Div(cap_note(cap), className="small text-body-secondary mt-2"))
    return dbc.Card(
        [header, dbc.CardBody([body, *notes])], className="shadow-sm mb-4", id="job-family-comparison"
    )


def family_comparison(
    conn: Any, job: Mapping[str, Any], events: Iterable[Mapping[str, Any]], *, now: dt.datetime
) -> dbc.Card:
    """The comparison card of ``job`` from its (newest) ``events`` and its family's recent percentiles."""
    family = str(job["family"])
    window, percentiles = insights.family_percentiles(conn, family=family, now=now)
    return build_family_comparison(
        job_stays(events, now=now), percentiles, family=family, window=window, cap=get_settings().max_families
    )
