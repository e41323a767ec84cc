"""Reading a request's query string and JSON body into validated pydantic models, or a 4xx problem."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from flask import request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from dashboard.input_errors import field_errors
from dashboard.params import parse_model
from dashboard.settings import get_settings
from db import validation
from db.errors import ValidationError

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 64 * 1024


def query_params(model: type[M], *, multi: tuple[str, ...] = ()) -> M:
    """The query string validated by ``model``; unknown parameters are errors naming them."""
    return parse_model(model, request.args.to_dict(flat=False), multi=multi)


def json_body(model: type[M]) -> M:
    """The request body, which must be a JSON object of ``model``'s fields and at most 64 KiB.

    A ``timestamp`` field more than ``JOBDASH_MAX_FUTURE_SKEW_S`` ahead of now is refused.
    """
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"the body must be application/json, not {request.mimetype or 'missing'}")
    too_large = RequestEntityTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes (64 KiB)")
    # One byte over the limit: a chunked body (no Content-Length) is cut there silently, so a body
    # that reaches it is known to be too large, rather than parsed truncated.
    request.max_content_length = MAX_BODY_BYTES + 1
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    try:
        # pydantic's own parser: one pass, refuses NaN, lone surrogates and (strictly) unknown fields.
        parsed = model.model_validate_json(raw)
    except PydanticValidationError as exc:
        raise ValidationError(field_errors(exc, source="body")) from None
    # An event's time may run ahead of ours by the allowed clock skew, no further.
    validation.not_in_future(
        getattr(parsed, "timestamp", None),
        "timestamp",
        skew_s=get_settings().max_future_skew_s,
        now=dt.datetime.now(dt.UTC),
    )
    return parsed
