"""Search benchmark: p50/p99 of `GET /messages/search`'s query path over 1,000,000 messages.

Fills a throwaway database (PostgreSQL: `parley_bench_search_<pid>`, dropped at the end;
SQLite: a temporary file), migrated to head like `parley serve` does, with a fast bulk loader
(not the API), storing what the app stores: content encrypted under the key ring (as
`EncryptedText` does), the index fed the plaintext. PostgreSQL: COPY through asyncpg into a
staging table (ciphertext and plaintext), then one INSERT ... SELECT that computes each
`search_vector` as the committer's INSERT does; the GIN index is built once after the load, as
`CREATE INDEX` on a filled table. SQLite: executemany in large transactions, the FTS5 triggers
indexing `parley_decrypt(content)` as they do for the committer.

The text is drawn from a 30,000-word vocabulary with a Zipf-like distribution (s = 1.07), so
the most common words are in most messages and the rarest in a few dozen. 300 group
conversations; the searching user is an active member of 100 of them (a third of the
messages are in scope). Each query calls `parley.search.queries.search_messages` (the
function behind the endpoint: visibility, ranking, page of 20, snippets, rendering) on a
session of the app's engine, in process; HTTP and auth are not included.

    .venv/bin/python bench/search.py                      # PostgreSQL and SQLite, 1M messages
    .venv/bin/python bench/search.py --backend postgres --messages 200000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from parley.accounts.models import User
from parley.cli import run_migrations
from parley.conversations.models import Conversation, Participant
from parley.core.config import load_settings
from parley.core.crypto import install_key_ring, key_ring, new_key_spec
from parley.core.db import register_sqlite_functions
from parley.search.queries import SearchFilters, search_messages

BENCH_KEY = new_key_spec("bench")
POSTGRES = os.environ.get("PARLEY_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432")
VOCABULARY = 30_000
ZIPF_S = 1.07
CONVERSATIONS = 300
SEARCHER_IN = 100
SENDERS = 50
BATCH = 50_000
_COMMON_TEXT = (
    "the of and to a in is it you that he was for on are with as i his they be at one have "
    "this from or had by hot word but what some we can out other were all there when up use "
    "your how said an each she which do their time if will way about many then them write "
    "would like so these her long make thing see him two has look more day could go come did "
    "number sound no most people my over know water than call first who may down side been "
    "now find"
)
COMMON = _COMMON_TEXT.split()


def vocabulary(rng: random.Random) -> list[str]:
    """Common English words first, then made-up words of 2-4 syllables (all distinct)."""
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def texts(rng: random.Random, words: list[str], count: int) -> Iterator[str]:
    weights = list(itertools.accumulate(1 / (rank**ZIPF_S) for rank in range(1, len(words) + 1)))
    for _ in range(count):
        yield " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(4, 20)))


class Fill:
    """Users, conversations and the searcher's memberships (through the ORM tables)."""

    def __init__(self) -> None:
        self.searcher = uuid.uuid4()
        self.senders = [uuid.uuid4() for _ in range(SENDERS)]
        self.conversations = [uuid.uuid4() for _ in range(CONVERSATIONS)]

    async def people(self, session: AsyncSession) -> None:
        users = [self.searcher, *self.senders]
        await session.execute(
            insert(User),
            [
                {
                    "id": user_id,
                    "username": f"u{index}",
                    "username_lower": f"u{index}",
                    "display_name": f"User {index}",
                    "display_name_lower": f"user {index}",
                    "password_hash": "x",
                }
                for index, user_id in enumerate(users)
            ],
        )
        await session.execute(
            insert(Conversation),
            [
                {"id": conversation_id, "type": "GROUP", "name": f"room {index}"}
                for index, conversation_id in enumerate(self.conversations)
            ],
        )
        await session.execute(
            insert(Participant),
            [
                {"conversation_id": conversation_id, "user_id": self.searcher}
                for conversation_id in self.conversations[:SEARCHER_IN]
            ],
        )
        await session.commit()

    def messages(self, count: int, words: list[str]) -> Iterator[tuple[object, ...]]:
        """(id, conversation, sender, seq, content, server timestamp), oldest first."""
        rng = random.Random(7)
        seqs = dict.fromkeys(self.conversations, 0)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for index, content in enumerate(texts(rng, words, count)):
            conversation_id = rng.choice(self.conversations)
            seqs[conversation_id] += 1
            yield (
                uuid.uuid4(),
                conversation_id,
                rng.choice(self.senders),
                seqs[conversation_id],
                content,
                start + timedelta(seconds=index * 30),
            )


