"""DELETE /users/me and `parley users erase`: the account becomes a tombstone, others keep
their conversations whole, and no table of the live database holds the user's data."""

from __future__ import annotations

import asyncio
import subprocess
import time

import httpx

from tests.conftest import PARLEY, ROOT
from tests.privacy.helpers import Footprint, find_in_database, make_footprint
from tests.realtime.sockets import TIMEOUT, Recorder
from tests.support import (
    PASSWORD,
    Server,
    User,
    assert_error,
    create_conversation,
    participants,
    query_sql,
    read_all,
    register,
    set_role,
)


async def _erase(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> httpx.Response:
    return await client.request(
        "DELETE", "/users/me", json={"password": password}, headers=user.headers
    )


async def test_erasure_needs_the_password(client: httpx.AsyncClient) -> None:
    user = await register(client, "careful")
    assert_error(await _erase(client, user, "not my password"), 401, "INVALID_CREDENTIALS")
    missing = await client.request("DELETE", "/users/me", json={}, headers=user.headers)
    assert_error(missing, 422, "VALIDATION_ERROR")
    assert (await client.get("/users/me", headers=user.headers)).status_code == 200


async def _group_with_admin(
    client: httpx.AsyncClient, bob: User, carol: User
) -> tuple[Footprint, User]:
    """The erased user's footprint in a group where carol is an admin and bob a member."""
    footprint = await make_footprint(client, [bob, carol])
    await set_role(client, footprint.user, footprint.conversation_id, carol, "ADMIN")
    # Bob forwards the file elsewhere: his copy names it too.
    elsewhere = await create_conversation(client, bob, [carol])
    forwarded = await client.post(
        f"/messages/{footprint.message_ids[0]}/forward",
        json={"conversationIds": [elsewhere["id"]]},
        headers=bob.headers,
    )
    assert forwarded.status_code in (200, 201, 202), forwarded.text
    deadline = time.monotonic() + 10
    while not await read_all(client, bob, elsewhere["id"]):
        assert time.monotonic() < deadline, "the forward never committed"
        await asyncio.sleep(0.05)
    return footprint, carol


async def _assert_erased(
    client: httpx.AsyncClient,
    backend_env: dict[str, str],
    footprint: Footprint,
    bob: User,
    successor: User,
    *,
    token_refused: bool = True,
) -> None:
    user = footprint.user
    # What erasure left, before anything else writes: a later login attempt with the old
    # name is recorded (session.login_failed keeps the name as typed, as for any unknown name).
    needles = [
        user.username,
        footprint.display_name,
        footprint.sentence,
        footprint.file_name,
    ]
    assert await find_in_database(backend_env, needles) == []
    # The index holds words, not text: the walk above cannot see the name's words there.
    found = await client.get("/messages/search", params={"q": user.username}, headers=bob.headers)
    assert found.status_code == 200, found.text
    assert found.json()["items"] == []
    login = await client.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    assert_error(login, 401, "INVALID_CREDENTIALS")
    if token_refused:
        assert_error(await client.get("/users/me", headers=user.headers), 401, "INVALID_TOKEN")

    messages = await read_all(client, bob, footprint.conversation_id)
    assert [m["seq"] for m in messages] == [1, 2, 3]
    tombstones = [m for m in messages if m["senderId"] == user.id]
    assert [m["id"] for m in tombstones] == footprint.message_ids
    for message in tombstones:
        assert message["status"] == "DELETED"
        assert message["content"] is None and message["attachments"] == []
    assert [m["reactions"] for m in messages if m["senderId"] != user.id] == [{}]
    members = await participants(client, bob, footprint.conversation_id)
    assert user.id not in members
    assert members[successor.id]["role"] == "OWNER"
    left = await participants(client, successor, footprint.conversation_id, status="LEFT")
    assert left[user.id]["role"] == "MEMBER"
    if left[user.id].get("user") is not None:
        assert left[user.id]["user"]["displayName"] == "Deleted user"
    download = await client.get(f"/attachments/{footprint.attachment_id}", headers=bob.headers)
    assert_error(download, 404, "ATTACHMENT_NOT_FOUND")

    about_user = await query_sql(
        backend_env,
        "SELECT details FROM audit_log WHERE actor_id = '{0}' OR target_user_id = '{0}'".format(
            user.id if "DATABASE_URL" in backend_env else user.id.replace("-", "")
        ),
    )
    assert about_user, "the trail keeps its entries"
    assert not [row for row in about_user if "127.0.0.1" in str(row[0])]


async def test_erasure_leaves_tombstones_and_no_personal_data(
    client: httpx.AsyncClient, backend_env: dict[str, str], bob: User, carol: User
) -> None:
    footprint, successor = await _group_with_admin(client, bob, carol)
    erased = await _erase(client, footprint.user)
    assert erased.status_code == 204, erased.text
    await _assert_erased(client, backend_env, footprint, bob, successor)


async def test_username_is_free_again_after_erasure(client: httpx.AsyncClient) -> None:
    user = await register(client, "phoenix")
    assert (await _erase(client, user)).status_code == 204
    again = await client.post(
        "/auth/register", json={"username": user.username, "password": PASSWORD}
    )
    assert again.status_code == 201, again.text
    assert again.json()["user"]["id"] != user.id


async def test_administrator_erases_with_the_cli(
    client: httpx.AsyncClient, backend_env: dict[str, str], bob: User, carol: User
) -> None:
    footprint, successor = await _group_with_admin(client, bob, carol)
    done = await asyncio.to_thread(
        subprocess.run,
        [PARLEY, "users", "erase", footprint.user.username, "--yes"],
        env=backend_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Embedded mode: the server's own cache holds the token generation until CACHE_TTL; with
    # Redis the cache is shared and the token is refused at once.
    await _assert_erased(
        client,
        backend_env,
        footprint,
        bob,
        successor,
        token_refused="REDIS_URL" in backend_env,
    )


async def test_cli_refuses_an_unknown_user(backend_env: dict[str, str]) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [PARLEY, "users", "erase", "nobody_by_this_name", "--yes"],
        env=backend_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "not found" in done.stderr.lower()


async def test_erasure_closes_the_users_sockets(server: Server, client: httpx.AsyncClient) -> None:
    user = await register(client, "leaving")
    recorder = Recorder()
    gone = asyncio.Event()

    async def disconnected(*_reason: object) -> None:
        gone.set()

    recorder.client.on("disconnect", disconnected)
    try:
        await recorder.client.connect(
            server.url, auth={"token": user.token}, transports=["websocket"]
        )
        assert (await _erase(client, user)).status_code == 204
        assert await recorder.next_of("session_revoked") == {"reason": "ACCOUNT_ERASED"}
        await asyncio.wait_for(gone.wait(), TIMEOUT)
    finally:
        await recorder.close()
