"""The hourly upload limit, the orphan sweep and the SDK's file calls."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from parley.client import ParleyClient, ParleyError
from tests.attachments.conftest import FilesServer
from tests.attachments.helpers import download, upload, uploaded
from tests.conftest import PARLEY, ROOT
from tests.support import assert_error, create_conversation, execute_sql, register, send


async def test_the_eleventh_upload_in_an_hour_is_refused(start_files_server: Any) -> None:
    server = start_files_server(RATE_LIMIT_UPLOADS_PER_HOUR="10")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        erin = await register(http, "erin")
        for number in range(10):
            assert (await upload(http, erin, b"%d" % number)).status_code == 201
        refused = await upload(http, erin, b"one more")
        error = assert_error(refused, 429, "RATE_LIMITED")
        assert error["details"]["scope"] == "UPLOADS"
        assert int(refused.headers["retry-after"]) >= 1
        # Another user has an allowance of their own.
        frank = await register(http, "frank")
        assert (await upload(http, frank, b"mine")).status_code == 201


def _id_literal(env: dict[str, str], attachment_id: str) -> str:
    """How a uuid column holds the id: native on PostgreSQL, 32 hex digits on SQLite."""
    return attachment_id if "DATABASE_URL" in env else attachment_id.replace("-", "")


async def _age(env: dict[str, str], attachment_ids: list[str]) -> None:
    ids = ", ".join(f"'{_id_literal(env, a)}'" for a in attachment_ids)
    await execute_sql(
        env, [f"UPDATE attachments SET created_at = '2000-01-01 00:00:00' WHERE id IN ({ids})"]
    )


async def _sweep(env: dict[str, str]) -> str:
    """`parley attachments cleanup` once; its output."""
    swept = await asyncio.create_subprocess_exec(
        PARLEY,
        "attachments",
        "cleanup",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(swept.communicate(), timeout=60)
    assert swept.returncode == 0, err.decode()
    return out.decode()


async def test_orphan_uploads_are_removed_with_their_bytes_and_sent_ones_kept(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice, bob = files.users["alice"], files.users["bob"]
    orphan = await uploaded(http, alice, os.urandom(1000), "orphan.bin")
    fresh = await uploaded(http, alice, b"recent", "fresh.bin")
    kept = await uploaded(http, alice, b"sent", "kept.bin")
    group = await create_conversation(http, alice, [bob])
    await send(http, alice, str(group["id"]), "file", type="FILE", attachments=[kept["id"]])
    before = files.stored_keys()
    assert len(before) >= 3
    await _age(files.env, [str(orphan["id"]), str(kept["id"])])

    assert "removed 1 orphan uploads" in await _sweep(files.env)

    assert_error(await download(http, alice, str(orphan["id"])), 404, "ATTACHMENT_NOT_FOUND")
    assert (await download(http, alice, str(fresh["id"]))).status_code == 200
    assert (await download(http, bob, str(kept["id"]))).content == b"sent"
    after = files.stored_keys()
    assert len(after) == len(before) - 1
    assert all(str(orphan["id"]).replace("-", "") not in key for key in after)


async def test_an_upload_waiting_in_a_scheduled_message_is_not_swept(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice, bob = files.users["alice"], files.users["bob"]
    waiting = await uploaded(http, alice, b"for next week", "later.bin")
    group = await create_conversation(http, alice, [bob])
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    scheduled = await http.post(
        "/messages",
        json={
            "conversationId": str(group["id"]),
            "content": "next week",
            "type": "FILE",
            "attachments": [waiting["id"]],
            "scheduledAt": due,
        },
        headers=alice.headers,
    )
    assert scheduled.status_code == 201, scheduled.text
    await _age(files.env, [str(waiting["id"])])

    await _sweep(files.env)

    assert (await download(http, alice, str(waiting["id"]))).content == b"for next week"


async def test_sdk_uploads_and_downloads(files: FilesServer, tmp_path: Path) -> None:
    alice = files.users["alice"]
    client = ParleyClient(files.server.url, token=alice.token)
    from_bytes = await client.upload_attachment(b"sdk bytes", "a.txt")
    assert from_bytes["name"] == "a.txt" and from_bytes["size"] == 9
    assert await client.download_attachment(from_bytes["id"]) == b"sdk bytes"
    source = tmp_path / "big.bin"
    content = os.urandom(3 * 1024 * 1024)
    source.write_bytes(content)
    from_path = await client.upload_attachment(source)
    assert from_path["name"] == "big.bin"
    target = await client.download_attachment(from_path["id"], tmp_path / "copy.bin")
    assert isinstance(target, Path) and target.read_bytes() == content
    stranger = ParleyClient(files.server.url, token=files.users["mallory"].token)
    try:
        await stranger.download_attachment(from_path["id"])
    except ParleyError as error:
        assert error.code == "ATTACHMENT_NOT_FOUND" and error.status == 404
    else:
        raise AssertionError("a stranger downloaded the file")
