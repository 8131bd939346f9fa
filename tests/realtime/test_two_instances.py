"""Two `parley serve` processes sharing PostgreSQL and Redis act as one (no load balancer:
each client talks to the instance it was given)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import socketio

from tests.conftest import BACKEND, start_server
from tests.realtime.sockets import Recorder, end_typing, open_socket
from tests.support import Server, User, add, create_conversation, register, remove, send

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="several instances need PostgreSQL and Redis"
)


@pytest.fixture(scope="module")
def second_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env)
    yield running
    running.stop()


@pytest.fixture
async def second_client(second_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=second_server.url, timeout=30) as http:
        yield http


async def test_message_sent_on_one_instance_reaches_a_socket_on_the_other(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    receiver = await open_socket(sockets, second_server, bob)

    message = await send(client, alice, conversation["id"], "across instances")

    assert (await receiver.next_of("new_message"))["message"]["id"] == message["id"]


async def test_each_message_reaches_local_and_remote_sockets_once_and_in_order(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
    carol: User,
) -> None:
    # Bob's socket is on the sending instance (delivered there without Redis), Carol's on the
    # other one (through Redis); the sending instance also reads its own publications back.
    conversation = await create_conversation(client, alice, [bob, carol])
    other = await create_conversation(client, alice, [bob, carol])
    local = await open_socket(sockets, server, bob)
    remote = await open_socket(sockets, second_server, carol)

    texts = [f"m{n} — déjà vu ✓" for n in range(20)]
    sent = [await send(client, alice, conversation["id"], text, wait=False) for text in texts]
    marker = await send(client, alice, other["id"], "marker")

    for recorder in (local, remote):
        received = [(await recorder.next_of("new_message"))["message"] for _ in sent]
        assert [message["id"] for message in received] == [message["id"] for message in sent]
        assert [message["content"] for message in received] == texts
        # Nothing twice: the next event is the marker, sent after all of them.
        assert (await recorder.next_of("new_message"))["message"]["id"] == marker["id"]


async def test_an_emit_in_python_socketios_own_format_is_delivered(
    server: Server, backend_env: dict[str, str], sockets: list[Recorder], bob: User
) -> None:
    # What an older Parley or an external write-only manager publishes is still understood.
    receiver = await open_socket(sockets, server, bob)
    external = socketio.AsyncRedisManager(
        backend_env["REDIS_URL"],
        channel=backend_env["REDIS_KEY_PREFIX"] + "socketio",
        write_only=True,
    )
    try:
        await external.emit(
            "notice", {"text": "from outside"}, namespace="/", room=f"user:{bob.id}"
        )
    finally:
        await external.redis.aclose()

    assert await receiver.next_of("notice") == {"text": "from outside"}


async def test_typing_crosses_instances(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    typist = await open_socket(sockets, server, alice)
    reader = await open_socket(sockets, second_server, bob)

    assert (await typist.call("typing_start", {"conversationId": conversation["id"]}))["ok"]

    typing = await reader.next_of("user_typing")
    assert (typing["userId"], typing["isTyping"]) == (alice.id, True)
    await end_typing(typist, reader, conversation["id"])


async def test_membership_change_on_one_instance_moves_sockets_on_the_other(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
    carol: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    other = await create_conversation(client, alice, [carol])
    newcomer = await open_socket(sockets, second_server, carol)

    added = await add(client, alice, conversation["id"], [carol])
    welcome = await send(client, alice, conversation["id"], "welcome")
    removed = await remove(client, alice, conversation["id"], carol)
    await send(client, alice, conversation["id"], "after carol left")
    marker = await send(client, alice, other["id"], "marker")

    assert (added.status_code, removed.status_code) == (201, 200)
    assert (await newcomer.next_of("participant_added"))["participant"]["userId"] == carol.id
    assert (await newcomer.next_of("new_message"))["message"]["id"] == welcome["id"]
    assert (await newcomer.next_of("participant_removed"))["participant"]["userId"] == carol.id
    assert (await newcomer.next_of("new_message"))["message"]["id"] == marker["id"]


async def test_presence_crosses_instances(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
) -> None:
    frank, grace = await register(client, "frank"), await register(client, "grace")
    await create_conversation(client, frank, [grace], "DIRECT")
    watcher = await open_socket(sockets, server, grace, ignore=frozenset())
    assert (await watcher.next_of("user_status_changed"))["userId"] == grace.id

    remote = await open_socket(sockets, second_server, frank)
    assert (await watcher.next_of("user_status_changed"))["status"] == "ONLINE"
    await remote.client.disconnect()
    offline = await watcher.next_of("user_status_changed")

    assert (offline["userId"], offline["status"]) == (frank.id, "OFFLINE")


@pytest.fixture
def short_lived(backend_env: dict[str, str]) -> Iterator[tuple[Server, Server]]:
    """Two instances whose presence entries lapse after 2 s (instead of 30 s)."""
    quick = {"PRESENCE_TTL": "2s"}
    first, second = start_server(backend_env, quick), start_server(backend_env, quick)
    yield first, second
    first.stop()
    second.stop()


async def test_users_of_a_crashed_instance_go_offline(
    short_lived: tuple[Server, Server], client: httpx.AsyncClient, sockets: list[Recorder]
) -> None:
    doomed, survivor = short_lived
    frank, grace = await register(client, "frank"), await register(client, "grace")
    await create_conversation(client, frank, [grace], "DIRECT")
    watcher = await open_socket(sockets, survivor, grace, ignore=frozenset())
    assert (await watcher.next_of("user_status_changed"))["userId"] == grace.id
    await open_socket(sockets, doomed, frank)
    assert (await watcher.next_of("user_status_changed"))["status"] == "ONLINE"

    doomed.process.kill()  # no disconnect reaches anyone: only the lapse tells

    offline = await watcher.next_of("user_status_changed")
    assert (offline["userId"], offline["status"]) == (frank.id, "OFFLINE")
