"""How the dashboard's bytes reach the browser: compressed, cached for as long as they cannot change, and
optionally from another origin (a CDN).

- **Compression.** Every answer of a compressible type above ``MIN_SIZE`` bytes is sent brotli-encoded
  when the client accepts ``br``, else gzip: the page shell, callback answers and API JSON at a level
  chosen for answers made per request (``DYNAMIC_LEVELS``: a 50-row page costs about 0.1 ms), and the
  files that never change between requests (Dash's bundles, ``assets/``) at a high level, compressed once
  per worker and kept (``STATIC_LEVELS``). A streamed answer is never buffered: it goes out as it is.
- **Caching.** A URL that names one version of a file (Dash's ``.v<version>m<mtime>.`` bundle names, an
  asset's ``?m=<mtime>`` equal to the file's) is ``Cache-Control: public, max-age=31536000, immutable``;
  any other static URL is ``no-cache`` with a validator, so a browser asks again but rarely downloads.
- **plotly.js.** Charts are drawn as SVG without it (``assets/jobdash-charts.js``); where it is still
  needed (a ``dcc.Graph``, a trace type not drawn as SVG) the browser is given
  ``assets/plotly/plotly-jobdash.min.js`` (bar, pie and scatter traces, built by
  ``assets/plotly/build/build.sh``) wherever Dash would send its full 4.7 MB bundle, loaded on demand.
- **Another origin.** ``JOBDASH_STATIC_URL`` (see :func:`dash_options`) makes browsers load ``assets/``
  from that URL and Dash's component bundles from their public CDN; the Content-Security-Policy allows
  exactly those origins (:func:`static_origins`).
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import dash
from dash.fingerprint import check_fingerprint
from flask import Response, request, send_file

from dashboard.settings import Settings

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
PLOTLY_BUNDLE = ASSETS_DIR / "plotly" / "plotly-jobdash.min.js"
# Where Dash's renderer loads plotly.js from when it serves its own files (a path it builds itself).
DASH_PLOTLY_PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"
# Dash's own CDN for its component bundles when they are not served locally (their `external_url`s).
DASH_BUNDLES_ORIGIN = "https://unpkg.com"

MIN_SIZE = 1024  # below this, the encoding's headers and CPU cost more than the bytes they save
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "image/svg+xml",
        "application/vnd.ms-fontobject",
        "font/ttf",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)
# Per-request answers: brotli 5 and gzip 5 cost ~0.1 ms on a 50-row page and reach within a few percent
# of the highest levels on such repetitive JSON. Files: compressed once per worker, so a high level;
# brotli 9, not 11, because 11 takes seconds on plotly.js for 8 % fewer bytes.
DYNAMIC_LEVELS = {"br": 5, "gzip": 5}
STATIC_LEVELS = {"br": 9, "gzip": 9}
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
STATIC_CACHE_MAX_BYTES = 64 * 1024 * 1024


def dash_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``dash.Dash``: where the browser loads bundles and assets from."""
    options: dict[str, Any] = {
        # plotly/ holds the partial plotly.js bundle (loaded on demand, not on every page) and its recipe.
        "assets_path_ignore": ["plotly"],
        "compress": False,  # this module compresses, with levels of its own
    }
    if settings.static_url:
        options.update(serve_locally=False, assets_external_path=settings.static_url)
    return options


def static_origins(settings: Settings) -> list[str]:
    """Origins other than our own that pages load scripts, styles and fonts from (for the CSP)."""
    if not settings.static_url:
        return []
    parts = urlsplit(settings.static_url)
    return sorted({f"{parts.scheme}://{parts.netloc}", DASH_BUNDLES_ORIGIN})


def _accepted_encoding() -> str | None:
    """``br`` or ``gzip``, whichever the client accepts (brotli first), or None."""
    accepted = request.accept_encodings
    for encoding in ("br", "gzip"):
        if accepted[encoding] > 0:
            return encoding
    return None


def compress(data: bytes, encoding: str, level: int) -> bytes:
    """``data`` encoded with ``encoding`` (``br`` or ``gzip``) at ``level``."""
    if encoding == "br":
        return bytes(brotli.compress(data, quality=level))
    return gzip.compress(data, compresslevel=level, mtime=0)


