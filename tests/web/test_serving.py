"""The web client served by `parley serve`: its page, its assets, and the API left alone.

The session's server serves the build `make install` made in web/dist (the default
WEB_DIST_DIR of a source checkout).
"""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, start_server
from tests.support import Server, assert_error

BUILD = ROOT / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"


def _csp(response: httpx.Response) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources}."""
    directives = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, _, sources = part.strip().partition(" ")
        directives[name] = sources
    return directives


@pytest.fixture(scope="module")
def built_assets() -> dict[str, str]:
    """The script and stylesheet the built index.html loads: {"js": path, "css": path}."""
    index = BUILD / "index.html"
    assert index.is_file(), "web/dist is not built: run `make install`"
    html = index.read_text()
    script = re.search(r'<script[^>]+src="(/assets/[^"]+\.js)"', html)
    style = re.search(r'<link[^>]+href="(/assets/[^"]+\.css)"', html)
    assert script is not None and style is not None, html
    return {"js": script.group(1), "css": style.group(1)}


async def test_root_serves_the_page_with_a_strict_policy_and_no_cache(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (BUILD / "index.html").read_text()
    assert response.headers["cache-control"] == "no-cache"
    policy = _csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]


async def test_the_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    html = (await client.get("/")).text
    assert re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html) is None, html
    assert "<style" not in html and "style=" not in html, html


@pytest.mark.parametrize("path", ["/login", "/signup", "/c/3fa85f64-5717-4562-b3fc-2c963f66afa6"])
async def test_client_routes_serve_the_page(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.text == (BUILD / "index.html").read_text()
    assert "content-security-policy" in response.headers


async def test_script_asset_is_immutable_javascript(
    client: httpx.AsyncClient, built_assets: dict[str, str]
) -> None:
    response = await client.get(built_assets["js"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.content == (BUILD / built_assets["js"].lstrip("/")).read_bytes()


async def test_stylesheet_asset_is_immutable_css(
    client: httpx.AsyncClient, built_assets: dict[str, str]
) -> None:
    response = await client.get(built_assets["css"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == IMMUTABLE


async def test_unknown_asset_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/assets/index-{secrets.token_hex(4)}.js")
    assert_error(response, 404, "NOT_FOUND")
    assert "immutable" not in response.headers.get("cache-control", "")


@pytest.mark.parametrize(
    "path", ["/assets/../index.html", "/assets/..%2Findex.html", "/assets/%2Fetc%2Fpasswd"]
)
async def test_asset_names_cannot_leave_the_assets_folder(
    client: httpx.AsyncClient, path: str
) -> None:
    # httpx would normalise `..` away: send the path as written.
    request = client.build_request("GET", path)
    request.url = request.url.copy_with(raw_path=path.encode())
    response = await client.send(request)
    assert_error(response, 404, "NOT_FOUND")


async def test_api_routes_answer_as_before(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    openapi = await client.get("/openapi.json")
    assert openapi.status_code == 200
    # The client's routes are not part of the API's description.
    assert not {"/", "/login", "/assets/{name}"} & set(openapi.json()["paths"])
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "path", ["/no-such-page", "/c/not-a-conversation", "/conversations/nothing/here", "/app"]
)
async def test_other_paths_stay_the_api_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert_error(response, 404, "NOT_FOUND")
    assert "content-security-policy" not in response.headers


async def test_an_api_path_needs_its_token_as_before(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/conversations"), 401, "UNAUTHORIZED")


@pytest.fixture(scope="module")
def dist_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="parley-web-dist-") as folder:
        yield Path(folder).resolve()


@pytest.fixture(scope="module")
def unbuilt_server(backend_env: dict[str, str], dist_dir: Path) -> Iterator[Server]:
    running = start_server(backend_env, {"WEB_DIST_DIR": str(dist_dir)})
    yield running
    running.stop()


@pytest.fixture
async def unbuilt_client(unbuilt_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=unbuilt_server.url, timeout=30) as http:
        yield http


def _write_build(dist_dir: Path) -> None:
    (dist_dir / "assets").mkdir()
    (dist_dir / "index.html").write_text("<!doctype html><title>elsewhere</title>")
    (dist_dir / "assets" / "app-0123abcd.js").write_text("export {};")


async def test_without_a_build_the_page_is_a_clear_404_then_served_once_built(
    unbuilt_client: httpx.AsyncClient, dist_dir: Path
) -> None:
    error = assert_error(await unbuilt_client.get("/"), 404, "WEB_CLIENT_NOT_BUILT")
    assert str(dist_dir) not in str(error)  # the server's filesystem stays private
    assert (await unbuilt_client.get("/health")).status_code == 200

    # WEB_DIST_DIR names the build; one made after start-up is served without a restart.
    _write_build(dist_dir)
    page = await unbuilt_client.get("/")
    assert page.status_code == 200
    assert page.text == "<!doctype html><title>elsewhere</title>"
    asset = await unbuilt_client.get("/assets/app-0123abcd.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == IMMUTABLE
