"""Small building blocks every page shares: status badges, formatted times and counts, page states.

Everything here is pure (rows in, components out), so it is unit-tested without a browser. Job names and
event messages always go into components as plain text children, never as HTML or Markdown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from db.errors import FieldError
from db.models import STATUSES
from db.queries import Count

# One colour per status, shared by badges, filter chips and every chart, so a colour means one thing.
STATUS_COLORS: dict[str, str] = {
    "PENDING": "#8a94a6",
    "RUNNING": "#2f80ed",
    "COMPLETED": "#22a06b",
    "FAILED": "#e5484d",
    "CANCELLED": "#e8a33d",
}
STATUS_ICONS: dict[str, str] = {
    "PENDING": "bi-hourglass-split",
    "RUNNING": "bi-play-circle",
    "COMPLETED": "bi-check-circle",
    "FAILED": "bi-x-octagon",
    "CANCELLED": "bi-slash-circle",
}


def html_attributes(**values: str) -> dict[str, Any]:
    """``data-*`` and ``aria-*`` attributes as keyword arguments of a component: ``data_job_id="7"``
    becomes ``{"data-job-id": "7"}`` (Python names cannot hold the dash)."""
    return {name.replace("_", "-"): value for name, value in values.items()}


def status_label(status: str) -> str:
    """``FAILED`` -> ``Failed``."""
    return status.capitalize()


def status_badge(status: str) -> html.Span:
    """A badge with the status's colour, icon and name (never colour alone)."""
    color = STATUS_COLORS.get(status, "#8a94a6")
    return html.Span(
        [html.I(className=f"bi {STATUS_ICONS.get(status, 'bi-circle')} me-1"), status_label(status)],
        className="status-badge",
        style={"--status-color": color},
        **html_attributes(data_status=status),
    )


def status_dot(status: str) -> html.Span:
    """A small coloured dot, used next to a status name in filters and legends."""
    return html.Span(className="status-dot", style={"backgroundColor": STATUS_COLORS.get(status, "#8a94a6")})


def status_options() -> list[dict[str, object]]:
    """Options for a status checklist: a dot and the name, the value being the API's status name."""
    return [{"label": html.Span([status_dot(s), status_label(s)]), "value": s} for s in STATUSES]


def format_timestamp(value: dt.datetime | None) -> str:
    """An aware datetime as ``2026-01-31 14:05:09`` in UTC; blank for None."""
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(delta: dt.timedelta) -> str:
    """A compact human duration: ``0.42s``, ``12.3s``, ``45s``, ``3m 05s``, ``2h 04m``, ``3d 4h``
    (two units at most; below a minute, the fraction a short job's duration needs)."""
    exact = max(0.0, delta.total_seconds())
    if 0 < exact < 1:
        return f"{exact:.2f}s"
    if exact < 59.95 and not exact.is_integer():
        return f"{exact:.1f}s"
    seconds = int(exact)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def describe_count(count: Count, noun: str = "job") -> str:
    """``1,234 jobs``, ``about 98,000 jobs`` or ``more than 1,000 jobs``: honest about what is known."""
    plural = noun if count.value == 1 and count.kind == "exact" else f"{noun}s"
    if count.kind == "estimate":
        return f"about {count.value:,} {plural}"
    if count.kind == "at_least" and count.value == 0:
        return f"no {plural} found yet"
    if count.kind == "at_least":
        return f"more than {count.value:,} {plural}"
    return f"{count.value:,} {plural}"


def describe_total(value: int, *, exact: bool) -> str:
    """A total that may be an estimate: ``1,234`` or ``≈ 98,000``."""
    return f"{value:,}" if exact else f"≈ {value:,}"


def field_error_items(errors: Iterable[FieldError]) -> list[html.Li]:
    """One list item per invalid input, naming the parameter as the API does."""
    return [html.Li([html.Code(error.field), " ", error.message]) for error in errors]


def error_state(
    title: str,
    *,
    errors: Iterable[FieldError] = (),
    detail: str | None = None,
    reset_href: str | None = None,
    reset_label: str = "Reset",
) -> html.Div:
    """A designed error message: what went wrong, which inputs, and a way out."""
    # Styled like a heading without being one (as in empty_state): an alert inside a page must not skip
    # heading levels.
    body: list[Component] = [
        html.P([html.I(className="bi bi-exclamation-triangle me-2"), title], className="h6 page-state-title")
    ]
    if detail:
        body.append(html.P(detail, className="mb-2"))
    items = field_error_items(errors)
    if items:
        body.append(html.Ul(items, className="mb-2 small"))
    if reset_href:
        body.append(dcc.Link(reset_label, href=reset_href, className="btn btn-sm btn-outline-danger"))
    return html.Div(
        dbc.Alert(body, color="danger", className="mb-0"),
        className="page-state",
        **html_attributes(data_state="error"),
    )


def empty_state(
    title: str,
    detail: str,
    *,
    icon: str = "bi-inbox",
    action: Component | None = None,
    page_title: bool = False,
) -> html.Div:
    """A designed "nothing here" panel. Its title is the page's heading (``h1``) when the panel is all the
    page shows (``page_title``); inside a page it is text set large, so that the page's headings keep
    their order (a heading a level too deep would skip levels)."""
    title_class = "h5 mt-2 mb-1 page-state-title"
    children: list[Component] = [
        html.I(className=f"bi {icon} page-state-icon"),
        html.H1(title, className=title_class) if page_title else html.P(title, className=title_class),
        html.P(detail, className="text-body-secondary mb-3"),
    ]
    if action is not None:
        children.append(action)
    return html.Div(children, className="page-state text-center py-5", **html_attributes(data_state="empty"))


def page_header(title: str, subtitle: Component, actions: Component, *, spacing: str = "mb-3") -> html.Div:
    """A page's title with a line under it (counts, "as of") on the left and its actions on the right."""
    return html.Div(
        [html.Div([html.H1(title, className="page-title"), subtitle]), actions],
        className=f"d-flex flex-wrap justify-content-between align-items-end gap-3 {spacing}",
    )


def pager(
    *,
    first: tuple[str, str],
    back: tuple[str, str],
    forward: tuple[str, str],
    enabled: Collection[str] = (),
) -> dbc.ButtonGroup:
    """First / back / forward buttons for keyset paging, each given as (component id, label); those whose
    role ("first", "back", "forward") is not in ``enabled`` start disabled (the page says where it can go)."""
    icons = {"first": "bi-chevron-bar-left", "back": "bi-chevron-left", "forward": "bi-chevron-right"}
    buttons = []
    for role, (component_id, label) in {"first": first, "back": back, "forward": forward}.items():
        icon = html.I(className=f"bi {icons[role]} " + ("ms-1" if role == "forward" else "me-1"))
        content = [label, icon] if role == "forward" else [icon, label]
        buttons.append(
            dbc.Button(
                content,
                id=component_id,
                color="secondary",
                outline=True,
                size="sm",
                disabled=role not in enabled,
            )
        )
    return dbc.ButtonGroup(buttons)


def stat_card(title: str, value: str, *, caption: str = "", status: str | None = None) -> dbc.Card:
    """A KPI card: a small title (with the status colour when it is about one status) and a big value."""
    header: list[Component | str] = [status_dot(status)] if status else []
    header.append(title)
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(header, className="stat-title"),
                html.Div(value, className="stat-value"),
                html.Div(caption, className="stat-caption"),
            ]
        ),
        className="stat-card h-100",
        style={"--status-color": STATUS_COLORS[status]} if status else None,
    )
