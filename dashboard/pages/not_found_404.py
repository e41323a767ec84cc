"""The page for any path no other page claims (Dash Pages looks for a module named ``not_found_404``)."""

from __future__ import annotations

import dash
from dash import dcc, html

from dashboard.components import empty_state


def layout(**_query: object) -> html.Div:
    """A friendly 404 with the ways back."""
    return html.Div(
        empty_state(
            "Page not found",
            "There is nothing at this address. It may have been mistyped, or the link may be out of date.",
            icon="bi-signpost-split",
            action=html.Div(
                [
                    dcc.Link("Go to the overview", href="/", className="btn btn-primary me-2"),
                    dcc.Link("Browse jobs", href="/jobs", className="btn btn-outline-secondary"),
                ]
            ),
            page_title=True,
        ),
        id="not-found-page",
        className="card shadow-sm",
    )


dash.register_page(__name__, path="/404", title="Not found · JobDash", name="Not found", layout=layout)
