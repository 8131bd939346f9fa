"""Fan-out with Redis broken (a private Redis): sockets on the instance that emits are served
without it, and the instances reach each other through a Redis that wants a password."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest
import socketio

from tests.conftest import BACKEND, BIN, ROOT, start_server
from tests.faults.services import PrivateRedis
from tests.ports import answers, serve_on_free_port
from tests.realtime.sockets import TIMEOUT, Recorder
from tests.support import Server, create_conversation, register, send

UVICORN = str(BIN / "uvicorn")

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="breaks a private Redis: Redis fan-out runs on postgres only"
)


def _stop(server: Server) -> None:
    server.stop()
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
        os.unlink(server.log_path)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    service = PrivateRedis()
    service.start()
    yield service
    if service.process is not None:
        service.process.send_signal(signal.SIGCONT)  # a frozen one must wake to be killed cleanly
    service.cleanup()


async def test_a_socket_on_the_sending_instance_receives_while_redis_is_down(
    backend_env: dict[str, str], private_redis: PrivateRedis
) -> None:
    server = start_server(backend_env, {"REDIS_URL": private_redis.url})
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            alice, bob = await register(http, "alice"), await register(http, "bob")
            conversation = await create_conversation(http, alice, [bob])
            socket = Recorder()
            await socket.client.connect(
                server.url, auth={"token": bob.token}, transports=["websocket"]
            )
            try:
                private_redis.kill()
                sent = [await send(http, alice, conversation["id"], f"m{n}") for n in range(3)]
                received = [(await socket.next_of("new_message"))["message"]["id"] for _ in sent]
            finally:
                await socket.close()
    finally:
        _stop(server)

    assert received == [message["id"] for message in sent]


async def test_instances_reach_each_other_through_a_redis_that_wants_a_password(
    backend_env: dict[str, str], private_redis: PrivateRedis
) -> None:
    private_redis.client().config_set("requirepass", "fan-out-secret")
    extra = {"REDIS_URL": private_redis.url, "REDIS_PASSWORD": "fan-out-secret"}
    first, second = start_server(backend_env, extra), start_server(backend_env, extra)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            alice, bob = await register(http, "alice"), await register(http, "bob")
            conversation = await create_conversation(http, alice, [bob])
            socket = Recorder()
            await socket.client.connect(
                second.url, auth={"token": bob.token}, transports=["websocket"]
            )
            try:
                message = await send(http, alice, conversation["id"], "across instances")
                received = await socket.next_of("new_message")
            finally:
                await socket.close()
    finally:
        _stop(first)
        _stop(second)

    assert received["message"]["id"] == message["id"]


# The send path itself asks Redis (rate limits, caches) before anything is emitted, so a frozen
# Redis stops a Parley send before its fan-out. This test serves the Redis manager alone
# (fanout_app.py) to pin what the fan-out itself must do: emits one after the other reach the
# sockets of their instance while Redis does not answer at all (python-socketio's manager
# awaits each PUBLISH, so the emit after the first waited for Redis).


@pytest.fixture
def fanout_app(private_redis: PrivateRedis) -> Iterator[str]:
    app = serve_on_free_port(
        "fanout-app",
        lambda port, log: subprocess.Popen(
            [UVICORN, "tests.faults.fanout_app:app", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "FANOUT_REDIS_URL": private_redis.url},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        lambda url: answers(url + "/socket.io/?EIO=4&transport=polling"),
        timeout=30,
    )
    try:
        yield app.url
    finally:
        app.process.kill()
        app.process.wait()
        os.unlink(app.log_path)


async def test_emits_reach_local_sockets_in_order_while_redis_is_frozen(
    fanout_app: str, private_redis: PrivateRedis
) -> None:
    received: asyncio.Queue[int] = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)

    async def on_note(data: dict[str, int]) -> None:
        await received.put(data["n"])

    client.on("note", on_note)
    await client.connect(fanout_app, transports=["websocket"])
    assert private_redis.process is not None
    try:
        private_redis.process.send_signal(signal.SIGSTOP)
        await client.emit("shout", {})
        notes = [await asyncio.wait_for(received.get(), TIMEOUT) for _ in range(3)]
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
        await client.disconnect()

    assert notes == [0, 1, 2]
