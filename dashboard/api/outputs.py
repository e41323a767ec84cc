"""Turning data-layer values into JSON responses through the response models."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel


def fields_of(record: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, their values as they are: :func:`json_bytes` validates and copies
    them (``dataclasses.asdict`` first deep-copied every nested list and dict, a millisecond of a
    time-in-state answer)."""
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}


def json_bytes(model: type[BaseModel], data: Any) -> bytes:
    """``data`` validated and shaped by ``model``, serialized by the app's (orjson) JSON provider."""
    provider: Any = current_app.json
    body: bytes = provider.dumps_bytes(model.model_validate(data).model_dump())
    return body


def json_response(body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response around an already-serialized body (fresh or from the cache)."""
    response = Response(body, status=status, mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response


def respond(
    model: type[BaseModel], data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``data`` validated and shaped by ``model``, as a JSON response."""
    return json_response(json_bytes(model, data), status=status, headers=headers)
