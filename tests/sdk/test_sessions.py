"""The SDK's refresh and change_password: the client goes on with the token the server gave."""

from __future__ import annotations

import httpx
import pytest

from parley.client import ParleyClient, ParleyError
from tests.support import PASSWORD, Server, assert_error, register


async def test_sdk_refreshes_and_changes_the_password(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "sdk_sessions")
    sdk = ParleyClient([server.url])
    try:
        await sdk.login(user.username, PASSWORD)
        first = sdk.token

        await sdk.refresh()

        assert sdk.token != first
        assert (await sdk.request("GET", "/users/me"))["id"] == user.id
        revoked = {"Authorization": f"Bearer {first}"}
        assert_error(await client.get("/users/me", headers=revoked), 401, "INVALID_TOKEN")

        with pytest.raises(ParleyError) as refused:
            await sdk.change_password("wrong-password", "another-long-password")
        assert (refused.value.code, refused.value.status) == ("INVALID_CREDENTIALS", 401)
        before = sdk.token
        await sdk.change_password(PASSWORD, "another-long-password")

        assert sdk.token != before
        assert (await sdk.request("GET", "/users/me"))["id"] == user.id
        stale = {"Authorization": f"Bearer {before}"}
        assert_error(await client.get("/users/me", headers=stale), 401, "INVALID_TOKEN")
    finally:
        await sdk.close()
