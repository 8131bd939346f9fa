"""Shared by the privacy tests: a user with a bit of everything, archives read back, and the
walk over every text column of the live database."""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from parley.core.config import normalize_database_url
from parley.core.crypto import KeyRing, parse_keys, stored_key_id
from tests.attachments.helpers import upload
from tests.support import User, create_conversation, register, send


@dataclass
class Footprint:
    """What one user left: the strings that must be gone after their erasure."""

    user: User
    display_name: str
    conversation_id: str
    file_name: str
    file_bytes: bytes
    attachment_id: str
    sentence: str
    message_ids: list[str] = field(default_factory=list)


async def make_footprint(client: httpx.AsyncClient, others: list[User]) -> Footprint:
    """A fresh user who owns a group with `others`, uploads a file, sends it and a
    distinctive sentence, edits it, and reacts to a message of the first other."""
    marker = secrets.token_hex(6)
    display_name = f"Zelda Quarrington {marker}"
    user = await register(client, "zelda", display_name=display_name)
    conversation = await create_conversation(client, user, others)
    file_name = f"holiday-{marker}.txt"
    file_bytes = f"private notes {marker}\n".encode() * 200
    uploaded = await upload(client, user, file_bytes, name=file_name, declared="text/plain")
    assert uploaded.status_code == 201, uploaded.text
    attachment_id = uploaded.json()["id"]
    sentence = f"my secret plan involves purple giraffes {marker}"
    first = await send(client, user, conversation["id"], "first draft", attachments=[attachment_id])
    second = await send(client, user, conversation["id"], f"draft: {sentence} (v1)")
    edited = await client.put(
        f"/messages/{second['id']}", json={"content": sentence}, headers=user.headers
    )
    assert edited.status_code == 200, edited.text
    theirs = await send(client, others[0], conversation["id"], f"hello @{user.username}")
    reacted = await client.post(
        f"/messages/{theirs['id']}/reactions", json={"emoji": "👍"}, headers=user.headers
    )
    assert reacted.status_code in (200, 201), reacted.text
    return Footprint(
        user=user,
        display_name=display_name,
        conversation_id=conversation["id"],
        file_name=file_name,
        file_bytes=file_bytes,
        attachment_id=attachment_id,
        sentence=sentence,
        message_ids=[first["id"], second["id"]],
    )


def read_archive(data: bytes) -> dict[str, bytes]:
    """Every member of a zip, by name (zipfile checks the CRCs as it reads)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def _key_ring(env: dict[str, str]) -> KeyRing | None:
    spec = env.get("ENCRYPTION_KEYS")
    if not spec:
        key_file = Path(env["PARLEY_DATA_DIR"]) / "encryption_keys"
        spec = key_file.read_text().strip() if key_file.exists() else None
    return KeyRing.from_pairs(parse_keys(spec)) if spec else None


def _readable(value: Any, ring: KeyRing | None) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and ring is not None and stored_key_id(value) is not None:
        return ring.decrypt_text(value)
    return text


async def find_in_database(env: dict[str, str], needles: list[str]) -> list[str]:
    """`table.column: needle` for every text, varchar or JSON value of the live database that
    contains a needle (case-insensitive). The tables and columns come from the database itself
    (`inspect`), so a table added later is walked too; encrypted values are decrypted first."""
    url = normalize_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{Path(env['PARLEY_DATA_DIR']) / 'parley.db'}"
    )
    engine = create_async_engine(url)
    ring = _key_ring(env)
    lowered = [needle.lower() for needle in needles]
    found: list[str] = []
    try:
        async with engine.connect() as connection:

            def textual_columns(sync: sa.Connection) -> dict[str, list[str]]:
                inspector = sa.inspect(sync)
                columns: dict[str, list[str]] = {}
                for table in inspector.get_table_names():
                    for column in inspector.get_columns(table):
                        kind = column["type"]
                        if isinstance(kind, sa.String | sa.Text | sa.JSON) or (
                            type(kind).__name__.upper() in {"JSON", "JSONB", "TSVECTOR"}
                        ):
                            columns.setdefault(table, []).append(column["name"])
                return columns

            for table, columns in (await connection.run_sync(textual_columns)).items():
                quoted = ", ".join(f'"{name}"' for name in columns)
                if table.startswith("messages_fts") and table != "messages_fts":
                    continue  # the FTS5 shadow tables: blobs, read through messages_fts
                rows = await connection.execute(sa.text(f'SELECT {quoted} FROM "{table}"'))
                for row in rows:
                    for name, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        text = _readable(value, ring).lower()
                        found.extend(
                            f"{table}.{name}: {needle}"
                            for needle, low in zip(needles, lowered, strict=True)
                            if low in text
                        )
    finally:
        await engine.dispose()
    return found
