"""The dashboard's pages, one module each, attached to every app by ``dashboard/shell.py``.

A page module declares itself with ``dash.register_page(__name__, ..., layout=layout)`` (a page with a
``nav_icon`` gets a link in the navbar) and its server callbacks with ``@callbacks.callback(...)`` on a
module-level ``callbacks = PageCallbacks()``. Page modules are imported once per process, but a process
may build several apps (the tests build one per test): Dash's global ``dash.callback`` would hand the
callbacks to the first app only, so each app the shell builds is given them through ``app.callback``.
A page whose read fails says so with :func:`database_error_state`, the same on every page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import dash
from dash import html

from dashboard.components import error_state

F = TypeVar("F", bound=Callable[..., Any])


class PageCallbacks:
    """A page's callbacks, recorded at import and attached to each app (like a Flask blueprint)."""

    def __init__(self) -> None:
        self._recorded: list[tuple[tuple[Any, ...], dict[str, Any], Callable[..., Any]]] = []
        self._clientside: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Record a callback with ``app.callback``'s arguments; the function itself is returned as is."""

        def record(function: F) -> F:
            self._recorded.append((args, kwargs, function))
            return function

        return record

    def clientside_callback(self, function: Any, *args: Any, **kwargs: Any) -> None:
        """Record a callback that runs in the browser, with ``app.clientside_callback``'s arguments."""
        self._clientside.append((function, args, kwargs))

    def attach(self, app: dash.Dash) -> None:
        """Register every recorded callback on ``app``."""
        for args, kwargs, function in self._recorded:
            app.callback(*args, **kwargs)(function)
        for clientside, args, kwargs in self._clientside:
            app.clientside_callback(clientside, *args, **kwargs)


def database_error_state(
    log: logging.Logger,
    what: str,
    *,
    detail: str = "Try again in a moment.",
    reset_href: str | None = None,
    reset_label: str = "Try again",
) -> html.Div:
    """Log the failed read of ``what`` with its traceback (call it in an ``except``), and say so in the page:
    the same message on every page, with the page's way to try again."""
    log.exception("%s query failed", what)
    return error_state(
        "The database did not answer", detail=detail, reset_href=reset_href, reset_label=reset_label
    )