class StaticCache:
    """Compressed copies of files, per worker, keyed by path and content; bounded in bytes."""

    def __init__(self, max_bytes: int = STATIC_CACHE_MAX_BYTES) -> None:
        """An empty cache holding at most ``max_bytes`` of compressed data."""
        self.max_bytes = max_bytes
        self.size = 0
        self._items: dict[tuple[str, int, int, str], bytes] = {}
        self._lock = threading.Lock()

    def get(self, path: str, data: bytes, encoding: str) -> bytes:
        """``data`` (the file at ``path``) compressed with ``encoding``, from the cache when possible."""
        key = (path, len(data), zlib.crc32(data), encoding)
        with self._lock:
            found = self._items.get(key)
        if found is not None:
            return found
        encoded = compress(data, encoding, STATIC_LEVELS[encoding])
        with self._lock:
            if self.size + len(encoded) <= self.max_bytes:
                self._items[key] = encoded
                self.size += len(encoded)
        return encoded


def _asset_file(assets_prefix: str, path: str) -> Path | None:
    """The file under ``assets/`` that a request path names, or None (outside the folder, or missing)."""
    if not path.startswith(assets_prefix):
        return None
    candidate = (ASSETS_DIR / path[len(assets_prefix) :]).resolve()
    if not candidate.is_file() or ASSETS_DIR not in candidate.parents:
        return None
    return candidate


def cache_control(path: str, query_mtime: str | None, assets_prefix: str) -> str | None:
    """The ``Cache-Control`` of a static URL: immutable when it names one version of a file."""
    if path.startswith("/_dash-component-suites/"):
        return IMMUTABLE if check_fingerprint(path)[1] else REVALIDATE
    asset = _asset_file(assets_prefix, path)
    if asset is not None:
        fingerprinted = query_mtime is not None and query_mtime == _mtime_text(asset)
        return IMMUTABLE if fingerprinted else REVALIDATE
    return None


def _mtime_text(path: Path) -> str:
    """The file's modification time as Dash writes it in ``?m=`` (``os.stat().st_mtime`` as text)."""
    return str(path.stat().st_mtime)


def _compress_response(
    response: Response, static: StaticCache, files: Callable[[str], Path | None]
) -> Response:
    """``response`` encoded for the client when that is worth it and safe."""
    if request.method not in {"GET", "POST"} or response.status_code != 200:
        return response
    if response.headers.get("Content-Encoding") or "Range" in request.headers:
        return response
    if response.mimetype not in COMPRESSIBLE:
        return response
    encoding = _accepted_encoding()
    if encoding is None:
        return response
    is_static = request.path.startswith(STATIC_PREFIXES)
    if response.direct_passthrough:
        # A file sent by Flask (assets/, plotly.js): compress the file itself, never the stream object.
        path = files(request.path)
        if path is None:
            return response
        data = path.read_bytes()
    elif response.is_streamed:
        return response  # a generator: it must go out as it is produced
    else:
        data = response.get_data()
    if len(data) < MIN_SIZE:
        return response
    encoded = (
        static.get(request.path, data, encoding)
        if is_static
        else compress(data, encoding, DYNAMIC_LEVELS[encoding])
    )
    response.direct_passthrough = False
    response.set_data(encoded)
    response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)  # the bytes differ from the identity encoding's
    return response


def _plotly_bundle() -> Response:
    """The partial plotly.js bundle, revalidated by the browser (its URL carries no version)."""
    response = send_file(PLOTLY_BUNDLE, mimetype="text/javascript", conditional=True, etag=True)
    response.headers["Cache-Control"] = REVALIDATE
    return response


def init_delivery(app: dash.Dash, settings: Settings) -> None:
    """Serve the partial plotly.js, compress answers and set the caching headers of static files."""
    server = app.server
    static = StaticCache()
    server.extensions["jobdash.static_cache"] = static
    prefix = app.config.requests_pathname_prefix
    assets_prefix = prefix + app.config.assets_url_path.strip("/") + "/"
    plotly_path = prefix + DASH_PLOTLY_PATH
    if settings.static_url:
        # Dash would point the renderer at plotly's full bundle on plotly's CDN: use ours from the CDN.
        app._plotlyjs_url = app.get_asset_url("plotly/" + PLOTLY_BUNDLE.name)

    def plotly_instead_of_full_bundle() -> Response | None:
        if request.method in {"GET", "HEAD"} and request.path == plotly_path:
            return _plotly_bundle()
        return None

    def file_of(path: str) -> Path | None:
        return PLOTLY_BUNDLE if path == plotly_path else _asset_file(assets_prefix, path)

    def finish(response: Response) -> Response:
        if request.path.startswith(STATIC_PREFIXES) and response.status_code in {200, 304}:
            policy = cache_control(request.path, request.args.get("m"), assets_prefix)
            if policy is not None and request.path != plotly_path:
                response.headers["Cache-Control"] = policy
        return _compress_response(response, static, file_of)

    server.before_request(plotly_instead_of_full_bundle)
    server.after_request(finish)
