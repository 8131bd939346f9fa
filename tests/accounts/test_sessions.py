"""Sessions: logout, refresh (rotation), password change and logout everywhere revoke tokens
for REST and socket connect, close the revoked sockets at once, on every instance, and are
audited. (The first logout tests are in tests/security/test_socket_limits.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import socketio

from tests.conftest import BACKEND, own_storage, start_server
from tests.realtime.sockets import TIMEOUT, Recorder
from tests.support import PASSWORD, Server, User, assert_error, register

NEW_PASSWORD = "a-new-long-passphrase"


@asynccontextmanager
async def _opened() -> AsyncIterator[list[Recorder]]:
    recorders: list[Recorder] = []
    try:
        yield recorders
    finally:
        for recorder in recorders:
            await recorder.close()


async def _socket(
    opened: list[Recorder], server: Server, user: User
) -> tuple[Recorder, asyncio.Event]:
    """A connected socket of `user`'s token, and an event set when the server cuts it."""
    recorder = Recorder()
    opened.append(recorder)
    gone = asyncio.Event()

    async def disconnected(*_reason: Any) -> None:
        gone.set()

    recorder.client.on("disconnect", disconnected)
    await recorder.client.connect(server.url, auth={"token": user.token}, transports=["websocket"])
    return recorder, gone


async def _refused_at_connect(server: Server, user: User) -> str:
    """The connect_error's message for a socket connecting with `user`'s token."""
    async with _opened() as opened:
        recorder = Recorder()
        opened.append(recorder)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await recorder.client.connect(
                server.url, auth={"token": user.token}, transports=["websocket"]
            )
        assert recorder.connect_errors, "no connect_error received"
        return str(recorder.connect_errors[0]["message"])


