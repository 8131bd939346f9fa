"""GET /users/me/export (streamed) and the background export: a valid zip whose JSON is what
the API shows for the same objects, with the uploaded bytes; only its owner reads it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.conftest import start_server
from tests.privacy.helpers import Footprint, json_lines, make_footprint, read_archive
from tests.support import User, assert_error, register


async def _export_now(client: httpx.AsyncClient, user: User) -> dict[str, bytes]:
    response = await client.get("/users/me/export", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment;")
    return read_archive(response.content)


async def _actions(client: httpx.AsyncClient, user: User) -> list[str]:
    response = await client.get(
        "/audit", params={"limit": 50, "actorId": user.id}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


def _same_as_api(exported: dict[str, Any], shown: dict[str, Any], volatile: set[str]) -> None:
    """Every field the export holds has the value the API shows (but fields that move on
    their own between the two reads, such as a conversation's last activity)."""
    for key, value in exported.items():
        if key not in volatile:
            assert shown.get(key) == value, (key, value, shown.get(key))


async def _check_archive(
    client: httpx.AsyncClient, footprint: Footprint, members: dict[str, bytes]
) -> None:
    user = footprint.user
    me = (await client.get("/users/me", headers=user.headers)).json()
    assert json.loads(members["profile.json"]) == me

    conversations = json_lines(members["conversations.jsonl"])
    assert [c["id"] for c in conversations] == [footprint.conversation_id]
    shown = (
        await client.get(f"/conversations/{footprint.conversation_id}", headers=user.headers)
    ).json()
    _same_as_api(conversations[0], shown, {"lastMessage"})

    messages = json_lines(members["messages.jsonl"])
    assert [m["id"] for m in messages] == footprint.message_ids
    for message in messages:
        api = (await client.get(f"/messages/{message['id']}", headers=user.headers)).json()
        _same_as_api(message, api, set())
    assert messages[1]["content"] == footprint.sentence

    history = json_lines(members["edit_history.jsonl"])
    api_history = (
        await client.get(f"/messages/{footprint.message_ids[1]}/history", headers=user.headers)
    ).json()
    earlier = [item for item in api_history["items"] if not item.get("current")]
    assert [(h["version"], h["content"]) for h in history] == [
        (item["version"], item["content"]) for item in earlier
    ]
    reactions = json_lines(members["reactions.jsonl"])
    assert [r["emoji"] for r in reactions] == ["👍"]

    manifest = json_lines(members["files/manifest.jsonl"])
    assert [entry["id"] for entry in manifest] == [footprint.attachment_id]
    assert manifest[0]["name"] == footprint.file_name
    assert members[manifest[0]["path"]] == footprint.file_bytes


async def test_export_is_a_zip_of_what_the_api_shows(client: httpx.AsyncClient, bob: User) -> None:
    footprint = await make_footprint(client, [bob])
    members = await _export_now(client, footprint.user)
    await _check_archive(client, footprint, members)
    assert "export.streamed" in await _actions(client, footprint.user)


async def test_background_export_reaches_done_and_downloads_the_same(
    client: httpx.AsyncClient, bob: User
) -> None:
    footprint = await make_footprint(client, [bob])
    started = await client.post("/users/me/export", headers=footprint.user.headers)
    assert started.status_code == 202, started.text
    export = started.json()
    assert export["status"] in ("PENDING", "RUNNING", "DONE")
    assert 0 <= export["progress"] <= 1
    deadline = time.monotonic() + 30
    while export["status"] != "DONE" and time.monotonic() < deadline:
        assert export["status"] != "FAILED", export
        await asyncio.sleep(0.1)
        polled = await client.get(
            f"/users/me/export/{export['id']}", headers=footprint.user.headers
        )
        assert polled.status_code == 200, polled.text
        export = polled.json()
    assert export["status"] == "DONE", export
    assert export["progress"] == 1
    assert export["doneItems"] == export["totalItems"] == 2 + 1 + 1 + 1
    download = await client.get(export["downloadUrl"], headers=footprint.user.headers)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert int(download.headers["content-length"]) == export["size"] == len(download.content)
    await _check_archive(client, footprint, read_archive(download.content))
    assert {"export.started", "export.downloaded"} <= set(await _actions(client, footprint.user))


async def test_nobody_else_reads_an_export(
    client: httpx.AsyncClient, bob: User, mallory: User
) -> None:
    owner = await register(client, "exporter")
    started = await client.post("/users/me/export", headers=owner.headers)
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    for path in (f"/users/me/export/{export_id}", f"/users/me/export/{export_id}/download"):
        assert_error(await client.get(path, headers=mallory.headers), 404, "EXPORT_NOT_FOUND")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(
        await client.get(f"/users/me/export/{missing}", headers=owner.headers),
        404,
        "EXPORT_NOT_FOUND",
    )


async def test_exports_are_rate_limited(client: httpx.AsyncClient) -> None:
    user = await register(client, "hoarder")
    answers = [
        (await client.post("/users/me/export", headers=user.headers)).status_code for _ in range(5)
    ]
    assert answers == [202] * 5
    assert_error(await client.get("/users/me/export", headers=user.headers), 429, "RATE_LIMITED")


async def test_a_background_export_expires(backend_env: dict[str, str]) -> None:
    short = start_server(backend_env, {"EXPORT_TTL_HOURS": "3s"})
    try:
        async with httpx.AsyncClient(base_url=short.url, timeout=30) as http:
            user = await register(http, "fleeting")
            started = await http.post("/users/me/export", headers=user.headers)
            assert started.status_code == 202, started.text
            path = f"/users/me/export/{started.json()['id']}"
            assert (await http.get(path, headers=user.headers)).status_code == 200
            deadline = time.monotonic() + 30
            while (polled := await http.get(path, headers=user.headers)).status_code == 200:
                assert time.monotonic() < deadline, polled.json()
                await asyncio.sleep(0.2)
            assert_error(polled, 404, "EXPORT_NOT_FOUND")
            download = await http.get(f"{path}/download", headers=user.headers)
            assert_error(download, 404, "EXPORT_NOT_FOUND")
    finally:
        short.stop()
