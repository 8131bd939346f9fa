"""Finding files in the web client's build without ever leaving it.

The build is read from disk on each request rather than at start-up, so a server started
before `npm run build` serves the client as soon as the build exists.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from parley.core.errors import RouteNotFound, WebClientNotBuilt

# Set here rather than guessed: a system's mime.types may lack them or name JavaScript
# `application/x-javascript`, and browsers refuse module scripts of the wrong type (nosniff).
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".json": "application/json",
}


def content_type(path: Path) -> str:
    """The Content-Type of a built file, by its suffix."""
    known = _CONTENT_TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    guessed, _encoding = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def index_file(dist_dir: Path) -> Path:
    """The built `index.html`; `WebClientNotBuilt` when there is no build."""
    index = dist_dir / "index.html"
    if not index.is_file():
        # The server's own path stays out of the answer (WEB_DIST_DIR says where it looks).
        raise WebClientNotBuilt(
            "The web client is not built: run `make install` (or `npm run build` in web/)"
        )
    return index


def asset_file(dist_dir: Path, name: str) -> Path:
    """A file under the build's `assets/`; `RouteNotFound` for anything else, including a
    name that would climb out of it (`..`, an absolute path, a symlink pointing away)."""
    assets = (dist_dir / "assets").resolve()
    candidate = (assets / name).resolve()
    if not candidate.is_relative_to(assets) or not candidate.is_file():
        raise RouteNotFound("No such asset")
    return candidate
