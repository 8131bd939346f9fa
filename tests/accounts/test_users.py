"""People search: GET /users?q= by username or display-name prefix, public fields only."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from tests.support import User, assert_error, register

PUBLIC_USER_FIELDS = {"id", "username", "displayName", "createdAt", "status", "lastSeenAt"}


def _tag() -> str:
    """A prefix no other user of the session starts with."""
    return f"t{secrets.token_hex(4)}"


async def _search(client: httpx.AsyncClient, caller: User, q: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/users", params={"q": q, **params}, headers=caller.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["items"]}


async def test_search_finds_by_username_prefix(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    found = await register(client, f"{tag}user")
    page = await _search(client, alice, tag)
    assert _ids(page) == {found.id}


async def test_search_finds_by_display_name_prefix(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    quinn = await register(client, "quinn", display_name=f"Zeb{tag} Quartz")
    page = await _search(client, alice, f"Zeb{tag}")
    assert _ids(page) == {quinn.id}
    assert page["items"][0]["displayName"] == f"Zeb{tag} Quartz"


async def test_search_ignores_case(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    by_name = await register(client, f"{tag}lower")
    by_display = await register(client, "someone", display_name=f"Dn{tag} Mixed Case")
    assert _ids(await _search(client, alice, tag.upper())) == {by_name.id}
    assert _ids(await _search(client, alice, f"dN{tag.upper()}")) == {by_display.id}


async def test_search_matches_prefix_not_substring(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    await register(client, f"x{tag}")
    page = await _search(client, alice, tag)
    assert page["items"] == []


async def test_search_returns_public_fields_only(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    await register(client, f"{tag}pub", display_name=f"{tag} Public")
    page = await _search(client, alice, tag)
    assert len(page["items"]) == 1
    assert set(page["items"][0]) == PUBLIC_USER_FIELDS
    assert "argon2" not in str(page).lower()
    assert "password" not in str(page).lower()


async def test_search_treats_underscore_as_literal(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    # register() appends "_<hex>": "<tag>_..." has a literal underscore after the tag,
    # "<tag>x_..." would match only if `_` were a one-character wildcard.
    literal = await register(client, tag)
    await register(client, f"{tag}x")
    page = await _search(client, alice, f"{tag}_")
    assert _ids(page) == {literal.id}


async def test_search_treats_percent_as_literal(client: httpx.AsyncClient, alice: User) -> None:
    tag = _tag()
    literal = await register(client, "pct", display_name=f"{tag}% off")
    await register(client, "pct", display_name=f"{tag}X off")
    await register(client, "pct", display_name=f"{tag}")
    page = await _search(client, alice, f"{tag}%")
    assert _ids(page) == {literal.id}


async def test_search_with_only_percent_is_not_a_wildcard(
    client: httpx.AsyncClient, alice: User
) -> None:
    page = await _search(client, alice, "%", limit=100)
    assert all(
        item["username"].startswith("%") or item["displayName"].startswith("%")
        for item in page["items"]
    )
    assert alice.id not in _ids(page)


async def test_search_pagination_walks_all_matches_once(
    client: httpx.AsyncClient, alice: User
) -> None:
    tag = _tag()
    registered = await asyncio.gather(*(register(client, f"{tag}p{n}") for n in range(5)))
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await _search(client, alice, tag, **params)
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(item["id"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"
    assert len(seen) == len(set(seen))
    assert set(seen) == {user.id for user in registered}
    assert pages == 3


async def test_search_limit_caps_page_and_sets_next_cursor(
    client: httpx.AsyncClient, alice: User
) -> None:
    tag = _tag()
    await asyncio.gather(*(register(client, f"{tag}c{n}") for n in range(3)))
    page = await _search(client, alice, tag, limit=2)
    assert len(page["items"]) == 2
    assert isinstance(page["nextCursor"], str) and page["nextCursor"]


async def test_search_last_page_has_null_next_cursor(
    client: httpx.AsyncClient, alice: User
) -> None:
    tag = _tag()
    await asyncio.gather(*(register(client, f"{tag}n{n}") for n in range(2)))
    page = await _search(client, alice, tag, limit=2)
    assert len(page["items"]) == 2
    assert page["nextCursor"] is None


async def test_search_without_q_is_validation_error(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get("/users", headers=alice.headers)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_search_with_empty_q_is_validation_error(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get("/users", params={"q": ""}, headers=alice.headers)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_search_with_blank_q_is_validation_error(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get("/users", params={"q": "   "}, headers=alice.headers)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_search_with_bad_cursor_is_validation_error(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get(
        "/users", params={"q": "a", "cursor": "%%%not-base64"}, headers=alice.headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_search_needs_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/users", params={"q": "alice"})
    assert_error(response, 401, "UNAUTHORIZED")
