"""Real error answers fit what /openapi.json documents for that operation and status."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.openapi.conftest import operations, schema_errors
from tests.support import User


def _check(document: dict[str, Any], key: str, response: httpx.Response) -> None:
    documented = operations(document)[key]["responses"]
    assert str(response.status_code) in documented, (key, response.status_code, response.text)
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    assert not schema_errors(document, schema, response.json()), response.text
    examples = documented[str(response.status_code)]["content"]["application/json"]["examples"]
    assert response.json()["error"]["code"] in examples


async def test_401_fits_the_document(client: httpx.AsyncClient, document: dict[str, Any]) -> None:
    response = await client.get("/users/me")
    assert response.status_code == 401
    _check(document, "GET /users/me", response)


async def test_404_fits_the_document(
    client: httpx.AsyncClient, document: dict[str, Any], alice: User
) -> None:
    response = await client.get(f"/messages/{uuid.uuid4()}", headers=alice.headers)
    assert response.status_code == 404
    _check(document, "GET /messages/{message_id}", response)


async def test_422_fits_the_document(
    client: httpx.AsyncClient, document: dict[str, Any], alice: User
) -> None:
    response = await client.post("/messages", json={"content": 5}, headers=alice.headers)
    assert response.status_code == 422
    _check(document, "POST /messages", response)
    assert response.json()["error"]["details"]["errors"]


async def test_400_invalid_json_fits_the_document(
    client: httpx.AsyncClient, document: dict[str, Any], alice: User
) -> None:
    response = await client.post(
        "/messages",
        content=b"{not json",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    _check(document, "POST /messages", response)


async def test_409_username_taken_fits_the_document(
    client: httpx.AsyncClient, document: dict[str, Any], alice: User
) -> None:
    response = await client.post(
        "/auth/register", json={"username": alice.username, "password": "a long password 1"}
    )
    assert response.status_code == 409
    _check(document, "POST /auth/register", response)
