"""Delivery: compressed answers, immutable caching of versioned files, the partial plotly.js, another
origin for static files (and the Content-Security-Policy that allows it)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import brotli
import pytest
from flask import Response

from dashboard import create_app
from dashboard.delivery import DASH_PLOTLY_PATH, IMMUTABLE, MIN_SIZE, PLOTLY_BUNDLE, REVALIDATE
from dashboard.settings import Settings, SettingsError
from tests.dashboard.dash_requests import post_callback

BOTH = {"Accept-Encoding": "gzip, deflate, br"}
GZIP_ONLY = {"Accept-Encoding": "gzip"}


def decoded(response: Any) -> bytes:
    """The body of ``response`` as the browser sees it after decoding."""
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return bytes(brotli.decompress(response.data))
    if encoding == "gzip":
        return gzip.decompress(response.data)
    assert encoding is None
    return bytes(response.data)


def without_page_token(html: bytes) -> bytes:
    """The shell without the token Dash signs for each page load."""
    return re.sub(rb'"end_id":\s*"[^"]*"', b"", html)


def shell_urls(html: str) -> list[str]:
    """Every script and stylesheet URL of the page shell."""
    return re.findall(r'<(?:script|link)[^>]*?(?:src|href)="([^"]+)"', html)


def test_the_page_shell_is_brotli_when_accepted_else_gzip_else_plain(client: Any) -> None:
    plain = client.get("/jobs")
    assert plain.headers.get("Content-Encoding") is None
    for headers, encoding in ((BOTH, "br"), (GZIP_ONLY, "gzip")):
        answer = client.get("/jobs", headers=headers)
        assert answer.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in answer.headers["Vary"]
        assert without_page_token(decoded(answer)) == without_page_token(plain.data)
        assert len(answer.data) < len(plain.data) / 2
    refused = client.get("/jobs", headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert refused.headers.get("Content-Encoding") is None


def test_api_json_and_callback_answers_are_compressed_above_a_small_size(
    client: Any, job_factory: Any
) -> None:
    for number in range(30):
        job_factory(name=f"compressed-{number}")
    page = client.get("/api/jobs/", headers=BOTH)
    assert page.headers["Content-Encoding"] == "br"
    assert decoded(page).startswith(b'{"results"')
    small = client.get("/livez", headers=BOTH)
    assert len(small.data) < MIN_SIZE and small.headers.get("Content-Encoding") is None
    values, triggered = {"overview-range.value": "30d"}, ["overview-range.value"]
    answer = post_callback(client, "overview-kpis.children", values, triggered=triggered)
    assert answer.status_code == 200 and answer.headers.get("Content-Encoding") is None  # not accepted
    compressed = post_callback(client, "overview-kpis.children", values, triggered=triggered, headers=BOTH)
    assert compressed.headers["Content-Encoding"] == "br"
    assert b'"overview-kpis"' in decoded(compressed)


def test_versioned_files_are_immutable_and_the_rest_revalidated(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    urls = [url for url in shell_urls(html) if url.startswith(("/_dash-component-suites/", "/assets/"))]
    assert any(url.startswith("/assets/") for url in urls)
    assert any(url.startswith("/_dash-component-suites/") for url in urls)
    for url in urls:
        answer = client.get(url, headers=BOTH)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == IMMUTABLE, url
        if len(decoded(answer)) >= MIN_SIZE:
            assert answer.headers["Content-Encoding"] == "br", url
    # The same files without their version are revalidated, never kept blindly.
    asset = next(url for url in urls if url.startswith("/assets/")).split("?")[0]
    assert client.get(asset).headers["Cache-Control"] == REVALIDATE
    assert client.get(asset + "?m=12").headers["Cache-Control"] == REVALIDATE
    bundle = next(url for url in urls if "dash_renderer" in url)
    unversioned = re.sub(r"\.v[\w-]+m[0-9a-f]+\.", ".", bundle)
    assert client.get(unversioned).headers["Cache-Control"] == REVALIDATE


def test_a_compressed_file_revalidates_to_304(client: Any) -> None:
    first = client.get("/assets/bootstrap.min.css", headers=BOTH)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')  # the compressed bytes are not the file's own
    again = client.get("/assets/bootstrap.min.css", headers={**BOTH, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_charts_get_the_partial_plotly_bundle(client: Any) -> None:
    answer = client.get("/" + DASH_PLOTLY_PATH, headers=BOTH)
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] == "br"
    assert answer.headers["Cache-Control"] == REVALIDATE
    body = decoded(answer)
    assert body == PLOTLY_BUNDLE.read_bytes()
    assert len(body) < 1_500_000  # plotly's full bundle is 4.7 MB
    again = client.get("/" + DASH_PLOTLY_PATH, headers={**BOTH, "If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304
    # It is loaded on demand by the chart component: never a script tag of every page.
    assert "plotly" not in " ".join(shell_urls(client.get("/jobs").get_data(as_text=True)))


def test_a_streamed_answer_is_never_buffered(app: Any) -> None:
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for number in range(3):
            produced.append(number)
            yield b"x" * 4096

    app.server.add_url_rule("/test-stream", "test_stream", lambda: Response(chunks(), mimetype="text/plain"))
    answer = app.server.test_client().get("/test-stream", headers=BOTH, buffered=False)
    assert answer.headers.get("Content-Encoding") is None
    # Compressing would have read all three chunks; only the first is taken to start the answer.
    assert produced == [0]
    assert b"".join(answer.response) == b"x" * 12288
    answer.close()


@pytest.fixture
def cdn_app(settings: Settings) -> Iterator[Any]:
    dash_app = create_app(settings.replace(static_url="https://static.example.com/jobdash/0.1.0"))
    yield dash_app
    dash_app.server.extensions["jobdash.database"].dispose()


def test_static_files_can_come_from_another_origin_allowed_by_the_policy(cdn_app: Any) -> None:
    client = cdn_app.server.test_client()
    answer = client.get("/jobs")
    urls = shell_urls(answer.get_data(as_text=True))
    scripts = [url for url in urls if url.endswith(".js") or ".js?" in url]
    assert any(url.startswith("https://static.example.com/jobdash/0.1.0/assets/") for url in urls)
    assert any(url.startswith("https://unpkg.com/") for url in scripts)
    policy = dict(
        [*part.split(" ", 1), ""][:2] for part in answer.headers["Content-Security-Policy"].split("; ")
    )
    for url in urls:
        parts = urlsplit(url)
        if not parts.netloc:
            continue
        origin = f"{parts.scheme}://{parts.netloc}"
        directive = "script-src" if url in scripts else "style-src"
        assert origin in policy[directive].split(), (url, directive)
    assert "https://static.example.com" in policy["font-src"].split()
    # The charts' plotly.js comes from the same place, as our partial bundle.
    config = re.search(r'<script id="_dash-config"[^>]*>(.*?)</script>', answer.get_data(as_text=True), re.S)
    assert config is not None
    assert (
        json.loads(config.group(1))["plotlyjs_url"]
        == "https://static.example.com/jobdash/0.1.0/assets/plotly/" + PLOTLY_BUNDLE.name
    )


def test_the_static_url_setting_must_be_an_absolute_http_url() -> None:
    assert Settings.from_env({"JOBDASH_STATIC_URL": "https://cdn.example.com/x"}).static_url == (
        "https://cdn.example.com/x/"
    )
    assert Settings.from_env({}).static_url is None
    for bad in ("cdn.example.com", "ftp://cdn.example.com/", "https://cdn.example.com/?v=1", "/static"):
        with pytest.raises(SettingsError, match="JOBDASH_STATIC_URL"):
            Settings.from_env({"JOBDASH_STATIC_URL": bad})
