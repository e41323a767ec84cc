"""Dashboard test helpers: the page module a test file is about, and components rendered as JSON text."""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def page(app: Any, request: pytest.FixtureRequest) -> ModuleType:
    """The page module named by the test file's ``PAGE`` (imported once an app has registered pages)."""
    return importlib.import_module(request.module.PAGE)


def text(value: object) -> str:
    """Components (and anything else) as the JSON Dash would send, to search for what they show."""
    return json.dumps(
        value,
        ensure_ascii=False,
        default=lambda c: c.to_plotly_json() if hasattr(c, "to_plotly_json") else str(c),
    )
