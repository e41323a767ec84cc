"""Pydantic's validation errors as the field errors every 400 problem lists, named as the client spelled
the input: a query parameter, or a dotted path into a JSON body."""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from db.errors import FieldError
from db.models import STATUSES

Source = Literal["query", "body"]


def _field(error: ErrorDetails, source: Source) -> str:
    """A query parameter's name (list positions dropped), or the path into the body."""
    if source == "query":
        location = [str(part) for part in error["loc"] if not isinstance(part, int)]
        return location[0] if location else "query"
    return ".".join(str(part) for part in error["loc"]) or "body"


def _message(error: ErrorDetails, field: str, source: Source) -> str:
    """Pydantic's message, or a plainer one for the errors clients meet most."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a known parameter" if source == "query" else "is not a known field"
    if source == "query" and field == "status" and kind == "string_pattern_mismatch":
        return f"must be one of {', '.join(STATUSES)}"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "json_invalid":
        return "is not valid JSON: " + str(error.get("ctx", {}).get("error", "")).strip()
    if kind == "model_type":
        return "must be a JSON object"
    return error["msg"]


def field_errors(exc: PydanticValidationError, *, source: Source) -> list[FieldError]:
    """One FieldError per problem pydantic found in a query string or a JSON body."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = _field(error, source)
        errors.append(FieldError(field, _message(error, field, source)))
    return errors
