"""Where PostgreSQL writes and Redis pub/sub saturate (docs/scaling.md's table).

PostgreSQL: Parley writes messages through one committer per process (group commit: a batch
of accepted sends in one transaction, `parley/messages/committer.py`). This part runs the real
committer in process (the app's lifespan on a throwaway database `parley_bench_sat_<pid>`,
PostgreSQL and Redis as in production, content encrypted at rest, the search vector, counters
and read pointers written as for a send), feeds it waves of B messages spread over
conversations, and waits for each wave to commit: each wave is one batch of B. It prints, per
B, messages/s, the batch's commit time, the CPU time PostgreSQL's processes spent per message
(all of them, from /proc: backends, WAL writer, checkpointer), the committer process's own CPU
per message, and WAL bytes per message. The HTTP/Socket.IO side (about 2 ms of CPU per send,
docs/benchmarks.md) is not included: that is the point, this is the database alone.
`--committers N` runs N such processes at once (N instances sharing the database).

Redis pub/sub: every Socket.IO emit is one PUBLISH on `{prefix}socketio`, received by every
instance. This part starts S `redis-cli subscribe` clients (the instances), drives PUBLISH
with `redis-benchmark` (pinned to `--client-cpu`) with a payload the size of a new_message
publication, and prints publishes/s, deliveries/s and Redis's CPU per publish (INFO cpu).

    .venv/bin/python -m bench.saturation                      # both parts
    .venv/bin/python -m bench.saturation --part postgres --committers 2
    .venv/bin/python -m bench.saturation --part redis --subscribers 1,4,16,64

Prints tables; nothing is asserted. Run on a quiet machine (nothing else on PostgreSQL/Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from redis import Redis
from sqlalchemy import insert

from parley.accounts.models import User
from parley.cli import run_migrations
from parley.conversations.models import Conversation, Participant
from parley.core import runtime
from parley.core.config import load_settings
from parley.core.crypto import new_key_spec
from parley.main import create_api
from parley.messages.actions.send import new_row
from parley.messages.committer import Committer, PendingSend
from parley.messages.schemas import MessageType

POSTGRES = os.environ.get("PARLEY_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432")
REDIS = os.environ.get("PARLEY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
KEYS = new_key_spec("bench")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A typical message: the committer's cost grows with the row (ciphertext, vector).
TEXT = "Can we move the design review to Thursday afternoon? The deploy checklist is ready."


# ---------------------------------------------------------------- CPU from /proc


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process so far (exited backends are lost: the bench
    keeps its connections open)."""
    return sum(_cpu_seconds(pid) for pid in _pids_named("postgres"))


# ---------------------------------------------------------------- PostgreSQL writes


class _NoSockets:
    async def emit(self, event: str, payload: dict[str, Any], **_: Any) -> None:
        return None


