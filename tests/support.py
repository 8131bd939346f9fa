"""Helpers for tests: named users, conversations and sends through the public API."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: str

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


async def set_role(
    client: httpx.AsyncClient, actor: User, conversation_id: str, target: User, role: str
) -> None:
    response = await client.patch(
        f"/conversations/{conversation_id}/participants/{target.id}",
        json={"role": role},
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text
