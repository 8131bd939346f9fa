"""Two instances behind nginx (Debian's package) with the repository's configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.conftest import BACKEND, ROOT, start_server
from tests.ports import serve_on_free_port
from tests.realtime.sockets import Recorder
from tests.support import create_conversation, register, send

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="several instances need PostgreSQL and Redis"
)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def balanced(backend_env: dict[str, str]) -> Iterator[str]:
    """nginx on a free port in front of two fresh instances; yields its URL."""
    first, second = start_server(backend_env), start_server(backend_env)
    site = (ROOT / "deploy" / "nginx" / "parley.conf").read_text()
    site = site.replace("127.0.0.1:8001", first.url.removeprefix("http://")).replace(
        "127.0.0.1:8002", second.url.removeprefix("http://")
    )
    prefix = Path(tempfile.mkdtemp(prefix="parley-nginx-"))
    (prefix / "logs").mkdir()
    (prefix / "nginx.conf").write_text(
        "worker_processes 1;\npid nginx.pid;\nerror_log logs/error.log;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n"
        "  client_body_temp_path tmp; proxy_temp_path tmp;\n"
        "  include parley.conf;\n}\n"
    )
    (prefix / "tmp").mkdir()

    def launch(port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        listen = f"listen 127.0.0.1:{port}"
        (prefix / "parley.conf").write_text(site.replace("listen 127.0.0.1:8080", listen))
        return subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    nginx = serve_on_free_port(
        "nginx",
        launch,
        lambda url: httpx.get(url + "/health", timeout=1).status_code == 200,
        timeout=20,
    )
    url = nginx.url
    yield url
    nginx.stop()
    os.unlink(nginx.log_path)
    first.stop()
    second.stop()
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture
async def via_nginx(balanced: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=balanced, timeout=30) as http:
        yield http


async def test_clients_through_nginx_exchange_messages_typing_and_presence(
    balanced: str, via_nginx: httpx.AsyncClient
) -> None:
    frank, grace = await register(via_nginx, "frank"), await register(via_nginx, "grace")
    conversation = await create_conversation(via_nginx, frank, [grace], "DIRECT")
    sockets: list[Recorder] = []
    try:
        # Several sockets each, so both instances hold some (least_conn spreads them).
        for user in (grace, frank, grace, frank):
            recorder = Recorder(ignore=frozenset())
            await recorder.client.connect(
                balanced, auth={"token": user.token}, transports=["websocket"]
            )
            sockets.append(recorder)
        watcher, typist = sockets[0], sockets[1]
        assert (await watcher.next_of("user_status_changed"))["userId"] == grace.id
        assert (await watcher.next_of("user_status_changed"))["userId"] == frank.id

        await typist.call("typing_start", {"conversationId": conversation["id"]})
        message = await send(via_nginx, frank, conversation["id"], "through nginx")

        typing = await watcher.next_of("user_typing")
        assert (typing["userId"], typing["isTyping"]) == (frank.id, True)
        assert (await watcher.next_of("new_message"))["message"]["id"] == message["id"]
        for other in sockets[2:]:  # every socket of both users, wherever it is
            event, data = await other.next()
            while event != "new_message":
                event, data = await other.next()
            assert data["message"]["id"] == message["id"]
    finally:
        for recorder in sockets:
            await recorder.close()
