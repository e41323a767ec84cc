"""Site-wide protection: who may call a view, optional HTTP basic auth in front of every path but the
public ones, and response headers that limit what a browser lets a page (or a hostile framer) do.

A view's access is declared at its route: ``@public`` (here) opens it to everyone, even behind basic
auth; ``@requires_write_token`` (``dashboard/api/auth.py``) asks for a bearer token allowed to write;
anything else is ``"read"``, open to whoever basic auth lets in. The OpenAPI document reads the same
declarations (:func:`access_of`).

The Content-Security-Policy allows scripts from our own origin and, inline, only the exact scripts Dash
and our index page emit (by SHA-256 hash), so an injected ``<script>`` never runs. Plotly sets inline
styles, which ``style-src 'unsafe-inline'`` allows; nothing else inline is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import dash
from flask import Flask, Response, request

from dashboard.delivery import static_origins
from dashboard.paths import HEALTH_PATHS, is_api_path
from dashboard.problems import problem
from dashboard.settings import Settings, get_settings

F = TypeVar("F", bound=Callable[..., Any])
Access = Literal["public", "read", "write"]
_ACCESS_ATTRIBUTE = "jobdash_access"
BASIC_CHALLENGE = 'Basic realm="JobDash", charset="UTF-8"'
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def declare_access(access: Access) -> Callable[[F], F]:
    """Mark a view with who may call it; the decorators below and the OpenAPI document use it."""

    def mark(view: F) -> F:
        setattr(view, _ACCESS_ATTRIBUTE, access)
        return view

    return mark


def access_of(view: Callable[..., Any] | None) -> Access:
    """Who may call ``view``: ``"public"``, ``"write"`` (with a write token) or ``"read"`` (the default)."""
    access: Access = getattr(view, _ACCESS_ATTRIBUTE, "read")
    return access


def public(view: F) -> F:
    """Open ``view`` to every client, even when JOBDASH_BASIC_AUTH guards everything else."""
    return declare_access("public")(view)


def _public_paths(server: Flask) -> frozenset[str]:
    """The paths of the views declared ``@public``, whatever the method (a 405 there stays a 405)."""
    return frozenset(
        rule.rule
        for rule in server.url_map.iter_rules()
        if access_of(server.view_functions.get(rule.endpoint)) == "public"
    )


def token_matches(given: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``given`` is one of ``allowed``, in time that does not depend on where they differ."""
    given_bytes = given.encode()
    # Compare with every token (no early exit), so the timing does not tell which one came close.
    results = [hmac.compare_digest(given_bytes, token.encode()) for token in allowed]
    return any(results)


def init_basic_auth(server: Flask, settings: Settings) -> None:
    """When JOBDASH_BASIC_AUTH is set, ask for it on every path but those of ``@public`` views."""
    if settings.basic_auth is None:
        return
    user, password = settings.basic_auth
    open_paths: list[frozenset[str]] = []  # found on the first request, once every route is registered

    @server.before_request
    def require_basic_auth() -> Response | None:
        if not open_paths:
            open_paths.append(_public_paths(server))
        if request.path in open_paths[0]:
            return None
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            # Both compared, always: `and` would return early and leak which half was wrong.
            user_ok = hmac.compare_digest((auth.username or "").encode(), user.encode())
            password_ok = hmac.compare_digest((auth.password or "").encode(), password.encode())
            if user_ok & password_ok:
                return None
        elif auth is not None and auth.type == "bearer" and is_api_path(request.path):
            # One Authorization header cannot carry both schemes: a write token vouches for its holder.
            if token_matches(auth.token or "", settings.api_tokens):
                return None
            return problem(403, "Forbidden", "the bearer token is not valid", type_="invalid-token")
        return problem(
            401,
            "Unauthorized",
            "this JobDash asks for a user name and password",
            headers={"WWW-Authenticate": BASIC_CHALLENGE},
        )


def script_hashes(html: str) -> list[str]:
    """CSP sources for each plain inline ``<script>`` of an index template."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def content_security_policy(script_sources: list[str], static_origins: Sequence[str] = ()) -> str:
    """The policy for our pages (the API answers JSON and gets the same, harmless there).

    ``static_origins`` are the other origins scripts, styles and fonts come from (``JOBDASH_STATIC_URL``).
    """
    static = "".join(f" {origin}" for origin in static_origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'" + static + " " + " ".join(sorted(set(script_sources))),
            "style-src 'self' 'unsafe-inline'" + static,
            "img-src 'self' data:" + static,
            "font-src 'self' data:" + static,
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_security_headers(app: dash.Dash) -> None:
    """Add the security headers to every response; API answers are never stored by caches."""
    policy: list[str] = []  # built on the first response, once Dash has its inline scripts

    def add_headers(response: Response) -> Response:
        if not policy:
            scripts = [*app.csp_hashes(), *script_hashes(app.index_string)]
            policy.append(content_security_policy(scripts, static_origins(get_settings())))
        response.headers.setdefault("Content-Security-Policy", policy[0])
        for name, value in FIXED_HEADERS.items():
            response.headers.setdefault(name, value)
        if is_api_path(request.path) or request.path in HEALTH_PATHS:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.server.after_request(add_headers)
