"""The OpenAPI 3.1 document, generated from the routes Flask really serves and the pydantic models.

Each view carries an :class:`Operation` (set by :func:`document`); :func:`build_openapi` walks the app's
URL map, so a path, a method, a parameter or a field cannot be documented differently from how it is
served. The same :class:`Operation` drives the request checks (``write`` means a bearer token is needed).
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from dashboard.api.schemas import OpenAPIDocument, Problem

F = TypeVar("F", bound=Callable[..., Any])
REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Rules shared by several operations' ``rules`` (see Operation).
CURSOR_RULE = "the cursor is not one this list gave out (tampered, foreign or stale)"
TIMES_RULE = "a time lies outside the years 1970 to 9999"
TIMESTAMP_RULE = "the timestamp lies more than JOBDASH_MAX_FUTURE_SKEW_S seconds ahead, or before 1970"
_PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR_TITLES = {
    400: "Invalid request (problem with an errors list)",
    401: "No credentials (WWW-Authenticate says which scheme)",
    403: "Credentials not allowed to do this",
    404: "No such resource",
    405: "Method not allowed here",
    413: "Body larger than 64 KiB",
    415: "Body is not application/json",
    503: "A backend did not answer",
}


@dataclass(frozen=True)
class Operation:
    """What one view accepts and answers, as far as the document and the request checks care."""

    summary: str
    tag: str
    responses: Mapping[int, type[BaseModel] | None]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    write: bool = False
    public: bool = False
    errors: tuple[int, ...] = ()
    headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # Checks a JSON Schema cannot state (across fields, against the clock, opaque tokens): a request
    # that passes the schema may still get a 400 for these. Listed in the 400 answer and as ``x-rules``.
    rules: tuple[str, ...] = ()


def document(**kwargs: Any) -> Callable[[F], F]:
    """Attach an :class:`Operation` built from ``kwargs`` to a view function."""

    def attach(view: F) -> F:
        view.openapi = Operation(**kwargs)  # type: ignore[attr-defined]
        return view

    return attach


def operation_of(view: Callable[..., Any] | None) -> Operation | None:
    """The :class:`Operation` documented for ``view``, if any."""
    return getattr(view, "openapi", None)


def _documented_rules(app: Flask) -> Iterator[tuple[str, str, str, Operation, list[str]]]:
    """(OpenAPI path, method, endpoint, operation, path parameter names) for each documented route."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = operation_of(app.view_functions.get(rule.endpoint))
        if op is None:
            continue
        names = [m.group(2) for m in _PATH_PARAMETER.finditer(rule.rule)]
        path = _PATH_PARAMETER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), rule.endpoint, op, names


def _ecma_pattern(schema: Any) -> Any:
    """Rewrite Python-only ``(?i)`` patterns into ones every JSON Schema validator runs the same way."""
    if isinstance(schema, dict):
        out = {k: _ecma_pattern(v) for k, v in schema.items()}
        pattern = out.get("pattern")
        if isinstance(pattern, str) and pattern.startswith("(?i)") and not re.search(r"[\[\\]", pattern):
            out["pattern"] = re.sub(r"[A-Za-z]", lambda m: f"[{m[0].upper()}{m[0].lower()}]", pattern[4:])
        return out
    if isinstance(schema, list):
        return [_ecma_pattern(v) for v in schema]
    return schema


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _ecma_pattern(model.model_json_schema(ref_template=REF_TEMPLATE))
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        if description:
            parameter["description"] = description
        if name not in required:
            # An empty value (``?created_after=``, as an HTML form sends it) means the parameter is absent.
            parameter["allowEmptyValue"] = True
        parameters.append(parameter)
    return parameters


def _json(media_type: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {"content": {media_type: {"schema": ref}}}


def build_openapi(app: Flask, *, title: str = "JobDash API") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    routes = list(_documented_rules(app))
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
    for *_, op, _names in routes:
        for model in op.responses.values():
            if model is not None:
                wanted[(model, "serialization")] = None
        if op.body is not None:
            wanted[(op.body, "validation")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF_TEMPLATE)
    components: dict[str, Any] = _ecma_pattern(top.get("$defs", {}))
    problem_ref = refs[(Problem, "serialization")]

    paths: dict[str, dict[str, Any]] = {}
    for path, method, endpoint, op, names in routes:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            }
            for name in names
        ]
        if op.query is not None:
            parameters += _query_parameters(op.query, components)
        responses: dict[str, Any] = {}
        for status, model in op.responses.items():
            response: dict[str, Any] = {
                "description": model.__doc__.strip() if model and model.__doc__ else ""
            }
            if model is not None:
                response.update(_json("application/json", refs[(model, "serialization")]))
            if status in op.headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "string", "format": "uri-reference"}}
                    for name, text in op.headers[status].items()
                }
            responses[str(status)] = response
        errors = set(op.errors)
        if op.query is not None or op.body is not None or names:
            errors.add(400)
        if names:
            errors.add(404)
        if op.write:
            errors.update((401, 403))
        if op.body is not None:
            errors.update((413, 415))
        for status in sorted(errors):
            description = _ERROR_TITLES[status]
            if status == 400 and op.rules:
                description += "; also when " + "; ".join(op.rules)
            responses[str(status)] = {"description": description, **_json(PROBLEM_MEDIA_TYPE, problem_ref)}
        responses["default"] = {"description": "Any other error", **_json(PROBLEM_MEDIA_TYPE, problem_ref)}
        operation: dict[str, Any] = {
            "operationId": endpoint.replace(".", "_"),
            "summary": op.summary,
            "tags": [op.tag],
            "responses": responses,
        }
        if op.rules:
            operation["x-rules"] = list(op.rules)
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            body_ref = refs[(op.body, "validation")]
            operation["requestBody"] = {"required": True, **_json("application/json", body_ref)}
        if op.write:
            operation["security"] = [{"bearerAuth": []}]
        elif op.public:
            operation["security"] = []
        paths.setdefault(path, {})[method] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": importlib.metadata.version("jobdash"),
            "description": (
                "Jobs and their status events. Errors are application/problem+json (RFC 9457). "
                "Timestamps are ISO 8601 with an offset (UTC, +00:00). List links (next, previous, "
                "Location) are root-relative URLs."
            ),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A JOBDASH_API_TOKENS token.",
                },
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "When JOBDASH_BASIC_AUTH is set.",
                },
            },
        },
        # Basic auth guards everything but the health probes only when it is configured.
        "security": [{}, {"basicAuth": []}],
    }


bp = Blueprint("openapi", __name__)
_CACHE_KEY = "jobdash.openapi"


@bp.get("/openapi.json")
@document(summary="This OpenAPI 3.1 document", tag="meta", responses={200: OpenAPIDocument})
def openapi_document() -> Response:
    """The document, built once per app from its routes and models."""
    if _CACHE_KEY not in current_app.extensions:
        current_app.extensions[_CACHE_KEY] = build_openapi(current_app)
    return jsonify(current_app.extensions[_CACHE_KEY])
