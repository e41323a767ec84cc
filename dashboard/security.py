"""Response headers that limit what a browser lets a page (or a hostile framer) do.

The Content-Security-Policy allows scripts from our own origin and, inline, only the exact scripts Dash
and our index page emit (by SHA-256 hash), so an injected ``<script>`` never runs. Plotly sets inline
styles, which ``style-src 'unsafe-inline'`` allows; nothing else inline is.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence

import dash
from flask import Response, request

from dashboard.api.errors import is_api_path
from dashboard.delivery import static_origins
from dashboard.settings import Settings

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


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


def init_security_headers(app: dash.Dash, settings: Settings) -> None:
    """Add the security headers to every response; API answers are never stored by caches."""
    policy: list[str] = []  # built on the first response, once Dash has its inline scripts
    origins = static_origins(settings)

    def add_headers(response: Response) -> Response:
        if not policy:
            scripts = [*app.csp_hashes(), *script_hashes(app.index_string)]
            policy.append(content_security_policy(scripts, origins))
        response.headers.setdefault("Content-Security-Policy", policy[0])
        for name, value in FIXED_HEADERS.items():
            response.headers.setdefault(name, value)
        if is_api_path(request.path) or request.path in {"/livez", "/readyz"}:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.server.after_request(add_headers)
