"""Flask's JSON through orjson: several times faster, and ISO 8601 timestamps with their offset."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

# Naive datetimes only come from SQLite, where every stored time is UTC: say so instead of no zone.
_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class OrjsonProvider(DefaultJSONProvider):
    """A JSON provider backed by orjson; types orjson lacks fall back to Flask's defaults."""

    # Field order is part of how a response reads (results first, then links and counts): keep it.
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize ``obj`` to a JSON string."""
        return self.dumps_bytes(obj, **kwargs).decode()

    def dumps_bytes(self, obj: Any, **kwargs: Any) -> bytes:
        """Serialize ``obj`` to UTF-8 JSON bytes (what responses need, without a decode and re-encode)."""
        option = _OPTIONS
        if kwargs.get("sort_keys", self.sort_keys):
            option |= orjson.OPT_SORT_KEYS
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(obj, default=kwargs.get("default", self.default), option=option)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text."""
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON response for ``jsonify``-style arguments."""
        obj = self._prepare_response_obj(args, kwargs)
        return Response(self.dumps_bytes(obj), mimetype=self.mimetype)
