"""The permission table (parley/conversations/permissions.py) is the only source of the role
rules: change one entry in-process and the behaviour changes where that rule applies.

These tests run the app in this process (uvicorn in the test's event loop, on the session's
backend; SQLite gets a database of its own), so that `monkeypatch` reaches the same table the
server reads. Each test first shows the default behaviour, then changes one entry.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from parley.cli import run_migrations
from parley.conversations import permissions
from parley.conversations.permissions import Action, ParticipantStatus, Role
from parley.core.config import load_settings
from parley.main import create_app
from tests.conftest import BACKEND
from tests.support import (
    User,
    assert_error,
    change_status,
    create_conversation,
    post_message,
    register,
    remove,
    set_role,
)


@dataclass
class Local:
    """The in-process server and three of its users."""

    client: httpx.AsyncClient
    owner: User
    moderator: User
    member: User


@pytest.fixture(scope="module")
def local_env(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    env = {**backend_env, "PARLEY_GC_POLICY": "python"}
    if BACKEND == "sqlite":
        with tempfile.TemporaryDirectory(prefix="parley-inprocess-") as data_dir:
            yield {**env, "PARLEY_DATA_DIR": data_dir}
    else:
        yield env


@pytest.fixture(scope="module")
async def local(local_env: dict[str, str]) -> AsyncIterator[Local]:
    settings = load_settings(local_env)
    # Alembic's env runs its own event loop: off this one.
    await asyncio.to_thread(run_migrations, settings)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    app = create_app(settings)
    root.handlers[:], root.level = handlers, level  # the app's JSON logging is not the test's
    # Bound here on port 0, then served: the port is ours (none chosen first and bound later).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if serving.done():
            serving.result()  # raises why it stopped
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            owner, moderator, member = [
                await register(client, name) for name in ("olivia", "mona", "max")
            ]
            yield Local(client, owner, moderator, member)
    finally:
        server.should_exit = True
        await serving
        listener.close()


async def _group(local: Local) -> str:
    conversation = await create_conversation(
        local.client, local.owner, [local.moderator, local.member]
    )
    await set_role(local.client, local.owner, conversation["id"], local.moderator, "MODERATOR")
    return str(conversation["id"])


async def _announce(local: Local, conversation_id: str) -> httpx.Response:
    return await post_message(
        local.client, local.member, conversation_id, "all hands", type="ANNOUNCEMENT", wait=True
    )


async def test_who_may_post_announcements_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    assert_error(await _announce(local, conversation_id), 403, "PERMISSION_DENIED")

    monkeypatch.setitem(permissions.MINIMUM_ROLE, Action.POST_ANNOUNCEMENT, Role.MEMBER)

    response = await _announce(local, conversation_id)
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "ANNOUNCEMENT"


async def test_who_may_remove_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    monkeypatch.setitem(permissions.MINIMUM_ROLE, Action.REMOVE_PARTICIPANT, Role.ADMIN)

    refused = await remove(local.client, local.moderator, conversation_id, local.member)

    assert_error(refused, 403, "PERMISSION_DENIED")
    assert refused.json()["error"]["details"]["action"] == "REMOVE_PARTICIPANT"
    monkeypatch.undo()
    allowed = await remove(local.client, local.moderator, conversation_id, local.member)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["status"] == "REMOVED"


async def test_who_may_read_the_audit_trail_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    params = {"conversationId": conversation_id}
    refused = await local.client.get("/audit", params=params, headers=local.member.headers)
    assert_error(refused, 403, "PERMISSION_DENIED")

    monkeypatch.setitem(permissions.MINIMUM_ROLE, Action.VIEW_AUDIT, Role.MEMBER)

    allowed = await local.client.get("/audit", params=params, headers=local.member.headers)
    assert allowed.status_code == 200, allowed.text
    assert {entry["action"] for entry in allowed.json()["items"]} >= {"conversation.created"}


async def test_who_reviews_flagged_messages_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    params = {"conversationId": conversation_id}
    queue = await local.client.get(
        "/moderation/queue", params=params, headers=local.moderator.headers
    )
    assert queue.status_code == 200, queue.text

    monkeypatch.setitem(permissions.MINIMUM_ROLE, Action.REVIEW_FLAGGED_CONTENT, Role.ADMIN)

    refused = await local.client.get(
        "/moderation/queue", params=params, headers=local.moderator.headers
    )
    assert_error(refused, 403, "PERMISSION_DENIED")


async def test_who_may_change_roles_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    url = f"/conversations/{conversation_id}/participants/{local.member.id}"
    body = {"role": "MEMBER"}
    refused = await local.client.patch(url, json=body, headers=local.moderator.headers)
    assert_error(refused, 403, "PERMISSION_DENIED")

    monkeypatch.setitem(permissions.MINIMUM_ROLE, Action.CHANGE_ROLE, Role.MODERATOR)

    changed = await local.client.patch(url, json=body, headers=local.moderator.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "MEMBER"


async def test_which_statuses_see_a_conversation_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    await change_status(local.client, local.owner, conversation_id, local.member, "MUTED")
    url = f"/conversations/{conversation_id}"
    assert (await local.client.get(url, headers=local.member.headers)).status_code == 200

    monkeypatch.setattr(permissions, "VISIBLE_STATUSES", frozenset({ParticipantStatus.ACTIVE}))

    assert_error(
        await local.client.get(url, headers=local.member.headers), 404, "CONVERSATION_NOT_FOUND"
    )
    listed = await local.client.get("/conversations", headers=local.member.headers)
    assert conversation_id not in {item["id"] for item in listed.json()["items"]}


async def test_which_status_changes_are_allowed_follows_the_table(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation_id = await _group(local)
    await change_status(local.client, local.owner, conversation_id, local.member, "BANNED")
    url = f"/conversations/{conversation_id}/participants/{local.member.id}"
    body = {"status": "MUTED"}
    refused = await local.client.patch(url, json=body, headers=local.owner.headers)
    assert_error(refused, 409, "CONFLICT")

    monkeypatch.setitem(
        permissions.STATUS_TRANSITIONS,
        ParticipantStatus.BANNED,
        frozenset({ParticipantStatus.MUTED}),
    )

    changed = await local.client.patch(url, json=body, headers=local.owner.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "MUTED"
