"""Analytics benchmark: p50/p99 of `GET /conversations/{id}/analytics`'s query path on one
conversation of 1,000,000 messages over a year.

Fills a throwaway database (PostgreSQL: `parley_bench_analytics_<pid>`, dropped at the end
unless `--keep`; SQLite: a temporary file) migrated to revision 0010 (before the counters),
bulk-loads the messages (one every ~31 s from 20 senders), a reaction on every 10th message
and a hashtag on every 8th (PostgreSQL COPY, SQLite executemany, as `bench/search.py` does),
then migrates to head: the backfills of migrations 0011 (per-day message counters, the
aggregate the committer keeps per batch), 0016 (per-day reaction counters, which the
reaction actions keep) and 0017 (per-day hashtag counters, which the committer and the edit
keep) fill them. Each run calls `parley.analytics.queries.compute` (the function behind the
endpoint, without the access check) on a read session of the app's `Database` (the route's
`ReadSessionDep`), in process, under the server's garbage-collector policy
(`PARLEY_GC_POLICY`, `freeze` when unset: start-up objects frozen as `parley/main.py` does;
`python` shows the full collections a process without it has, 90-280 ms each); each period's
line counts the full collections during its calls. Then each statement alone, with the
statements that top reactions and top hashtags ran before their counters beside them (over
the default and the longest period); `--explain` prints PostgreSQL's EXPLAIN ANALYZE of
every statement of one call. The machine's load counts: pin with `taskset` and say what else
ran.

    .venv/bin/python -m bench.analytics                      # PostgreSQL and SQLite, 1M messages
    .venv/bin/python -m bench.analytics --backend sqlite --messages 100000
    taskset -c 1 .venv/bin/python -m bench.analytics --backend postgres --explain
    .venv/bin/python -m bench.analytics --backend postgres --keep      # then, without reloading:
    .venv/bin/python -m bench.analytics --backend postgres --database parley_bench_analytics_N
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
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.gc_pauses import PauseClock
from parley.accounts.models import User
from parley.analytics import queries
from parley.analytics.queries import compute
from parley.cli import run_migrations
from parley.conversations.models import Conversation, Participant
from parley.core.collector import freeze_startup_objects, keep_long_lived_objects_frozen
from parley.core.config import Settings, load_settings
from parley.core.crypto import new_key_spec
from parley.core.db import Database
from parley.messages.models import Hashtag, Message, Reaction

BENCH_KEY = new_key_spec("bench")
POSTGRES = os.environ.get("PARLEY_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432")
SENDERS = 20
BATCH = 50_000
START = datetime(2025, 12, 1, tzinfo=UTC)
EMOJIS = ["👍", "❤️", "😂", "🎉", "👀", "🙏"]
TAGS = [f"tag{index}" for index in range(40)]
# The server's garbage-collector policy, as it would be configured (`freeze` when unset).
GC_POLICY = {"PARLEY_GC_POLICY": os.environ.get("PARLEY_GC_POLICY", "")}

Row = tuple[uuid.UUID, uuid.UUID, int, datetime]
# (id, message, user or conversation, emoji or tag, time)
Extra = tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, datetime]


class Fill:
    """One conversation, its members (read pointers spread over the year) and the rows."""

    def __init__(self, count: int, conversation: uuid.UUID | None = None) -> None:
        self.count = count
        self.conversation = conversation or uuid.uuid4()
        self.senders = [uuid.uuid4() for _ in range(SENDERS)]
        self.step = timedelta(days=365) / count
        self.last_day = (START + self.step * (count - 1)).date()

    async def people(self, session: AsyncSession) -> None:
        rng = random.Random(3)
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
                for index, user_id in enumerate(self.senders)
            ],
        )
        await session.execute(
            insert(Conversation),
            [{"id": self.conversation, "type": "GROUP", "name": "big", "last_seq": self.count}],
        )
        await session.execute(
            insert(Participant),
            [
                {
                    "conversation_id": self.conversation,
                    "user_id": user_id,
                    "read_seq": rng.randint(self.count // 2, self.count),
                }
                for user_id in self.senders
            ],
        )
        await session.commit()

    def messages(self) -> Iterator[Row]:
        """(id, sender, seq, server timestamp), oldest first."""
        rng = random.Random(7)
        for index in range(self.count):
            yield uuid.uuid4(), rng.choice(self.senders), index + 1, START + self.step * index

    def extras(self, batch: list[Row]) -> tuple[list[Extra], list[Extra]]:
        """(reactions, hashtags) of a batch of messages."""
        reactions = [
            (uuid.uuid4(), message_id, self.senders[seq % SENDERS], EMOJIS[seq % 6], at)
            for message_id, _, seq, at in batch
            if seq % 10 == 0
        ]
        hashtags = [
            (uuid.uuid4(), message_id, self.conversation, TAGS[seq % 37 % 40], at)
            for message_id, _, seq, at in batch
            if seq % 8 == 0
        ]
        return reactions, hashtags


async def load_postgres(url: str, fill: Fill) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        rows = fill.messages()
        while batch := list(itertools.islice(rows, BATCH)):
            await connection.copy_records_to_table(
                "messages",
                records=[
                    (m, fill.conversation, s, q, "ok", t, "TEXT", "SENT", "[]", "{}", False, 1)
                    for m, s, q, t in batch
                ],
                columns=[
                    "id",
                    "conversation_id",
                    "sender_id",
                    "seq",
                    "content",
                    "server_timestamp",
                    "type",
                    "status",
                    "attachments",
                    "metadata",
                    "encrypted",
                    "version",
                ],
            )
            reactions, hashtags = fill.extras(batch)
            await connection.copy_records_to_table(
                "reactions",
                records=reactions,
                columns=["id", "message_id", "user_id", "emoji", "created_at"],
            )
            await connection.copy_records_to_table(
                "hashtags",
                records=hashtags,
                columns=["id", "message_id", "conversation_id", "tag", "created_at"],
            )
    finally:
        await connection.close()
    return time.perf_counter() - started


def load_sqlite(path: Path, fill: Fill) -> float:
    started = time.perf_counter()
    database = sqlite3.connect(path)

    def text(at: datetime) -> str:
        return at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    try:
        database.execute("PRAGMA journal_mode=WAL")
        database.execute("PRAGMA synchronous=NORMAL")
        rows = fill.messages()
        conversation = fill.conversation.hex
        while batch := list(itertools.islice(rows, BATCH)):
            database.executemany(
                "INSERT INTO messages (id, conversation_id, sender_id, seq, content, "
                "server_timestamp, type, status, attachments, metadata, encrypted, version) "
                "VALUES (?, ?, ?, ?, 'ok', ?, 'TEXT', 'SENT', '[]', '{}', 0, 1)",
                [(m.hex, conversation, s.hex, q, text(t)) for m, s, q, t in batch],
            )
            reactions, hashtags = fill.extras(batch)
            database.executemany(
                "INSERT INTO reactions (id, message_id, user_id, emoji, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.hex, m.hex, u.hex, e, text(t)) for r, m, u, e, t in reactions],
            )
            database.executemany(
                "INSERT INTO hashtags (id, message_id, conversation_id, tag, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(h.hex, m.hex, c.hex, g, text(t)) for h, m, c, g, t in hashtags],
            )
            database.commit()
    finally:
        database.close()
    return time.perf_counter() - started


def server_gc_policy(settings: Settings) -> asyncio.Task[None] | None:
    """What the server's start-up does with the collector (`parley/main.py`, PARLEY_GC_POLICY,
    `freeze` by default). Without it each full collection of this process walks the ~200,000
    objects of the imported modules: a 90-280 ms pause in about one call of 50, which the
    server does not have, so the p99 measured the bench, not the endpoint."""
    if settings.gc_policy != "freeze":
        return None
    freeze_startup_objects()
    return asyncio.create_task(keep_long_lived_objects_frozen(lambda: 0))  # no sockets here


async def measure(settings: Settings, fill: Fill, runs: int) -> None:
    """Calls on the app's read sessions (`Database.reads`, the route's `ReadSessionDep`:
    the same pool, pre-ping and, on SQLite, read-only connections), under the server's
    garbage-collector policy."""
    database = Database(settings)
    collector = server_gc_policy(settings)
    periods = {
        "30 days (default)": (fill.last_day - timedelta(days=29), fill.last_day),
        "7 days": (fill.last_day - timedelta(days=6), fill.last_day),
        "366 days (maximum)": (fill.last_day - timedelta(days=365), fill.last_day),
    }
    print(f"  garbage-collector policy: {settings.gc_policy}")
    try:
        for label, (start, end) in periods.items():
            timings: list[float] = []
            with PauseClock() as collections:
                for attempt in range(runs + 3):
                    async with database.reads() as session:
                        started = time.perf_counter()
                        result = await compute(
                            session, conversation_id=fill.conversation, start=start, end=end
                        )
                        elapsed = (time.perf_counter() - started) * 1000
                    if attempt >= 3:  # the first few warm the caches
                        timings.append(elapsed)
            timings.sort()
            p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
            print(
                f"  {label:<20} p50 {statistics.median(timings):7.1f} ms   p99 {p99:7.1f} ms"
                f"   max {timings[-1]:7.1f} ms   ({result.totals.messages:,} messages,"
                f" {len(timings)} runs; {len(collections.pauses_ms)} full collections,"
                f" longest {max(collections.pauses_ms, default=0):.1f} ms)"
            )
        await parts(database.reads, fill, runs)
    finally:
        if collector is not None:
            collector.cancel()
        await database.dispose()


async def parts(sessions: async_sessionmaker[AsyncSession], fill: Fill, runs: int) -> None:
    """p50 of each statement of the default period, to see where the time goes."""
    start, end = fill.last_day - timedelta(days=29), fill.last_day
    async with sessions() as session:
        days = await compute(session, conversation_id=fill.conversation, start=start, end=end)
    first_seq = fill.count - days.totals.messages + 1
    cid, last_seq = fill.conversation, fill.count
    steps: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
        "first response": lambda s: queries._first_response(
            s, conversation_id=cid, first_seq=first_seq, last_seq=last_seq
        ),
        "top reactions": lambda s: queries._top_reactions(
            s, conversation_id=cid, start=start, end=end
        ),
        "top reactions, join (before 0016)": lambda s: _joined_top_reactions(
            s, conversation_id=cid, first_seq=first_seq, last_seq=last_seq
        ),
        "top hashtags": lambda s: queries._top_hashtags(
            s, conversation_id=cid, start=start, end=end
        ),
        "read rate": lambda s: queries._read_rate(
            s, conversation_id=cid, first_seq=first_seq, last_seq=last_seq
        ),
    }
    year = fill.last_day - timedelta(days=365)
    steps = {f"30 days, {label}": step for label, step in steps.items()}
    steps["366 days, top hashtags"] = lambda s: queries._top_hashtags(
        s, conversation_id=cid, start=year, end=end
    )
    steps["30 days, top hashtags, index (before 0017)"] = lambda s: _indexed_top_hashtags(
        s, conversation_id=cid, start=start, end=end
    )
    steps["366 days, top hashtags, index (before 0017)"] = lambda s: _indexed_top_hashtags(
        s, conversation_id=cid, start=year, end=end
    )
    for label, step in steps.items():
        timings: list[float] = []
        for _ in range(runs):
            async with sessions() as session:
                started = time.perf_counter()
                await step(session)
                timings.append((time.perf_counter() - started) * 1000)
        print(f"    {label:<43} p50 {statistics.median(timings):7.1f} ms")


async def _joined_top_reactions(
    session: AsyncSession, *, conversation_id: uuid.UUID, first_seq: int, last_seq: int
) -> list[tuple[str, int]]:
    """The statement top reactions ran before the per-day counters (for comparison)."""
    count = func.count().label("count")
    rows = await session.execute(
        select(Reaction.emoji, count)
        .join(Message, Message.id == Reaction.message_id)
        .where(Message.conversation_id == conversation_id, Message.seq.between(first_seq, last_seq))
        .group_by(Reaction.emoji)
        .order_by(count.desc(), Reaction.emoji)
        .limit(queries.TOP)
    )
    return [(emoji, n) for emoji, n in rows.all()]


async def _indexed_top_hashtags(
    session: AsyncSession, *, conversation_id: uuid.UUID, start: date, end: date
) -> list[tuple[str, int]]:
    """The statement top hashtags ran before the per-day counters (for comparison): every
    hashtag row of the period, through (conversation_id, created_at, tag)."""
    count = func.count().label("count")
    rows = await session.execute(
        select(Hashtag.tag, count)
        .where(
            Hashtag.conversation_id == conversation_id,
            Hashtag.created_at >= datetime.combine(start, datetime.min.time(), UTC),
            Hashtag.created_at
            < datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC),
        )
        .group_by(Hashtag.tag)
        .order_by(count.desc(), Hashtag.tag)
        .limit(queries.TOP)
    )
    return [(tag, n) for tag, n in rows.all()]


async def explain(url: str, fill: Fill) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement one call issues, for the default period
    and for the longest."""
    engine = create_async_engine(url, pool_size=1)
    captured: list[tuple[str, object]] = []

    def capture(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if not statement.startswith("EXPLAIN"):
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        for days in (30, 366):
            start, end = fill.last_day - timedelta(days=days - 1), fill.last_day
            print(f"  EXPLAIN, {days} days:")
            captured.clear()
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                await compute(session, conversation_id=fill.conversation, start=start, end=end)
                connection = await session.connection()
                for statement, parameters in list(captured):
                    plan = await connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement,
                        parameters,  # type: ignore[arg-type]
                    )
                    print(
                        "\n".join(
                            ["  " + " ".join(statement.split())[:160]]
                            + ["    " + row[0] for row in plan.all()]
                        )
                    )
    finally:
        await engine.dispose()


