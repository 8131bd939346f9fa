"""`/docs` (Swagger UI) and `/redoc` (ReDoc), with their scripts and styles served by this
server from the installed `fastapi-offline` package: no CDN, so they work on air-gapped sites.

No inline script runs (Swagger UI starts from `swagger-init.js`, ReDoc from its `<redoc>`
element); ReDoc's styled-components write `<style>` elements, hence `style-src
'unsafe-inline'` on these two pages only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from parley.core.errors import RouteNotFound
from parley.core.page_headers import page_headers

ASSETS_PREFIX = "/docs/assets"

# The installed package's files this server hands out, by name (nothing else under it).
_PACKAGE_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}

PAGE_HEADERS = page_headers(
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
)
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}

_SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "%(openapi_url)s",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  showExtensions: true,
  persistAuthorization: true
});
"""

_SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s - Swagger UI</title>
<link rel="icon" type="image/png" href="%(assets)s/favicon.png">
<link rel="stylesheet" href="%(assets)s/swagger-ui.css">
</head>
<body>
<noscript>This page needs JavaScript; the document itself is at
<a href="%(openapi_url)s">%(openapi_url)s</a>.</noscript>
<div id="swagger-ui"></div>
<script src="%(assets)s/swagger-ui-bundle.js"></script>
<script src="%(assets)s/swagger-init.js"></script>
</body>
</html>
"""

_REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s - ReDoc</title>
<link rel="icon" type="image/png" href="%(assets)s/favicon.png">
</head>
<body>
<redoc spec-url="%(openapi_url)s"></redoc>
<script src="%(assets)s/redoc.standalone.js"></script>
</body>
</html>
"""


def assets_dir() -> Path:
    """Where the installed package keeps Swagger UI's and ReDoc's files."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def docs_router(title: str, openapi_url: str) -> APIRouter:
    """Routes for /docs, /redoc and their assets under /docs/assets."""
    router = APIRouter(include_in_schema=False)
    fields = {"title": title, "openapi_url": openapi_url, "assets": ASSETS_PREFIX}
    folder = assets_dir()

    @router.get("/docs")
    async def swagger_page() -> HTMLResponse:
        return HTMLResponse(_SWAGGER_PAGE % fields, headers=PAGE_HEADERS)

    @router.get("/redoc")
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(_REDOC_PAGE % fields, headers=PAGE_HEADERS)

    @router.get(ASSETS_PREFIX + "/{name}")
    async def asset(name: str) -> Response:
        if name == "swagger-init.js":
            return Response(
                _SWAGGER_INIT % fields,
                media_type="text/javascript; charset=utf-8",
                headers=ASSET_HEADERS,
            )
        if name not in _PACKAGE_ASSETS:
            raise RouteNotFound()
        return FileResponse(folder / name, media_type=_PACKAGE_ASSETS[name], headers=ASSET_HEADERS)

    return router