async def _wal_lsn(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


WARM_UP_WAVES = 3


async def _wave(
    committer: Committer,
    senders: list[uuid.UUID],
    conversations: list[uuid.UUID],
    size: int,
    wave: int,
) -> float:
    """Submit `size` sends at once (the committer takes them as one batch) and wait for their
    commit; the seconds it took."""
    pending = [
        PendingSend(
            row=new_row(
                sender_id=senders[(wave + n) % len(senders)],
                conversation_id=conversations[(wave * size + n) % len(conversations)],
                message_type=MessageType.TEXT,
                content=f"{TEXT} #{wave}.{n}",
                encrypted=False,
                client_message_id=secrets.token_hex(8),
            ),
            mention_usernames=[],
            hashtags=[],
        )
        for n in range(size)
    ]
    started = time.perf_counter()
    for item in pending:
        committer.submit(item)
    await asyncio.gather(*(item.done.wait() for item in pending))
    seconds = time.perf_counter() - started
    failed = [item for item in pending if item.result is None]
    if failed:
        reasons = {repr(item.failure) for item in failed}
        raise RuntimeError(f"{len(failed)} of a wave were not stored: {reasons}")
    return seconds


async def committer_worker(
    url: str, batch_sizes: list[int], waves: int, messages_per_size: int
) -> None:
    """One process's committer, fed waves of B messages: prints a line per B (parsed by the
    parent)."""
    data_dir = tempfile.mkdtemp(prefix="parley-bench-sat-")
    settings = load_settings(
        {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS,
            "REDIS_KEY_PREFIX": f"parley-bench-sat-{os.getpid()}:",
            "JWT_SECRET": "x" * 40,
            "ENCRYPTION_KEYS": KEYS,
            "PARLEY_DATA_DIR": data_dir,
            "LOG_LEVEL": "WARNING",
            "LINK_PREVIEWS": "false",
        }
    )
    app = create_api(settings, _NoSockets())
    try:
        await _run_waves(app, url, batch_sizes, waves, messages_per_size)
    finally:
        _drop_prefix(settings.redis_key_prefix)
        shutil.rmtree(data_dir, ignore_errors=True)


def _drop_prefix(prefix: str) -> None:
    """The run's Redis keys (the idempotency ledger keeps a week otherwise)."""
    client = Redis.from_url(REDIS)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


async def _run_waves(
    app: Any, url: str, batch_sizes: list[int], waves: int, messages_per_size: int
) -> None:
    async with app.router.lifespan_context(app):
        state = runtime.current()
        committer = state.component(Committer)
        senders = [uuid.uuid4() for _ in range(20)]
        conversations = [uuid.uuid4() for _ in range(50)]
        async with state.db.sessions() as session, session.begin():
            await session.execute(
                insert(User),
                [
                    {
                        "id": user_id,
                        "username": f"s{os.getpid()}x{number}",
                        "username_lower": f"s{os.getpid()}x{number}",
                        "display_name": "Sender",
                        "display_name_lower": "sender",
                        "password_hash": "x",
                    }
                    for number, user_id in enumerate(senders)
                ],
            )
            await session.execute(
                insert(Conversation),
                [{"id": c, "type": "GROUP", "name": "bench"} for c in conversations],
            )
            await session.execute(
                insert(Participant),
                [{"conversation_id": c, "user_id": u} for c in conversations for u in senders],
            )
        probe = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            for size in batch_sizes:
                for wave in range(WARM_UP_WAVES):  # statements compiled, pools filled
                    await _wave(committer, senders, conversations, size, wave)
                times: list[float] = []
                wal_before, pg_before = await _wal_lsn(probe), postgres_cpu()
                own_before, started = time.process_time(), time.perf_counter()
                # Enough messages per size for /proc's 10 ms CPU ticks to resolve per message.
                for wave in range(max(waves, messages_per_size // size)):
                    times.append(await _wave(committer, senders, conversations, size, wave))
                elapsed = time.perf_counter() - started
                messages = size * len(times)
                print(
                    "RESULT",
                    size,
                    messages,
                    f"{elapsed:.6f}",
                    f"{statistics.median(times) * 1000:.3f}",
                    f"{time.process_time() - own_before:.6f}",
                    f"{postgres_cpu() - pg_before:.6f}",
                    await _wal_lsn(probe) - wal_before,
                    flush=True,
                )
        finally:
            await probe.close()


async def _admin(statement: str) -> None:
    """One statement on the maintenance database (CREATE or DROP of the run's database)."""
    admin = await asyncpg.connect(POSTGRES + "/postgres")
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def postgres_part(
    batch_sizes: list[int], waves: int, messages_per_size: int, committers: list[int]
) -> None:
    name = f"parley_bench_sat_{os.getpid()}"
    url = f"{POSTGRES}/{name}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        run_migrations(
            load_settings({"DATABASE_URL": url, "JWT_SECRET": "x" * 40, "ENCRYPTION_KEYS": KEYS})
        )
        print(f"PostgreSQL: {asyncio.run(describe_postgres(url))}")
        for count in committers:
            processes = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.saturation",
                        "--worker",
                        str(index),
                        "--url",
                        url,
                        "--batch-sizes",
                        ",".join(map(str, batch_sizes)),
                        "--waves",
                        str(waves),
                        "--messages-per-size",
                        str(messages_per_size),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=Path(__file__).resolve().parent.parent,
                )
                for index in range(count)
            ]
            rows: dict[int, list[list[str]]] = {}
            for process in processes:
                out, _ = process.communicate()
                if process.returncode != 0:
                    raise SystemExit(f"a committer process failed ({process.returncode})")
                for line in out.splitlines():
                    if line.startswith("RESULT "):
                        fields = line.split()[1:]
                        rows.setdefault(int(fields[0]), []).append(fields)
            print(
                f"\n{count} committer process(es) at once, waves of B messages (one batch per "
                f"wave; at least {waves} waves and {messages_per_size:,} messages per B and "
                "process), PostgreSQL and Redis shared:"
            )
            print(
                "| B | msgs/s (all) | batch commit p50 | PostgreSQL CPU / msg | "
                "committer CPU / msg | WAL / msg |"
            )
            print("|---|---|---|---|---|---|")
            for size, results in sorted(rows.items()):
                messages = sum(int(r[1]) for r in results)
                # Processes overlap; the slowest one's wall time bounds the shared rate.
                wall = max(float(r[2]) for r in results)
                commit = statistics.median(float(r[3]) for r in results)
                own = sum(float(r[4]) for r in results) / messages
                # Each process saw every PostgreSQL process: count the CPU once.
                pg = max(float(r[5]) for r in results) / messages
                wal = sum(int(r[6]) for r in results) / messages / len(results)
                print(
                    f"| {size} | {messages / wall:,.0f} | {commit:.1f} ms | {pg * 1000:.3f} ms "
                    f"| {own * 1000:.3f} ms | {wal:,.0f} B |"
                )
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def describe_postgres(url: str) -> str:
    """The settings that decide the cost of a commit, read from the server."""
    connection = await asyncpg.connect(url)
    try:
        names = ("server_version", "synchronous_commit", "fsync", "wal_level")
        values = [await connection.fetchval(f"SHOW {name}") for name in names]
    finally:
        await connection.close()
    return ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))


