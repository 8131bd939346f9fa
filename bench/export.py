"""Export benchmark: `GET /users/me/export` of a user with 100,000 messages, timed against a
running `parley serve`, with the archive's size and the server's peak RSS.

Starts its own server (one worker; SQLite by default, or PostgreSQL + Redis), registers the
user through the API (a real account and token), then bulk-loads their messages straight into
the database through the ORM tables (`insert(Message)`, 10,000 rows a statement, as
bench/analytics.py does): ~90 characters of text each, a reaction on every 10th, an earlier
version on every 50th. The export is then downloaded (streamed, counted, checked as a zip)
`--rounds` times while /proc/<pid>/status is sampled every 10 ms. Streaming keeps the peak
near the idle figure whatever the message count: that is the claim this checks.

    .venv/bin/python -m bench.export                          # SQLite, 100,000 messages
    .venv/bin/python -m bench.export --backend postgres --messages 100000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from bench.files import PeakRss, rss_mib
from bench.send import POSTGRES, start_server, stop_server
from parley.conversations.models import Conversation
from parley.core.config import normalize_database_url
from parley.messages.models import Message, MessageVersion, Reaction

BATCH = 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def _database_url(backend: str, cleanup: dict[str, str]) -> str:
    if backend == "postgres":
        return normalize_database_url(f"{POSTGRES}/{cleanup['database']}")
    return normalize_database_url(f"sqlite:///{Path(cleanup['data_dir']) / 'parley.db'}")


async def bulk_load(url: str, user_id: uuid.UUID, conversation_id: uuid.UUID, count: int) -> float:
    """The user's `count` messages (and some reactions and versions), in ascending seq."""
    started = time.perf_counter()
    engine = create_async_engine(url)
    try:
        for first in range(0, count, BATCH):
            messages, reactions, versions = [], [], []
            for seq in range(first + 1, min(count, first + BATCH) + 1):
                message_id = uuid.uuid4()
                at = START + timedelta(seconds=seq * 30)
                messages.append(
                    {
                        "id": message_id,
                        "conversation_id": conversation_id,
                        "sender_id": user_id,
                        "seq": seq,
                        "content": f"message {seq}: the quick brown fox jumps over the lazy "
                        f"dog, {secrets.token_hex(8)}",
                        "server_timestamp": at,
                        "attachments": [],
                        "extra": {},
                        "version": 2 if seq % 50 == 0 else 1,
                    }
                )
                if seq % 10 == 0:
                    reactions.append({"message_id": message_id, "user_id": user_id, "emoji": "👍"})
                if seq % 50 == 0:
                    versions.append(
                        {
                            "message_id": message_id,
                            "version": 1,
                            "content": f"message {seq} before its edit",
                            "created_at": at,
                        }
                    )
            async with engine.begin() as connection:
                await connection.execute(insert(Message), messages)
                if reactions:
                    await connection.execute(insert(Reaction), reactions)
                if versions:
                    await connection.execute(insert(MessageVersion), versions)
        async with engine.begin() as connection:
            await connection.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(last_seq=count, message_count=count)
            )
        # Statistics, as autovacuum would have them after such a load: without them
        # PostgreSQL estimates the sender's rows at a handful and intersects two bitmaps
        # (70 ms a page) instead of walking (conversation_id, seq) (0.3 ms a page).
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def run(
    url: str, pid: int, database_url: str, count: int, rounds: int
) -> tuple[float, list[tuple[float, int, float]]]:
    async with httpx.AsyncClient(base_url=url, timeout=3600) as http:
        answer = await http.post(
            "/auth/register",
            json={"username": f"export_{secrets.token_hex(3)}", "password": "benchmark-pw"},
        )
        answer.raise_for_status()
        user_id = uuid.UUID(answer.json()["user"]["id"])
        headers = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
        created = await http.post(
            "/conversations", json={"type": "GROUP", "name": "bench"}, headers=headers
        )
        created.raise_for_status()
        load = await bulk_load(database_url, user_id, uuid.UUID(created.json()["id"]), count)
        results = []
        for _ in range(rounds):
            with tempfile.TemporaryFile() as archive:
                with PeakRss(pid) as peak:
                    started = time.perf_counter()
                    async with http.stream("GET", "/users/me/export", headers=headers) as download:
                        download.raise_for_status()
                        async for chunk in download.aiter_bytes(1024 * 1024):
                            archive.write(chunk)
                    elapsed = time.perf_counter() - started
                size = archive.tell()
                archive.seek(0)
                with zipfile.ZipFile(archive) as opened:
                    lines = sum(1 for _ in io.TextIOWrapper(opened.open("messages.jsonl")))
            if lines != count:
                raise SystemExit(f"the archive holds {lines} messages, not {count}")
            results.append((elapsed, size, peak.peak))
        return load, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    extra = {"RATE_LIMIT_EXPORTS_PER_HOUR": "1000"}
    process, url, cleanup = start_server(args.backend, 1, extra_env=extra)
    try:
        before = rss_mib(process.pid)
        load, results = asyncio.run(
            run(url, process.pid, _database_url(args.backend, cleanup), args.messages, args.rounds)
        )
        after = rss_mib(process.pid)
    finally:
        stop_server(process, cleanup)
    print(
        f"{args.messages:,} messages, {args.backend}, {os.cpu_count()} cores; bulk load "
        f"{load:.1f} s; server RSS before: {before:.0f} MiB, after: {after:.0f} MiB"
    )
    print(f"{'round':<6} {'seconds':>8} {'archive MB':>11} {'msgs/s':>8} {'peak RSS MiB':>13}")
    for number, (elapsed, size, peak) in enumerate(results, 1):
        print(
            f"{number:<6} {elapsed:>8.1f} {size / 1e6:>11.1f} "
            f"{args.messages / elapsed:>8.0f} {peak:>13.0f}"
        )


if __name__ == "__main__":
    main()