async def load_postgres(url: str, fill: Fill, count: int, words: list[str], language: str) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP INDEX ix_messages_search")
        await connection.execute(
            "CREATE UNLOGGED TABLE bench_staging (id uuid, conversation_id uuid, sender_id uuid, "
            "seq bigint, content text, server_timestamp timestamptz, plain text)"
        )
        columns = [
            "id",
            "conversation_id",
            "sender_id",
            "seq",
            "content",
            "server_timestamp",
            "plain",
        ]
        ring = key_ring()
        rows = fill.messages(count, words)
        while batch := [
            (m, c, s, q, ring.encrypt_text(str(text)), at, text)
            for m, c, s, q, text, at in itertools.islice(rows, BATCH)
        ]:
            await connection.copy_records_to_table("bench_staging", records=batch, columns=columns)
            await connection.execute(
                "INSERT INTO messages (id, conversation_id, sender_id, seq, content, "
                "server_timestamp, type, status, attachments, metadata, encrypted, version, "
                f"search_vector) SELECT id, conversation_id, sender_id, seq, content, "
                "server_timestamp, 'TEXT', 'SENT', '[]', '{}', false, 1, "
                f"to_tsvector('{language}'::regconfig, plain) FROM bench_staging"
            )
            await connection.execute("TRUNCATE bench_staging")
        await connection.execute("DROP TABLE bench_staging")
        await connection.execute(
            "CREATE INDEX ix_messages_search ON messages USING gin (search_vector)"
        )
        # Statistics for every table, as autovacuum keeps them in production: without them
        # the planner takes the searcher's few memberships for one row and picks a plan that
        # is seconds slow for a common word.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


def load_sqlite(path: Path, fill: Fill, count: int, words: list[str]) -> float:
    started = time.perf_counter()
    database = sqlite3.connect(path)
    register_sqlite_functions(database)  # the FTS5 triggers index parley_decrypt(content)
    ring = key_ring()
    try:
        database.execute("PRAGMA journal_mode=WAL")
        database.execute("PRAGMA synchronous=NORMAL")
        rows = fill.messages(count, words)
        # Stored as the app's column types store them: uuids as 32 hex digits, naive UTC.
        while batch := [
            (
                message_id.hex,  # type: ignore[attr-defined]
                conversation_id.hex,  # type: ignore[attr-defined]
                sender_id.hex,  # type: ignore[attr-defined]
                seq,
                ring.encrypt_text(str(content)),
                at.replace(tzinfo=None).isoformat(sep=" "),  # type: ignore[attr-defined]
            )
            for message_id, conversation_id, sender_id, seq, content, at in itertools.islice(
                rows, BATCH
            )
        ]:
            database.executemany(
                "INSERT INTO messages (id, conversation_id, sender_id, seq, content, "
                "server_timestamp, type, status, attachments, metadata, encrypted, version) "
                "VALUES (?, ?, ?, ?, ?, ?, 'TEXT', 'SENT', '[]', '{}', 0, 1)",
                batch,
            )
            database.commit()
        database.execute("ANALYZE")
        database.commit()
    finally:
        database.close()
    return time.perf_counter() - started


