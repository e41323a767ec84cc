"""Who may do what: bearer tokens for API writes, optional HTTP basic auth in front of everything."""

from __future__ import annotations

import hmac

from flask import Flask, Response, request

from dashboard.api.errors import is_api_path
from dashboard.problems import problem
from dashboard.settings import Settings

HEALTH_PATHS = frozenset({"/livez", "/readyz"})
BEARER_CHALLENGE = 'Bearer realm="jobdash"'
BASIC_CHALLENGE = 'Basic realm="JobDash", charset="UTF-8"'


def _matches(given: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``given`` is one of ``allowed``, in time that does not depend on where they differ."""
    given_bytes = given.encode()
    # Compare with every token (no early exit), so the timing does not tell which one came close.
    results = [hmac.compare_digest(given_bytes, token.encode()) for token in allowed]
    return any(results)


def _bearer_token() -> str | None:
    auth = request.authorization
    if auth is None or auth.type != "bearer":
        return None
    return auth.token or None


def write_refusal(settings: Settings) -> Response | None:
    """None when the request may write; otherwise the 401 or 403 problem that refuses it."""
    token = _bearer_token()
    if token is None:
        if settings.allow_anonymous_writes:
            return None
        if not settings.api_tokens:
            return problem(
                403,
                "Forbidden",
                "writes are disabled: set JOBDASH_API_TOKENS to a comma-separated list of tokens and send "
                "one as 'Authorization: Bearer <token>' (or, for development only, set "
                "JOBDASH_ALLOW_ANONYMOUS_WRITES=true)",
                type_="writes-disabled",
            )
        return problem(
            401,
            "Unauthorized",
            "writes need an 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )
    if not settings.api_tokens:
        if settings.allow_anonymous_writes:
            return None
        return problem(
            403, "Forbidden", "writes are disabled: set JOBDASH_API_TOKENS", type_="writes-disabled"
        )
    if not _matches(token, settings.api_tokens):
        return problem(403, "Forbidden", "the bearer token is not allowed to write", type_="invalid-token")
    return None


def init_basic_auth(server: Flask, settings: Settings) -> None:
    """When JOBDASH_BASIC_AUTH is set, ask for it on every path but the health probes."""
    if settings.basic_auth is None:
        return
    user, password = settings.basic_auth

    @server.before_request
    def require_basic_auth() -> Response | None:
        if request.path in HEALTH_PATHS:
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
            if _matches(auth.token or "", settings.api_tokens):
                return None
            return problem(403, "Forbidden", "the bearer token is not valid", type_="invalid-token")
        return problem(
            401,
            "Unauthorized",
            "this JobDash asks for a user name and password",
            headers={"WWW-Authenticate": BASIC_CHALLENGE},
        )