async def _login(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> User:
    response = await client.post(
        "/auth/login", json={"username": user.username, "password": password}
    )
    assert response.status_code == 200, response.text
    return User(id=user.id, username=user.username, token=response.json()["accessToken"])


def _with_token(user: User, token: str) -> User:
    return User(id=user.id, username=user.username, token=token)


async def _actions(client: httpx.AsyncClient, user: User) -> list[str]:
    response = await client.get(
        "/audit", params={"limit": 50, "actorId": user.id}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


async def _assert_works(client: httpx.AsyncClient, server: Server, user: User) -> None:
    me = await client.get("/users/me", headers=user.headers)
    assert me.status_code == 200, me.text
    async with _opened() as opened:
        await _socket(opened, server, user)


async def _assert_revoked(client: httpx.AsyncClient, server: Server, user: User) -> None:
    assert_error(await client.get("/users/me", headers=user.headers), 401, "INVALID_TOKEN")
    assert (await _refused_at_connect(server, user)).startswith("INVALID_TOKEN")


# --------------------------------------------------------------------------- logout


async def test_logout_refuses_the_token_and_closes_only_its_sockets(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "leaving")
    other_device = await _login(client, user)
    async with _opened() as opened:
        revoked, revoked_gone = await _socket(opened, server, user)
        kept, kept_gone = await _socket(opened, server, other_device)

        response = await client.post("/auth/logout", headers=user.headers)

        assert response.status_code == 204, response.text
        assert await revoked.next_of("session_revoked") == {"reason": "LOGGED_OUT"}
        await asyncio.wait_for(revoked_gone.wait(), TIMEOUT)
        await _assert_revoked(client, server, user)
        assert not kept_gone.is_set()
        assert kept.client.connected
    await _assert_works(client, server, other_device)
    assert "session.logged_out" in await _actions(client, other_device)


# --------------------------------------------------------------------------- refresh


async def test_refresh_gives_a_working_token_and_refuses_the_old_one(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "refreshing")
    async with _opened() as opened:
        old_socket, old_gone = await _socket(opened, server, user)

        response = await client.post("/auth/refresh", headers=user.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["tokenType"] == "bearer"
        assert body["expiresIn"] > 0
        assert body["user"]["id"] == user.id
        assert body["accessToken"] != user.token
        assert await old_socket.next_of("session_revoked") == {"reason": "REFRESHED"}
        await asyncio.wait_for(old_gone.wait(), TIMEOUT)
    fresh = _with_token(user, body["accessToken"])
    await _assert_works(client, server, fresh)
    await _assert_revoked(client, server, user)
    # Each token refreshes once.
    assert_error(await client.post("/auth/refresh", headers=user.headers), 401, "INVALID_TOKEN")
    assert "session.refreshed" in await _actions(client, fresh)


async def test_concurrent_refreshes_of_one_token_give_one_new_token(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client, "racing")
    answers = await asyncio.gather(
        *(client.post("/auth/refresh", headers=user.headers) for _ in range(5))
    )
    assert sorted(answer.status_code for answer in answers) == [200, 401, 401, 401, 401]
    for answer in answers:
        if answer.status_code == 401:
            assert_error(answer, 401, "INVALID_TOKEN")


async def test_refresh_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/auth/refresh"), 401, "UNAUTHORIZED")
    bad = {"Authorization": "Bearer not-a-token"}
    assert_error(await client.post("/auth/refresh", headers=bad), 401, "INVALID_TOKEN")


# --------------------------------------------------------------------------- password


async def test_password_change_revokes_older_tokens_and_the_new_token_works(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "changing")
    other_device = await _login(client, user)
    async with _opened() as opened:
        socket, gone = await _socket(opened, server, other_device)

        response = await client.post(
            "/users/me/password",
            json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=user.headers,
        )

        assert response.status_code == 200, response.text
        assert await socket.next_of("session_revoked") == {"reason": "PASSWORD_CHANGED"}
        await asyncio.wait_for(gone.wait(), TIMEOUT)
    fresh = _with_token(user, response.json()["accessToken"])
    await _assert_revoked(client, server, user)
    await _assert_revoked(client, server, other_device)
    await _assert_works(client, server, fresh)
    # The new password logs in; the old one no longer does.
    await _assert_works(client, server, await _login(client, user, NEW_PASSWORD))
    old = await client.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    assert_error(old, 401, "INVALID_CREDENTIALS")
    assert "account.password_changed" in await _actions(client, fresh)


async def test_password_change_with_a_wrong_current_password_is_refused(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "forgetful")
    response = await client.post(
        "/users/me/password",
        json={"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD},
        headers=user.headers,
    )
    assert_error(response, 401, "INVALID_CREDENTIALS")
    await _assert_works(client, server, user)  # nothing was revoked


@pytest.mark.parametrize(
    "body",
    [
        {"currentPassword": PASSWORD, "newPassword": "short"},
        {"currentPassword": PASSWORD, "newPassword": "x" * 257},
        {"currentPassword": PASSWORD},
        {"currentPassword": "", "newPassword": NEW_PASSWORD},
    ],
)
async def test_password_change_follows_the_registration_rules(
    client: httpx.AsyncClient, alice: User, body: dict[str, str]
) -> None:
    response = await client.post("/users/me/password", json=body, headers=alice.headers)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_logout_everywhere_revokes_every_token_and_closes_every_socket(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "everywhere")
    other_device = await _login(client, user)
    async with _opened() as opened:
        socket, gone = await _socket(opened, server, other_device)

        response = await client.post("/auth/logout-all", headers=user.headers)

        assert response.status_code == 204, response.text
        assert await socket.next_of("session_revoked") == {"reason": "LOGGED_OUT_EVERYWHERE"}
        await asyncio.wait_for(gone.wait(), TIMEOUT)
    await _assert_revoked(client, server, user)
    await _assert_revoked(client, server, other_device)
    fresh = await _login(client, user)
    await _assert_works(client, server, fresh)
    assert "session.logged_out_everywhere" in await _actions(client, fresh)


# --------------------------------------------------------------------------- two instances


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
@pytest.mark.parametrize("how", ["logout", "password"])
async def test_a_token_revoked_on_one_instance_is_refused_on_the_other_at_once(
    server: Server, client: httpx.AsyncClient, backend_env: dict[str, str], how: str
) -> None:
    user = await register(client, "roaming")
    other = start_server(backend_env)
    try:
        async with httpx.AsyncClient(base_url=other.url, timeout=30) as other_client:
            # B has the user cached (and the token verified) before A revokes it.
            await _assert_works(other_client, other, user)
            async with _opened() as opened:
                socket, gone = await _socket(opened, other, user)

                if how == "logout":
                    response = await client.post("/auth/logout", headers=user.headers)
                    assert response.status_code == 204, response.text
                else:
                    response = await client.post(
                        "/users/me/password",
                        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                        headers=user.headers,
                    )
                    assert response.status_code == 200, response.text

                reason = "LOGGED_OUT" if how == "logout" else "PASSWORD_CHANGED"
                assert await socket.next_of("session_revoked") == {"reason": reason}
                await asyncio.wait_for(gone.wait(), TIMEOUT)
            await _assert_revoked(other_client, other, user)
    finally:
        other.stop()


# --------------------------------------------------------------------------- OpenAPI


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/auth/logout", {"204", "401", "503"}),
        ("/auth/refresh", {"200", "401", "503"}),
        ("/auth/logout-all", {"204", "401"}),
        ("/users/me/password", {"200", "401", "422", "429"}),
    ],
)
async def test_openapi_shows_the_session_endpoints_with_their_errors(
    client: httpx.AsyncClient, path: str, statuses: set[str]
) -> None:
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"][path]["post"]["responses"]
    assert statuses <= set(responses), responses


@pytest.fixture
def own_env(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_storage(backend_env, "revocations") as env:
        yield env


async def test_a_restart_keeps_logged_out_and_refreshed_tokens_revoked(
    own_env: dict[str, str],
) -> None:
    """The deny-list outlives the process: in Redis with PostgreSQL, in the database on the
    embedded default (where it was only in memory, and a restart revived the tokens)."""
    server = start_server(own_env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            user = await register(client, "restart_revoked")
            logged_out = user.headers
            login = await client.post(
                "/auth/login", json={"username": user.username, "password": PASSWORD}
            )
            refreshed = {"Authorization": f"Bearer {login.json()['accessToken']}"}
            response = await client.post("/auth/refresh", headers=refreshed)
            assert response.status_code == 200, response.text
            current = {"Authorization": f"Bearer {response.json()['accessToken']}"}
            response = await client.post("/auth/logout", headers=logged_out)
            assert response.status_code == 204, response.text
    finally:
        server.stop()

    server = start_server(own_env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            for headers in (logged_out, refreshed):
                assert_error(await client.get("/users/me", headers=headers), 401, "INVALID_TOKEN")
                assert_error(
                    await client.post("/auth/refresh", headers=headers), 401, "INVALID_TOKEN"
                )
            assert (await client.get("/users/me", headers=current)).status_code == 200
    finally:
        server.stop()
