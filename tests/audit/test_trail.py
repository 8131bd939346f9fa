"""The complete trail: logins (success and failure, with the client's address), registration,
the filters of GET /audit and who sees what, `parley audit export` (JSON lines), and the
database refusing to change or delete entries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import PARLEY, ROOT, own_server
from tests.support import (
    PASSWORD,
    Server,
    User,
    add,
    assert_error,
    create_conversation,
    execute_sql,
    register,
    set_role,
    unique_name,
)


async def audit(client: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/audit", params={"limit": 200, **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def export(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """`parley audit export ARGS`: each stdout line parsed as one JSON object."""
    process = await asyncio.create_subprocess_exec(
        PARLEY,
        "audit",
        "export",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_login_is_audited_with_the_client_address(client: httpx.AsyncClient) -> None:
    user = await register(client, "lina")
    response = await client.post(
        "/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    entries = await audit(client, user, action="session.logged_in")
    assert len(entries) == 1
    assert entries[0]["actorId"] == user.id
    assert entries[0]["details"] == {"ip": "127.0.0.1"}


async def test_registration_is_audited(client: httpx.AsyncClient) -> None:
    user = await register(client, "reggie")
    [entry] = await audit(client, user, action="account.registered")
    assert entry["actorId"] == user.id
    assert entry["details"] == {"ip": "127.0.0.1", "username": user.username}


async def test_failed_login_is_audited_for_the_account_it_named(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client, "fay")
    response = await client.post("/auth/login", json={"username": user.username, "password": "x"})
    assert_error(response, 401, "INVALID_CREDENTIALS")
    [entry] = await audit(client, user, action="session.login_failed")
    assert entry["actorId"] is None
    assert entry["targetUserId"] == user.id
    assert entry["details"] == {
        "ip": "127.0.0.1",
        "username": user.username,
        "reason": "invalid_credentials",
    }


async def test_failed_login_for_an_unknown_name_is_exported_without_a_user(
    client: httpx.AsyncClient, backend_env: dict[str, str]
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    name = unique_name("nobody")
    response = await client.post("/auth/login", json={"username": name, "password": "x"})
    assert_error(response, 401, "INVALID_CREDENTIALS")
    entries = await export(backend_env, "--since", iso(since))
    [entry] = [e for e in entries if e["details"].get("username") == name]
    assert entry["action"] == "session.login_failed"
    assert (entry["actorId"], entry["targetUserId"]) == (None, None)
    assert entry["details"]["ip"] == "127.0.0.1"


async def test_filters_by_action_actor_and_time(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)  # created_at is strictly after `middle`
    assert (await add(client, alice, cid, [carol])).status_code == 201
    await set_role(client, alice, cid, bob, "ADMIN")
    response = await client.patch(
        f"/conversations/{cid}", json={"description": "d"}, headers=bob.headers
    )
    assert response.status_code == 200, response.text

    everything = await audit(client, alice, conversationId=cid)
    assert len(everything) == 6  # created, 2 added at creation, added, role, updated
    several = await audit(
        client, alice, conversationId=cid, action=["participant.added", "conversation.updated"]
    )
    assert sorted(e["action"] for e in several) == [
        "conversation.updated",
        "participant.added",
        "participant.added",
        "participant.added",
    ]
    comma = await audit(
        client, alice, conversationId=cid, action="participant.added,conversation.updated"
    )
    assert comma == several
    by_bob = await audit(client, alice, conversationId=cid, actorId=bob.id)
    assert [e["action"] for e in by_bob] == ["conversation.updated"]
    later = await audit(client, alice, conversationId=cid, **{"from": iso(middle)})
    assert [e["action"] for e in later] == [
        "conversation.updated",
        "participant.role_changed",
        "participant.added",
    ]
    earlier = await audit(client, alice, conversationId=cid, to=iso(middle))
    assert {e["action"] for e in earlier} == {"conversation.created", "participant.added"}
    assert len(earlier) + len(later) == len(everything)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "message.sent"}, "action"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01T00:00:00Z"}, "to"),
        ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "from"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"actorId": "42"}, "actorId"),
    ],
)
async def test_bad_filters_are_refused(
    client: httpx.AsyncClient, alice: User, params: dict[str, str], field: str
) -> None:
    response = await client.get("/audit", params=params, headers=alice.headers)
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in json.dumps(error["details"])


async def test_a_non_member_gets_not_found(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await client.get(
        "/audit", params={"conversationId": conversation["id"]}, headers=mallory.headers
    )
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


async def test_a_user_sees_entries_about_themselves_and_not_others(
    client: httpx.AsyncClient, alice: User, mallory: User
) -> None:
    dana = await register(client, "dana")
    conversation = await create_conversation(client, alice, [dana])
    mine = await audit(client, dana, action="participant.added")
    assert [(e["actorId"], e["targetUserId"]) for e in mine] == [(alice.id, dana.id)]
    # Another's actions: only those about the caller.
    assert await audit(client, dana, actorId=alice.id) == mine
    assert all(
        mallory.id in (e["actorId"], e["targetUserId"]) for e in await audit(client, mallory)
    )
    assert conversation["id"] not in {e["conversationId"] for e in await audit(client, mallory)}


async def test_export_matches_the_api(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    conversation = await create_conversation(client, alice, [bob])
    until = datetime.now(UTC) + timedelta(seconds=1)
    api = await audit(client, alice, conversationId=conversation["id"])
    exported = await export(backend_env, "--since", iso(since), "--until", iso(until))
    ours = [e for e in exported if e["conversationId"] == conversation["id"]]
    assert ours == list(reversed(api))  # the export is oldest first
    times = [e["createdAt"] for e in exported]
    assert times == sorted(times)
    assert all(iso(since) <= t < iso(until) for t in times)


async def test_export_refuses_a_bad_time(backend_env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        PARLEY,
        "audit",
        "export",
        "--since",
        "last week",
        env=backend_env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert b"ISO-8601" in err


def _id_literal(env: dict[str, str], value: str) -> str:
    return value if "DATABASE_URL" in env else value.replace("-", "")


async def test_the_database_refuses_to_change_or_delete_entries(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    entry = (await audit(client, alice, conversationId=conversation["id"]))[0]
    where = f"WHERE id = '{_id_literal(backend_env, entry['id'])}'"
    with pytest.raises(Exception, match="append-only"):
        await execute_sql(
            backend_env,
            [f"UPDATE audit_log SET actor_id = '{_id_literal(backend_env, bob.id)}' {where}"],
        )
    with pytest.raises(Exception, match="append-only"):
        await execute_sql(backend_env, [f"DELETE FROM audit_log {where}"])
    # `details` may be rewritten (erasure takes personal data out of it).
    await execute_sql(backend_env, [f"UPDATE audit_log SET details = '{{}}' {where}"])
    after = (await audit(client, alice, conversationId=conversation["id"]))[0]
    assert (after["id"], after["actorId"], after["details"]) == (entry["id"], alice.id, {})


@pytest.fixture(scope="module")
def proxied_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server behind a trusted proxy (127.0.0.1), with a small per-account login limit."""
    settings = {"TRUSTED_PROXIES": "127.0.0.1", "AUTH_RATE_LIMIT_PER_ACCOUNT": "2"}
    with own_server(backend_env, "audit-proxied", settings) as running:
        yield running


async def test_logins_behind_a_trusted_proxy_record_the_forwarded_address(
    proxied_server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=proxied_server.url, timeout=30) as http:
        user = await register(http, "proxied")
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        body = {"username": user.username, "password": PASSWORD}
        assert (await http.post("/auth/login", json=body, headers=forwarded)).status_code == 200
        wrong = {**body, "password": "wrong password"}
        for _ in range(2):
            refused = await http.post("/auth/login", json=wrong, headers=forwarded)
            assert_error(refused, 401, "INVALID_CREDENTIALS")
        locked = await http.post("/auth/login", json=body, headers=forwarded)
        assert_error(locked, 429, "RATE_LIMITED")
        entries = await audit(http, user, action="session.logged_in,session.login_failed")
    assert [(e["action"], e["details"]["ip"], e["details"].get("reason")) for e in entries] == [
        ("session.login_failed", "203.0.113.7", "account_locked"),
        ("session.login_failed", "203.0.113.7", "invalid_credentials"),
        ("session.login_failed", "203.0.113.7", "invalid_credentials"),
        ("session.logged_in", "203.0.113.7", None),
    ]