async def postgres(
    count: int,
    runs: int,
    *,
    explain_plans: bool = False,
    database: str | None = None,
    keep: bool = False,
) -> None:
    name = database or f"parley_bench_analytics_{os.getpid()}"
    url = f"{POSTGRES}/{name}"
    settings = load_settings(
        {"DATABASE_URL": url, "JWT_SECRET": "x" * 40, "ENCRYPTION_KEYS": BENCH_KEY, **GC_POLICY}
    )
    if database:
        fill = await reuse(url)
        print(f"PostgreSQL: {fill.count:,} messages in {name} (kept by an earlier run)")
        await measure(settings, fill, runs)
        if explain_plans:
            await explain(settings.database_url, fill)
        return
    admin = await asyncpg.connect(POSTGRES + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(run_migrations, settings, "0010")
        fill = Fill(count)
        engine = create_async_engine(settings.database_url)
        async with async_sessionmaker(engine)() as session:
            await fill.people(session)
        await engine.dispose()
        seconds = await load_postgres(url, fill)
        started = time.perf_counter()
        await asyncio.to_thread(run_migrations, settings, "head")
        connection = await asyncpg.connect(url)
        await connection.execute("VACUUM ANALYZE")
        await connection.close()
        print(
            f"PostgreSQL: {count:,} messages loaded in {seconds:.0f} s, "
            f"counters backfilled in {time.perf_counter() - started:.0f} s"
        )
        await measure(settings, fill, runs)
        if explain_plans:
            await explain(settings.database_url, fill)
    finally:
        if keep:
            print(f"kept {name}: --database {name} measures it again; drop it when done")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def reuse(url: str) -> Fill:
    """The fill of a database an earlier `--keep` run loaded: its one conversation."""
    connection = await asyncpg.connect(url)
    try:
        conversation, last_seq = await connection.fetchrow("SELECT id, last_seq FROM conversations")
    finally:
        await connection.close()
    return Fill(last_seq, conversation)


async def sqlite(count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="parley-bench-analytics-") as folder:
        path = Path(folder) / "parley.db"
        settings = load_settings(
            {
                "DATABASE_URL": f"sqlite:///{path}",
                "JWT_SECRET": "x" * 40,
                "PARLEY_DATA_DIR": folder,
                **GC_POLICY,
            }
        )
        await asyncio.to_thread(run_migrations, settings, "0010")
        fill = Fill(count)
        engine = create_async_engine(settings.database_url)
        async with async_sessionmaker(engine)() as session:
            await fill.people(session)
        await engine.dispose()
        seconds = await asyncio.to_thread(load_sqlite, path, fill)
        started = time.perf_counter()
        await asyncio.to_thread(run_migrations, settings, "head")
        database = sqlite3.connect(path)
        database.execute("ANALYZE")
        database.close()
        print(
            f"SQLite: {count:,} messages loaded in {seconds:.0f} s, "
            f"counters backfilled in {time.perf_counter() - started:.0f} s"
        )
        await measure(settings, fill, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--explain", action="store_true", help="PostgreSQL: EXPLAIN ANALYZE each statement"
    )
    parser.add_argument(
        "--keep", action="store_true", help="PostgreSQL: keep the loaded database at the end"
    )
    parser.add_argument(
        "--database", help="PostgreSQL: measure a database an earlier --keep run loaded"
    )
    args = parser.parse_args()
    if args.backend in ("postgres", "both"):
        asyncio.run(
            postgres(
                args.messages,
                args.runs,
                explain_plans=args.explain,
                database=args.database,
                keep=args.keep,
            )
        )
    if args.backend in ("sqlite", "both"):
        asyncio.run(sqlite(args.messages, args.runs))


if __name__ == "__main__":
    main()
