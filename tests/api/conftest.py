"""API test helpers: the bearer header, problem checks, and contract checks against /api/openapi.json."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

AUTH = {"Authorization": "Bearer test-token"}
PROBLEM = "application/problem+json"


@lru_cache(maxsize=4)
def _openapi(document_text: str) -> OpenAPI:
    # Building the validator takes a while; every app of the run serves the same document.
    # A text body (the CSV export) is checked as the string its schema says it is.
    config = Config(
        extra_media_type_deserializers={PROBLEM: json.loads, "text/csv": lambda body: body.decode("utf-8")}
    )
    return OpenAPI.from_dict(json.loads(document_text), config=config)


def openapi_for(client: Any) -> OpenAPI:
    """The openapi-core validator of the document that ``client``'s app serves."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return _openapi(response.get_data(as_text=True))


def assert_problem(response: Any, status: int | None = None) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem (of ``status``, when given); returns its body."""
    assert response.mimetype == PROBLEM, response.get_data(as_text=True)[:500]
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    if status is not None:
        assert response.status_code == status, body
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


def field_errors(response: Any) -> dict[str, str]:
    """The ``errors`` of a 400 problem, by field."""
    body = assert_problem(response, 400)
    return {e["field"]: e["message"] for e in body["errors"]}


class _SentRequest(WerkzeugOpenAPIRequest):
    """The request a response answered; its body was consumed by the app and is not needed here."""

    @property
    def body(self) -> bytes | None:
        return None


@pytest.fixture
def contract(client: Any) -> Any:
    """``contract(response)`` raises unless ``response`` matches the served OpenAPI document."""
    openapi = openapi_for(client)

    def check(response: Any) -> Any:
        openapi.validate_response(_SentRequest(response.request), WerkzeugOpenAPIResponse(response))
        return response

    return check
