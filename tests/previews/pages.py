"""A page server on loopback for the link preview tests: the kinds of pages previews meet,
and a log of every request it was sent (which address it came in on, which path)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

BIG_PAGE_BYTES = 2 * 1024 * 1024
CHUNK = b"<p>" + b"x" * 65_530 + b"</p>\n"


def opengraph_page(tag: str) -> str:
    return f"""<!doctype html><html><head>
<meta charset="utf-8">
<title>Plain title {tag}</title>
<meta property="og:title" content="Launch notes &amp; more {tag}">
<meta property="og:description" content="What shipped\tthis week\x07, in short.">
<meta property="og:image" content="/img/{tag}.png">
<meta property="og:site_name" content="Parley Test Pages">
<meta name="description" content="the plain description">
</head><body><h1>{tag}</h1></body></html>"""


def twitter_page(tag: str) -> str:
    return f"""<html><head>
<meta name="twitter:title" content="Card {tag}">
<meta name="twitter:description" content="A card's description">
<meta name="twitter:image" content="https://cdn.example.test/{tag}.jpg">
</head></html>"""


def title_page(tag: str) -> str:
    return f"<html><head><title>  Only a\n title {tag} </title></head><body>hi</body></html>"


@dataclass
class PageServer:
    """Serves on 127.0.0.1 and 127.0.0.2 (and ::1 where the machine has it) on one port."""

    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)
    # `/held/{tag}`: the request has arrived / the test lets the page answer.
    arrived: dict[str, asyncio.Event] = field(default_factory=dict)
    released: dict[str, asyncio.Event] = field(default_factory=dict)

    def gate(self, tag: str) -> tuple[asyncio.Event, asyncio.Event]:
        """The (arrived, released) events of `/held/{tag}`."""
        return (
            self.arrived.setdefault(tag, asyncio.Event()),
            self.released.setdefault(tag, asyncio.Event()),
        )

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def requested(self, fragment: str) -> list[tuple[str, str]]:
        """The requests (address, path with query) whose path contains `fragment`."""
        return [(address, path) for address, path in self.requests if fragment in path]


def _app(server: PageServer) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        server.requests.append((str(sockname[0]) if sockname else "?", request.path_qs))
        return await handler(request)

    async def opengraph(request: web.Request) -> web.Response:
        return web.Response(
            text=opengraph_page(request.match_info["tag"]), content_type="text/html"
        )

    async def twitter(request: web.Request) -> web.Response:
        return web.Response(text=twitter_page(request.match_info["tag"]), content_type="text/html")

    async def title(request: web.Request) -> web.Response:
        return web.Response(text=title_page(request.match_info["tag"]), content_type="text/html")

    async def big(request: web.Request) -> web.StreamResponse:
        """2 MiB of HTML, chunked (no Content-Length): only reading tells its size."""
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        sent = 0
        with contextlib.suppress(ConnectionError):
            await response.write(b"<html><head><title>big</title></head><body>")
            while sent < BIG_PAGE_BYTES:
                await response.write(CHUNK)
                sent += len(CHUNK)
            await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.StreamResponse:
        """Headers at once, then a byte every 100 ms: never done within a preview's time."""
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b"<html><head><title>slow</title>")
            for _ in range(600):
                await asyncio.sleep(0.1)
                await response.write(b" ")
        return response

    async def held(request: web.Request) -> web.Response:
        """A title page that answers only once the test releases it."""
        name = request.match_info["tag"]
        arrived, released = server.gate(name)
        arrived.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), 30)
        return web.Response(text=title_page(name), content_type="text/html")

    async def pdf(_request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7 not html", content_type="application/pdf")

    async def chain(request: web.Request) -> web.Response:
        """`/redirect/{n}/{tag}`: n relative redirects, then the OpenGraph page."""
        hops, tag = int(request.match_info["hops"]), request.match_info["tag"]
        target = f"/og/{tag}" if hops <= 1 else f"/redirect/{hops - 1}/{tag}"
        raise web.HTTPFound(target)

    async def to(request: web.Request) -> web.Response:
        """`/to?location=...`: one redirect anywhere (another address, another scheme)."""
        raise web.HTTPFound(request.query["location"])

    app = web.Application(middlewares=[record])
    app.router.add_get("/og/{tag}", opengraph)
    app.router.add_get("/twitter/{tag}", twitter)
    app.router.add_get("/title/{tag}", title)
    app.router.add_get("/big/{tag}", big)
    app.router.add_get("/slow/{tag}", slow)
    app.router.add_get("/held/{tag}", held)
    app.router.add_get("/pdf/{tag}", pdf)
    app.router.add_get("/redirect/{hops}/{tag}", chain)
    app.router.add_get("/to", to)
    return app


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[PageServer]:
    hosts = ["127.0.0.2"] + (["::1"] if has_ipv6_loopback() else [])
    for _attempt in range(3):
        server = PageServer(port=0)
        runner = web.AppRunner(_app(server), handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        # Port 0 on the first address: the port bound is ours. The same port on the others
        # may have been taken meanwhile by another test worker: then all again on another.
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        server.port = runner.addresses[0][1]
        try:
            for host in hosts:
                await web.TCPSite(runner, host, server.port).start()
        except OSError:
            await runner.cleanup()
            continue
        break
    else:
        raise RuntimeError("no port free on every loopback address")
    try:
        yield server
    finally:
        await runner.cleanup()
