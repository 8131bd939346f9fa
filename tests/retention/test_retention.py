"""Retention through `parley retention run --now`: exactly the messages past the cutoff go (with
history, reactions, files and search rows), counters and seq stay right, each conversation
touched gets one audit entry, the shorter of RETENTION_DAYS and settings.retentionDays wins,
and the lease lets one run at a time.

Messages are made old by moving their serverTimestamp back (SQL on the test database), so a
run as of now touches only this test's messages and never another test's."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.attachments.helpers import uploaded
from tests.conftest import PARLEY, ROOT, start_server, with_redis_prefix
from tests.support import (
    User,
    assert_error,
    create_conversation,
    execute_sql,
    find,
    my_conversations,
    query_sql,
    send,
)


def moment(env: dict[str, str], at: datetime) -> str:
    """A UTC time as a column literal: explicit offset on PostgreSQL (its session time zone
    may be anything), naive text on SQLite (how the column stores it)."""
    text = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}+00" if "DATABASE_URL" in env else text


def _literal(env: dict[str, str], value: str) -> str:
    """A uuid as its column holds it: native on PostgreSQL, 32 hex digits on SQLite."""
    return value if "DATABASE_URL" in env else value.replace("-", "")


async def age(env: dict[str, str], message_ids: list[str], days: float) -> None:
    """Move the messages' serverTimestamp `days` back from now."""
    when = moment(env, datetime.now(UTC) - timedelta(days=days))
    ids = ", ".join(f"'{_literal(env, m)}'" for m in message_ids)
    await execute_sql(env, [f"UPDATE messages SET server_timestamp = '{when}' WHERE id IN ({ids})"])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def run(
    env: dict[str, str], *args: str, global_days: int | None = None
) -> tuple[int, dict[str, Any]]:
    """`parley retention run ARGS` (RETENTION_DAYS for this run only); exit status, summary."""
    run_env = {**env, "RETENTION_DAYS": str(global_days) if global_days else ""}
    process = await asyncio.create_subprocess_exec(
        PARLEY,
        "retention",
        "run",
        *args,
        env=run_env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode in (0, 3), err.decode()
    return process.returncode, json.loads(out.decode().strip().splitlines()[-1])


async def set_retention(
    client: httpx.AsyncClient, user: User, conversation_id: str, days: int | None
) -> httpx.Response:
    return await client.patch(
        f"/conversations/{conversation_id}",
        json={"settings": {"retentionDays": days}},
        headers=user.headers,
    )


async def status_of(client: httpx.AsyncClient, user: User, message_id: str) -> int:
    return (await client.get(f"/messages/{message_id}", headers=user.headers)).status_code


async def retention_entries(
    client: httpx.AsyncClient, user: User, conversation_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        "/audit",
        params={"conversationId": conversation_id, "action": "retention.applied"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def stored_files(env: dict[str, str], attachment_id: str) -> list[Path]:
    root = Path(env["PARLEY_DATA_DIR"]) / "attachments"
    hexid = attachment_id.replace("-", "")
    return [path for path in root.rglob("*") if path.is_file() and hexid in str(path)]


async def search(client: httpx.AsyncClient, user: User, word: str, cid: str) -> list[str]:
    response = await client.get(
        "/messages/search", params={"q": word, "conversationId": cid}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["items"]]


async def test_retention_removes_exactly_what_is_past_the_cutoff(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    assert (await set_retention(client, alice, cid, 30)).status_code == 200
    word = "zq" + secrets.token_hex(4)
    file = await uploaded(client, alice, b"old bytes " + secrets.token_bytes(16), "old.bin")
    old = await send(client, alice, cid, f"old {word}", type="FILE", attachments=[file["id"]])
    edited = await client.put(
        f"/messages/{old['id']}", json={"content": f"old edited {word}"}, headers=alice.headers
    )
    assert edited.status_code == 200, edited.text
    reacted = await client.post(
        f"/messages/{old['id']}/reactions", json={"emoji": "👍"}, headers=bob.headers
    )
    assert reacted.status_code in (200, 201), reacted.text
    middle = await send(client, alice, cid, "middle")
    new = await send(client, alice, cid, "new")
    await age(backend_env, [old["id"]], 40)
    await age(backend_env, [middle["id"]], 20)
    assert await search(client, bob, word, cid) == [old["id"]]
    assert stored_files(backend_env, file["id"])

    await run(backend_env, "--now", iso(datetime.now(UTC)))

    assert_error(
        await client.get(f"/messages/{old['id']}", headers=bob.headers), 404, "MESSAGE_NOT_FOUND"
    )
    history = await client.get(f"/messages/{old['id']}/history", headers=alice.headers)
    assert_error(history, 404, "MESSAGE_NOT_FOUND")
    assert await status_of(client, bob, middle["id"]) == 200
    assert await status_of(client, bob, new["id"]) == 200
    download = await client.get(f"/attachments/{file['id']}", headers=bob.headers)
    assert_error(download, 404, "ATTACHMENT_NOT_FOUND")
    assert stored_files(backend_env, file["id"]) == []
    assert await search(client, bob, word, cid) == []
    reactions = await query_sql(
        backend_env,
        f"SELECT count(*) FROM reactions WHERE message_id = '{_literal(backend_env, old['id'])}'",
    )
    assert reactions == [(0,)]
    shown = find((await my_conversations(client, bob))["items"], cid)
    assert (shown["messageCount"], shown["lastMessageId"]) == (2, new["id"])
    assert shown["unreadCount"] == 2  # bob read nothing; the expired one no longer counts
    [entry] = await retention_entries(client, alice, cid)
    assert entry["actorId"] is None
    details = entry["details"]
    assert {k: details[k] for k in ("messages", "versions", "reactions", "files")} == {
        "messages": 1,
        "versions": 1,
        "reactions": 1,
        "files": 1,
    }
    assert details["retentionDays"] == 30
    assert details["cutoff"][:10] == (datetime.now(UTC) - timedelta(days=30)).date().isoformat()

    # As of 15 days from now, the 20-day-old message is past 30 days too.
    await run(backend_env, "--now", iso(datetime.now(UTC) + timedelta(days=15)))
    assert await status_of(client, bob, middle["id"]) == 404
    assert await status_of(client, bob, new["id"]) == 200
    assert len(await retention_entries(client, alice, cid)) == 2
    after = await send(client, alice, cid, "after")
    assert after["seq"] == new["seq"] + 1


async def test_when_every_message_expires_the_counters_are_empty_and_seq_goes_on(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    assert (await set_retention(client, alice, cid, 7)).status_code == 200
    sent = [await send(client, alice, cid, f"m{n}") for n in range(3)]
    await age(backend_env, [m["id"] for m in sent], 8)
    await run(backend_env)
    shown = find((await my_conversations(client, bob))["items"], cid)
    assert (shown["messageCount"], shown["lastMessageId"], shown["unreadCount"]) == (0, None, 0)
    page = await client.get(f"/messages/conversation/{cid}", headers=bob.headers)
    assert page.json()["items"] == []
    again = await send(client, alice, cid, "again")
    assert again["seq"] == sent[-1]["seq"] + 1
    shown = find((await my_conversations(client, bob))["items"], cid)
    assert (shown["messageCount"], shown["lastMessageId"], shown["unreadCount"]) == (
        1,
        again["id"],
        1,
    )


async def test_the_shorter_of_global_and_conversation_retention_wins(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    # RETENTION_DAYS=3650 for these runs; the messages are made older than that on purpose.
    shorter = (await create_conversation(client, alice, [bob]))["id"]
    longer = (await create_conversation(client, alice, [bob]))["id"]
    unset = (await create_conversation(client, alice, [bob]))["id"]
    assert (await set_retention(client, alice, shorter, 1000)).status_code == 200
    assert (await set_retention(client, alice, longer, 20000)).status_code == 200
    in_shorter = await send(client, alice, shorter, "2000 days")
    in_longer_old = await send(client, alice, longer, "4000 days")
    in_longer_kept = await send(client, alice, longer, "3000 days")
    in_unset_old = await send(client, alice, unset, "4000 days")
    in_unset_kept = await send(client, alice, unset, "2000 days")
    await age(backend_env, [in_shorter["id"], in_unset_kept["id"]], 2000)
    await age(backend_env, [in_longer_old["id"], in_unset_old["id"]], 4000)
    await age(backend_env, [in_longer_kept["id"]], 3000)

    await run(backend_env, global_days=3650)

    assert await status_of(client, bob, in_shorter["id"]) == 404  # its own 1000 days
    assert await status_of(client, bob, in_longer_old["id"]) == 404  # global 3650 < 20000
    assert await status_of(client, bob, in_longer_kept["id"]) == 200
    assert await status_of(client, bob, in_unset_old["id"]) == 404
    assert await status_of(client, bob, in_unset_kept["id"]) == 200
    [entry] = await retention_entries(client, alice, longer)
    assert (entry["details"]["retentionDays"], entry["details"]["messages"]) == (3650, 1)


async def test_scheduled_messages_are_not_touched(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert (await set_retention(client, alice, cid, 1)).status_code == 200
    when = iso(datetime.now(UTC) + timedelta(days=2))
    response = await client.post(
        "/messages",
        json={"conversationId": cid, "content": "later", "scheduledAt": when},
        headers=alice.headers,
    )
    assert response.status_code in (200, 201, 202), response.text
    await run(backend_env, "--now", iso(datetime.now(UTC) + timedelta(days=1, hours=1)))
    listed = await client.get("/messages/scheduled", headers=alice.headers)
    assert cid in {item["conversationId"] for item in listed.json()["items"]}
    # alice is shared by the run: leave her no scheduled message.
    cancelled = await client.delete(
        f"/messages/scheduled/{response.json()['id']}", headers=alice.headers
    )
    assert cancelled.status_code in (200, 204), cancelled.text


@pytest.mark.parametrize("days", [0, -1, 36501, "30", True, 1.5])
async def test_a_bad_retention_setting_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, days: Any
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert_error(await set_retention(client, alice, cid, days), 422, "VALIDATION_ERROR")


async def test_retention_setting_is_for_admins_and_null_removes_it(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert_error(await set_retention(client, bob, cid, 5), 403, "PERMISSION_DENIED")
    response = await set_retention(client, alice, cid, 5)
    assert response.json()["settings"]["retentionDays"] == 5
    assert response.json()["settings"]["readReceipts"] is True
    response = await set_retention(client, alice, cid, None)
    assert response.json()["settings"]["retentionDays"] is None
    updates = await client.get(
        "/audit",
        params={"conversationId": cid, "action": "conversation.updated"},
        headers=alice.headers,
    )
    assert [e["details"] for e in updates.json()["items"]] == [
        {"settings": {"retentionDays": None}},
        {"settings": {"retentionDays": 5}},
    ]


async def test_a_held_lease_keeps_a_second_run_out(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert (await set_retention(client, alice, cid, 1)).status_code == 200
    message = await send(client, alice, cid, "old")
    await age(backend_env, [message["id"]], 2)
    until = moment(backend_env, datetime.now(UTC) + timedelta(minutes=10))
    await execute_sql(backend_env, ["DELETE FROM job_leases WHERE name = 'retention'"])
    await execute_sql(
        backend_env,
        [
            "INSERT INTO job_leases (name, holder, expires_at) "
            f"VALUES ('retention', 'another-instance', '{until}')"
        ],
    )
    try:
        code, summary = await run(backend_env, "--wait", "0")
        assert (code, summary["ran"]) == (3, False)
        assert await status_of(client, bob, message["id"]) == 200
        # Once that holder's lease expires (it died), a run takes over.
        past = moment(backend_env, datetime.now(UTC) - timedelta(seconds=1))
        await execute_sql(
            backend_env,
            [f"UPDATE job_leases SET expires_at = '{past}' WHERE name = 'retention'"],
        )
        code, summary = await run(backend_env, "--wait", "0")
        assert (code, summary["ran"]) == (0, True)
        assert await status_of(client, bob, message["id"]) == 404
    finally:
        await execute_sql(backend_env, ["DELETE FROM job_leases WHERE holder = 'another-instance'"])


async def test_two_runs_at_once_never_both_do_the_work(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert (await set_retention(client, alice, cid, 1)).status_code == 200
    sent = [await send(client, alice, cid, f"old {n}") for n in range(5)]
    await age(backend_env, [m["id"] for m in sent], 2)
    results = await asyncio.gather(run(backend_env, "--wait", "0"), run(backend_env, "--wait", "0"))
    removed = [summary["messages"] for _, summary in results if summary["ran"]]
    assert sum(removed) >= 5
    assert len([n for n in removed if n]) == 1  # one did the work; the other was kept out
    assert len(await retention_entries(client, alice, cid)) == 1


async def test_the_server_runs_retention_in_the_background(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert (await set_retention(client, alice, cid, 1)).status_code == 200
    message = await send(client, alice, cid, "old")
    await age(backend_env, [message["id"]], 2)
    env = with_redis_prefix(backend_env, "retention-job")
    job_server = start_server(env, {"RETENTION_INTERVAL": "1s"})
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while await status_of(client, bob, message["id"]) == 200:
            assert asyncio.get_running_loop().time() < deadline, "retention never ran"
            await asyncio.sleep(0.2)
    finally:
        job_server.stop()
    [entry] = await retention_entries(client, alice, cid)
    assert entry["details"]["messages"] == 1


async def test_a_held_message_leaves_the_review_queue_when_it_expires(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    cid = (await create_conversation(client, alice, [bob]))["id"]
    assert (await set_retention(client, alice, cid, 1)).status_code == 200
    held = await send(client, bob, cid, "fuck this shit, fuck")
    assert held["status"] == "MODERATED"

    async def queue() -> list[str]:
        response = await client.get(
            "/moderation/queue",
            params={"conversationId": cid, "status": "ALL"},
            headers=alice.headers,
        )
        assert response.status_code == 200, response.text
        return [item["messageId"] for item in response.json()["items"]]

    assert await queue() == [held["id"]]
    await age(backend_env, [held["id"]], 2)
    await run(backend_env, "--wait", "30")
    assert await queue() == []
    assert await status_of(client, alice, held["id"]) == 404
