"""Helpers for tests: named users, conversations, participants, sends and reads through the
public API. Helpers that return an httpx.Response leave the outcome to the test; the others
assert success."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from parley.core.crypto import KeyRing, embedded_keys, parse_keys

PASSWORD = "correct horse battery"

# The "at once" tests repeat a change and the request right after it: a server that answered
# before committing showed the old state in 1-35 % of rounds (more on SQLite), so one round
# alone would rarely catch it.
RACE_ROUNDS = 30


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: str
    # Other ports it serves, by setting (start_server's port_variables).
    ports: dict[str, int] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class User:
    id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique_name(name: str) -> str:
    """Usernames are unique per database; the suffix keeps tests independent."""
    return f"{name}_{secrets.token_hex(4)}"


async def register(client: httpx.AsyncClient, name: str, display_name: str | None = None) -> User:
    body: dict[str, Any] = {"username": unique_name(name), "password": PASSWORD}
    if display_name:
        body["displayName"] = display_name
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return User(id=data["user"]["id"], username=data["user"]["username"], token=data["accessToken"])


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return dict(body["error"])


async def create_conversation(
    client: httpx.AsyncClient,
    owner: User,
    members: list[User],
    type_: str = "GROUP",
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "participantIds": [m.id for m in members], **fields}
    if type_ in ("GROUP", "SPACE", "COMMUNITY") and "name" not in fields:
        body["name"] = unique_name("room")
    response = await client.post("/conversations", json=body, headers=owner.headers)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def send(
    client: httpx.AsyncClient,
    user: User,
    conversation_id: str,
    content: str = "hello",
    *,
    wait: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post(
        "/messages",
        params={"wait": "true"} if wait else None,
        json={"conversationId": conversation_id, "content": content, **fields},
        headers=user.headers,
    )
    assert response.status_code in ((200, 201) if wait else (200, 202)), response.text
    return dict(response.json())


# ---------------------------------------------------------------- conversations


async def get_conversation(
    client: httpx.AsyncClient, user: User, conversation_id: str
) -> dict[str, Any]:
    response = await client.get(f"/conversations/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def my_conversations(client: httpx.AsyncClient, user: User, **params: Any) -> dict[str, Any]:
    """One page of GET /conversations: the caller's list."""
    response = await client.get("/conversations", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def find(items: list[dict[str, Any]], conversation_id: str) -> dict[str, Any]:
    """The one item of a conversation list that is `conversation_id`."""
    matches = [item for item in items if item["id"] == conversation_id]
    assert len(matches) == 1, [item["id"] for item in items]
    return matches[0]


async def mark_read(
    client: httpx.AsyncClient, user: User, conversation_id: str, message_id: str
) -> httpx.Response:
    """POST /conversations/{id}/read up to `message_id`, without asserting the outcome."""
    return await client.post(
        f"/conversations/{conversation_id}/read",
        json={"messageId": message_id},
        headers=user.headers,
    )


# ---------------------------------------------------------------- participants


def participant_url(conversation_id: str, user: User) -> str:
    return f"/conversations/{conversation_id}/participants/{user.id}"


async def participants(
    client: httpx.AsyncClient, user: User, conversation_id: str, **params: Any
) -> dict[str, dict[str, Any]]:
    """The listed participants (one page), by user id."""
    response = await client.get(
        f"/conversations/{conversation_id}/participants", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return {item["userId"]: item for item in response.json()["items"]}


async def add(
    client: httpx.AsyncClient,
    actor: User,
    conversation_id: str,
    targets: list[User],
    role: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"userIds": [t.id for t in targets]}
    if role is not None:
        body["role"] = role
    return await client.post(
        f"/conversations/{conversation_id}/participants", json=body, headers=actor.headers
    )


async def patch_participant(
    client: httpx.AsyncClient, actor: User, conversation_id: str, target: User, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(
        participant_url(conversation_id, target), json=body, headers=actor.headers
    )


async def set_role(
    client: httpx.AsyncClient, actor: User, conversation_id: str, target: User, role: str
) -> None:
    response = await patch_participant(client, actor, conversation_id, target, {"role": role})
    assert response.status_code == 200, response.text


async def change_status(
    client: httpx.AsyncClient, actor: User, conversation_id: str, target: User, status: str
) -> None:
    response = await patch_participant(client, actor, conversation_id, target, {"status": status})
    assert response.status_code == 200, response.text


async def remove(
    client: httpx.AsyncClient, actor: User, conversation_id: str, target: User
) -> httpx.Response:
    """DELETE a participant: `target` removed by `actor`, or leaving when they are the same."""
    return await client.delete(participant_url(conversation_id, target), headers=actor.headers)


# ---------------------------------------------------------------- messages


def new_client_id() -> str:
    return f"cm-{uuid.uuid4().hex}"


def envelope(
    kid: str = "key-1", *, nonce: bytes | None = None, ciphertext: bytes | None = None
) -> str:
    """A well-formed encrypted message content (docs/api.md, End-to-end encryption): the
    server checks the shape only, so random bytes stand in for a real ciphertext."""
    return json.dumps(
        {
            "v": 1,
            "kid": kid,
            "nonce": base64.b64encode(nonce or secrets.token_bytes(12)).decode(),
            "ct": base64.b64encode(ciphertext or secrets.token_bytes(48)).decode(),
        }
    )


def sql_statements(response: httpx.Response) -> int:
    """The X-SQL-Statements header the test server adds to every response."""
    return int(response.headers["x-sql-statements"])


async def post_message(
    client: httpx.AsyncClient,
    user: User,
    conversation_id: str,
    content: str | None = "hello",
    *,
    wait: bool = False,
    **fields: Any,
) -> httpx.Response:
    """POST /messages without asserting the outcome (for status and error checks)."""
    body: dict[str, Any] = {"conversationId": conversation_id, **fields}
    if content is not None:
        body["content"] = content
    return await client.post(
        "/messages",
        params={"wait": "true"} if wait else None,
        json=body,
        headers=user.headers,
    )


async def delete_message(client: httpx.AsyncClient, user: User, message_id: str) -> httpx.Response:
    return await client.delete(f"/messages/{message_id}", headers=user.headers)


async def message_page_response(
    client: httpx.AsyncClient, user: User, conversation_id: str, **params: Any
) -> httpx.Response:
    """One page of GET /messages/conversation/{id}, which must answer 200."""
    response = await client.get(
        f"/messages/conversation/{conversation_id}", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response


async def message_page(
    client: httpx.AsyncClient, user: User, conversation_id: str, **params: Any
) -> dict[str, Any]:
    return dict((await message_page_response(client, user, conversation_id, **params)).json())


async def read_all(
    client: httpx.AsyncClient, user: User, conversation_id: str, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Every committed message in ascending seq, by afterSeq catch-up pages."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"afterSeq": 0, "limit": limit}
    while True:
        page = await message_page(client, user, conversation_id, **params)
        items.extend(page["items"])
        if not page["hasMore"]:
            assert page["nextCursor"] is None, page
            return items
        assert page["nextCursor"], page
        params = {"after": page["nextCursor"], "limit": limit}


async def _read_message(client: httpx.AsyncClient, user: User, message_id: str) -> dict[str, Any]:
    response = await client.get(f"/messages/{message_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def get_message(client: httpx.AsyncClient, user: User, message_id: str) -> dict[str, Any]:
    """GET /messages/{id} without its deliveryTracker (which only a single read derives), so
    it compares equal to the message as sent or listed."""
    return {**await _read_message(client, user, message_id), "deliveryTracker": None}


async def delivery_tracker(
    client: httpx.AsyncClient, user: User, message_id: str
) -> dict[str, Any]:
    """The deliveryTracker of GET /messages/{id} as `user` sees it."""
    return dict((await _read_message(client, user, message_id))["deliveryTracker"])


def key_ring_of(env: dict[str, str]) -> KeyRing:
    """The ring the test run's servers use (ENCRYPTION_KEYS, else the data dir's key file)."""
    spec = env.get("ENCRYPTION_KEYS") or embedded_keys(Path(env["PARLEY_DATA_DIR"]))
    return KeyRing.from_pairs(parse_keys(spec))


def sqlite_connect(env: dict[str, str]) -> sqlite3.Connection:
    """The test run's SQLite file, with the application's SQL functions (`parley_decrypt`,
    which the search index's triggers and view call), as the server's own connections."""
    database = sqlite3.connect(Path(env["PARLEY_DATA_DIR"]) / "parley.db", timeout=30)
    ring = key_ring_of(env)

    def decrypt(value: str | None) -> str | None:
        return None if value is None else ring.decrypt_text(value)

    database.create_function("parley_decrypt", 1, decrypt, deterministic=True)
    return database


async def execute_sql(env: dict[str, str], statements: list[str]) -> None:
    """Run statements straight on the test run's database (PostgreSQL when `env` names one,
    else the embedded SQLite file): for faults a test injects, such as a refusing trigger."""
    if "DATABASE_URL" in env:
        connection = await asyncpg.connect(env["DATABASE_URL"])
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()
        return
    database = sqlite_connect(env)
    try:
        for statement in statements:
            database.execute(statement)
        database.commit()
    finally:
        database.close()


async def query_sql(env: dict[str, str], statement: str) -> list[tuple[Any, ...]]:
    """Rows of one read straight from the test run's database (schema checks)."""
    if "DATABASE_URL" in env:
        connection = await asyncpg.connect(env["DATABASE_URL"])
        try:
            return [tuple(row) for row in await connection.fetch(statement)]
        finally:
            await connection.close()
    database = sqlite_connect(env)
    try:
        return list(database.execute(statement).fetchall())
    finally:
        database.close()