# ---------------------------------------------------------------- Redis pub/sub


def _redis_cpu(client: Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def redis_part(subscribers: list[int], publishes: int, payload_bytes: int, client_cpu: str) -> None:
    benchmark = shutil.which("redis-benchmark")
    cli = shutil.which("redis-cli")
    if benchmark is None or cli is None:
        raise SystemExit("redis-benchmark and redis-cli are needed (Debian: redis-tools)")
    client = Redis.from_url(REDIS)
    host = client.connection_pool.connection_kwargs.get("host", "127.0.0.1")
    port = str(client.connection_pool.connection_kwargs.get("port", 6379))
    channel = f"parley-bench-sat-{os.getpid()}:socketio"
    payload = "x" * payload_bytes
    print(
        f"\nRedis {client.info('server')['redis_version']}: PUBLISH of {payload_bytes} B to S "
        f"subscribers (redis-cli), {publishes:,} publishes by redis-benchmark (-c 4 -P 16, "
        f"cores {client_cpu}):"
    )
    print("| S | publishes/s | deliveries/s | Redis CPU / publish | Redis CPU busy |")
    print("|---|---|---|---|---|")
    for count in subscribers:
        readers = [
            subprocess.Popen(
                [cli, "-h", host, "-p", port, "subscribe", channel],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        try:
            deadline = time.monotonic() + 10
            while client.pubsub_numsub(channel)[0][1] < count:
                if time.monotonic() > deadline:
                    raise SystemExit("the subscribers did not subscribe")
                time.sleep(0.05)
            cpu_before, started = _redis_cpu(client), time.perf_counter()
            result = subprocess.run(
                [
                    "taskset",
                    "-c",
                    client_cpu,
                    benchmark,
                    *("-h", host, "-p", port, "-n", str(publishes), "-c", "4", "-P", "16"),
                    "-q",
                    "publish",
                    channel,
                    payload,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            elapsed = time.perf_counter() - started
            cpu = _redis_cpu(client) - cpu_before
            # A subscriber that fell behind past Redis's pubsub output buffer limit is cut
            # off: its deliveries would not have happened.
            kept = client.pubsub_numsub(channel)[0][1]
            if kept < count:
                print(f"| {count} | {count - kept} subscribers were cut off (too slow) |")
                continue
            match = re.search(r"([\d.]+) requests per second", result.stdout)
            rate = float(match.group(1)) if match else publishes / elapsed
            print(
                f"| {count} | {rate:,.0f} | {rate * count:,.0f} | "
                f"{cpu / publishes * 1e6:.1f} us | {cpu / elapsed * 100:.0f} % |"
            )
        finally:
            for reader in readers:
                reader.terminate()
            for reader in readers:
                reader.wait()
    client.close()


# ---------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=["postgres", "redis", "both"], default="both")
    parser.add_argument("--batch-sizes", default="1,10,50,200,512")
    parser.add_argument("--waves", type=int, default=20, help="at least, per batch size")
    parser.add_argument("--messages-per-size", type=int, default=4000)
    parser.add_argument("--committers", default="1,2", help="processes at once, per run")
    parser.add_argument("--subscribers", default="1,4,16,64")
    parser.add_argument("--publishes", type=int, default=300_000)
    parser.add_argument("--payload-bytes", type=int, default=700)
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        url = args.url.replace("postgresql://", "postgresql+asyncpg://", 1)
        asyncio.run(
            committer_worker(url, _ints(args.batch_sizes), args.waves, args.messages_per_size)
        )
        return
    if args.part in ("postgres", "both"):
        postgres_part(
            _ints(args.batch_sizes), args.waves, args.messages_per_size, _ints(args.committers)
        )
    if args.part in ("redis", "both"):
        redis_part(_ints(args.subscribers), args.publishes, args.payload_bytes, args.client_cpu)


if __name__ == "__main__":
    main()
