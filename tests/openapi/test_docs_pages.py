"""/docs and /redoc work without the internet: every script, style and icon comes from this
server (the installed fastapi-offline package), under a CSP that runs no inline script."""

from __future__ import annotations

import re

import httpx
import pytest

_ASSET = re.compile(r'(?:src|href)="([^"]+)"')
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_page_loads_its_assets_from_this_server(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"https?://", html), "the page names another host"
    assert "<script>" not in html, "inline scripts do not run under the CSP"
    assets = _ASSET.findall(html)
    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        expected = next(kind for suffix, kind in _TYPES.items() if url.endswith(suffix))
        assert asset.headers["content-type"].startswith(expected), url
        assert len(asset.content) > 0


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_page_has_a_csp_that_runs_only_own_scripts(
    client: httpx.AsyncClient, page: str
) -> None:
    policy = (await client.get(page)).headers["content-security-policy"]
    directives = dict(item.strip().split(" ", 1) for item in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


async def test_swagger_ui_reads_this_servers_document(client: httpx.AsyncClient) -> None:
    init = await client.get("/docs/assets/swagger-init.js")
    assert init.status_code == 200
    assert '"/openapi.json"' in init.text
    assert "validatorUrl: null" in init.text  # no request to validator.swagger.io
    assert "/openapi.json" in (await client.get("/redoc")).text


async def test_only_the_known_assets_are_served(client: httpx.AsyncClient) -> None:
    for name in ("core.py", "..%2F__init__.py", "nothing.js"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
