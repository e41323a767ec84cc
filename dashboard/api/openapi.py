"""The OpenAPI 3.1 document, generated from the routes Flask really serves and the pydantic models.

Each view carries an :class:`Operation` (set by :func:`document`); :func:`build_openapi` walks the app's
URL map, so a path, a method, a parameter or a field cannot be documented differently from how it is
served. Who may call a view is not documented here but declared at its route (``@requires_write_token``,
``@public``): the document reads that declaration (``dashboard/security.py``).
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
from dashboard.security import Access, access_of

F = TypeVar("F", bound=Callable[..., Any])
REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Rules shared by several operations' ``rules`` (see Operation).
CURSOR_RULE = "the cursor is not one this list gave out (tampered, foreign or stale)"
TIMES_RULE = "a time lies outside the years 1970 to 9999"
TIMESTAMP_RULE = "the timestamp lies more than JOBDASH_MAX_FUTURE_SKEW_S seconds ahead, or before 1970"
_HEADER_SCHEMAS = {"Location": {"type": "string", "format": "uri-reference"}}
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
    errors: tuple[int, ...] = ()
    headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # Successes whose body is not JSON: status -> media type (the body is text, e.g. ``text/csv``).
    media: Mapping[int, str] = field(default_factory=dict)
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


@dataclass(frozen=True)
class _Route:
    """One documented method of one URL rule."""

    path: str  # in OpenAPI's spelling, {name} for each path parameter
    method: str
    endpoint: str
    op: Operation
    access: Access
    path_names: list[str]


def _documented_routes(app: Flask) -> Iterator[_Route]:
    """Each documented method of each rule of ``app``, by path."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        op = operation_of(view)
        if op is None:
            continue
        names = [m.group(2) for m in _PATH_PARAMETER.finditer(rule.rule)]
        path = _PATH_PARAMETER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield _Route(path, method.lower(), rule.endpoint, op, access_of(view), names)


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


class _Schemas:
    """The JSON Schemas of every model the routes name, and a ``$ref`` to each."""

    def __init__(self, routes: list[_Route]) -> None:
        wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
        for route in routes:
            for model in route.op.responses.values():
                if model is not None:
                    wanted[(model, "serialization")] = None
            if route.op.body is not None:
                wanted[(route.op.body, "validation")] = None
        self._refs, top = models_json_schema(list(wanted), ref_template=REF_TEMPLATE)
        self.components: dict[str, Any] = _ecma_pattern(top.get("$defs", {}))

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode = "serialization") -> dict[str, Any]:
        """The ``$ref`` of ``model``'s schema."""
        return self._refs[(model, mode)]

    def problem(self, description: str) -> dict[str, Any]:
        """A response described by ``description`` whose body is a problem."""
        return {"description": description, **_json(PROBLEM_MEDIA_TYPE, self.ref(Problem))}


def _parameters(route: _Route, schemas: _Schemas) -> list[dict[str, Any]]:
    """The path parameters (positive 64-bit ids), then the query model's parameters."""
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        }
        for name in route.path_names
    ]
    if route.op.query is not None:
        parameters += _query_parameters(route.op.query, schemas.components)
    return parameters


def _success_responses(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    """Each documented success, with its model and headers."""
    responses: dict[str, Any] = {}
    for status, model in op.responses.items():
        response: dict[str, Any] = {"description": model.__doc__.strip() if model and model.__doc__ else ""}
        if model is not None:
            response.update(_json("application/json", schemas.ref(model)))
        if status in op.media:
            response["content"] = {op.media[status]: {"schema": {"type": "string"}}}
        if status in op.headers:
            response["headers"] = {
                name: {"description": text, "schema": _HEADER_SCHEMAS.get(name, {"type": "string"})}
                for name, text in op.headers[status].items()
            }
        responses[str(status)] = response
    return responses


def _error_statuses(route: _Route) -> list[int]:
    """The errors a route can answer, from what it takes and who may call it."""
    op, errors = route.op, set(route.op.errors)
    if op.query is not None or op.body is not None or route.path_names:
        errors.add(400)
    if route.path_names:
        errors.add(404)
    if route.access == "write":
        errors.update((401, 403))
    if op.body is not None:
        errors.update((413, 415))
    return sorted(errors)


def _responses(route: _Route, schemas: _Schemas) -> dict[str, Any]:
    """Successes, then each possible error as a problem, then any other error."""
    responses = _success_responses(route.op, schemas)
    for status in _error_statuses(route):
        description = _ERROR_TITLES[status]
        if status == 400 and route.op.rules:
            description += "; also when " + "; ".join(route.op.rules)
        responses[str(status)] = schemas.problem(description)
    responses["default"] = schemas.problem("Any other error")
    return responses


def _operation(route: _Route, schemas: _Schemas) -> dict[str, Any]:
    """The OpenAPI operation object of one route."""
    op = route.op
    operation: dict[str, Any] = {
        "operationId": route.endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": _responses(route, schemas),
    }
    if op.rules:
        operation["x-rules"] = list(op.rules)
    parameters = _parameters(route, schemas)
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            **_json("application/json", schemas.ref(op.body, "validation")),
        }
    if route.access == "write":
        operation["security"] = [{"bearerAuth": []}]
    elif route.access == "public":
        operation["security"] = []
    return operation


_INFO_DESCRIPTION = (
    "Jobs and their status events. Errors are application/problem+json (RFC 9457). "
    "Timestamps are ISO 8601 with an offset (UTC, +00:00). List links (next, previous, "
    "Location) are root-relative URLs."
)
_SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A JOBDASH_API_TOKENS token."},
    "basicAuth": {"type": "http", "scheme": "basic", "description": "When JOBDASH_BASIC_AUTH is set."},
}


def build_openapi(app: Flask, *, title: str = "JobDash API") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    routes = list(_documented_routes(app))
    schemas = _Schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": importlib.metadata.version("jobdash"),
            "description": _INFO_DESCRIPTION,
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": _SECURITY_SCHEMES},
        # Basic auth guards everything but the public routes, and only when it is configured.
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