def queries(words: list[str], rng: random.Random) -> dict[str, list[str]]:
    made_up = words[len(COMMON) :]
    return {
        "common word": ["the", "of", "and", "time", "water"],
        "two common words": ["the time", "people water", "one day"],
        "rare word": rng.sample(words[20_000:], 10),
        "prefix (3 letters)": [word[:3] for word in rng.sample(made_up[200:2000], 10)],
        "common + prefix": [f"the {word[:4]}" for word in rng.sample(made_up[:1000], 10)],
    }


async def measure(url: str, fill: Fill, words: list[str], runs: int, language: str) -> None:
    engine = create_async_engine(url, pool_size=1)
    if engine.dialect.name == "sqlite":
        event.listen(
            engine.sync_engine, "connect", lambda dbapi, _record: register_sqlite_functions(dbapi)
        )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    rng = random.Random(11)
    try:
        for label, texts_ in queries(words, rng).items():
            timings: list[float] = []
            hits: list[int] = []
            for attempt in range(runs + 5):
                query = texts_[attempt % len(texts_)]
                async with sessions() as session:
                    started = time.perf_counter()
                    page = await search_messages(
                        session,
                        user_id=fill.searcher,
                        query=query,
                        filters=SearchFilters(),
                        limit=20,
                        cursor=None,
                        language=language,
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                if attempt >= 5:  # the first few warm the caches
                    timings.append(elapsed)
                    hits.append(len(page.items))
            timings.sort()
            p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
            print(
                f"  {label:<20} p50 {statistics.median(timings):7.1f} ms   p99 {p99:7.1f} ms"
                f"   (hits on page: {min(hits)}-{max(hits)}, {len(timings)} runs)"
            )
    finally:
        await engine.dispose()


async def postgres(count: int, runs: int, words: list[str], keep: bool = False) -> None:
    name = f"parley_bench_search_{os.getpid()}"
    admin = await asyncpg.connect(POSTGRES + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES}/{name}"
    try:
        settings = load_settings(
            {"DATABASE_URL": url, "JWT_SECRET": "x" * 40, "ENCRYPTION_KEYS": BENCH_KEY}
        )
        assert settings.key_ring is not None
        install_key_ring(settings.key_ring)
        await asyncio.to_thread(run_migrations, settings)
        fill = Fill()
        engine = create_async_engine(settings.database_url)
        async with async_sessionmaker(engine)() as session:
            await fill.people(session)
        await engine.dispose()
        seconds = await load_postgres(url, fill, count, words, settings.search_language)
        print(f"PostgreSQL: {count:,} messages loaded and indexed in {seconds:.0f} s")
        await measure(settings.database_url, fill, words, runs, settings.search_language)
        print(f"  searcher: {fill.searcher}")
    finally:
        if keep:
            print(f"  kept database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def sqlite(count: int, runs: int, words: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="parley-bench-search-") as folder:
        path = Path(folder) / "parley.db"
        settings = load_settings(
            {"DATABASE_URL": f"sqlite:///{path}", "JWT_SECRET": "x" * 40, "PARLEY_DATA_DIR": folder}
        )
        assert settings.key_ring is not None
        install_key_ring(settings.key_ring)
        await asyncio.to_thread(run_migrations, settings)
        fill = Fill()
        engine = create_async_engine(settings.database_url)
        async with async_sessionmaker(engine)() as session:
            await fill.people(session)
        await engine.dispose()
        seconds = await asyncio.to_thread(load_sqlite, path, fill, count, words)
        print(f"SQLite: {count:,} messages loaded and indexed in {seconds:.0f} s")
        await measure(settings.database_url, fill, words, runs, settings.search_language)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50, help="timed queries per kind")
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the database")
    args = parser.parse_args()
    words = vocabulary(random.Random(3))
    if args.backend in ("postgres", "both"):
        asyncio.run(postgres(args.messages, args.runs, words, args.keep))
    if args.backend in ("sqlite", "both"):
        asyncio.run(sqlite(args.messages, args.runs, words))


if __name__ == "__main__":
    main()
