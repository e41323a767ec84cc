"""Who may write: ``@requires_write_token`` on a view asks for a bearer token from JOBDASH_API_TOKENS
(site-wide basic auth and ``@public`` are in ``dashboard/security.py``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request

from dashboard.problems import problem
from dashboard.security import declare_access, token_matches
from dashboard.settings import Settings, get_settings

F = TypeVar("F", bound=Callable[..., Any])
BEARER_CHALLENGE = 'Bearer realm="jobdash"'


def requires_write_token(view: F) -> F:
    """Let a request reach ``view`` only with a bearer token allowed to write; else a 401 or 403 problem."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refusal = write_refusal(get_settings())
        return refusal if refusal is not None else view(*args, **kwargs)

    return declare_access("write")(cast(F, guarded))


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
    if not token_matches(token, settings.api_tokens):
        return problem(403, "Forbidden", "the bearer token is not allowed to write", type_="invalid-token")
    return None
