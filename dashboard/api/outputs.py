"""Turning data-layer values into JSON responses through the response models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from pydantic import BaseModel


def respond(
    model: type[BaseModel], data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``data`` validated and shaped by ``model``, as a JSON response (orjson, via Flask's provider)."""
    response = jsonify(model.model_validate(data).model_dump())
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response
