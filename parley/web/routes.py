"""HTTP routes of the web client: its page and its hashed assets.

The page answers only at `/` and the client's own routes (`CLIENT_ROUTES`), never as a
catch-all: every other unknown path stays the API's 404 `NOT_FOUND`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from parley.core.page_headers import page_headers
from parley.web.build import asset_file, content_type, index_file

# Paths the client routes itself (web/src/router.ts); none of them is an API path. A
# conversation id that is not a UUID matches nothing (the API's 404).
CLIENT_ROUTES = ("/", "/login", "/signup", "/c/{conversation_id:uuid}")

# No inline script or style runs; the socket connects to this origin (ws: and wss: for the
# websocket transport, which 'self' does not cover in every browser).
PAGE_HEADERS = page_headers(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self' ws: wss:",
)

# Asset names carry a hash of their content (Vite), so a name never changes meaning.
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


def web_router(dist_dir: Path) -> APIRouter:
    """Routes serving the build in `dist_dir` (Settings.web_dist_dir)."""
    router = APIRouter(include_in_schema=False)

    async def page() -> FileResponse:
        return FileResponse(
            index_file(dist_dir), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
        )

    for path in CLIENT_ROUTES:
        router.add_api_route(path, page, methods=["GET", "HEAD"])

    @router.api_route("/assets/{name:path}", methods=["GET", "HEAD"])
    async def asset(name: str) -> FileResponse:
        found = asset_file(dist_dir, name)
        return FileResponse(found, media_type=content_type(found), headers=ASSET_HEADERS)

    return router
