"""Chaos run: two instances behind nginx on a private PostgreSQL and a private Redis, SDK clients
sending and receiving while a controller breaks things; then what was lost, duplicated, stuck.

Starts a PostgreSQL cluster and a Redis of its own (bench/services.py: the machine's shared ones
are never touched), two `parley serve` on them behind Debian's nginx with
deploy/nginx/parley.conf, and `--clients` SDK clients (parley.client) in `--conversations` group
conversations. Every client sends `--rate` messages per second through its outbox (each with a
clientMessageId and a unique content) and records every `new_message` its application is handed.
Meanwhile the controller SIGKILLs an instance every 20 s (the two in turn) and starts it again
3 s later, restarts PostgreSQL once and Redis once (kill, start: its data is gone), and blips
Redis twice (`CLIENT PAUSE 2000 ALL`). After `--seconds` the clients stop sending; the run waits
(at most `--drain` seconds) for every outbox to drain and every receiver to catch up, then
reads the messages back from the database and prints one table; nothing is asserted
(tests/faults/test_chaos_short.py asserts the goals on a short run).

    .venv/bin/python -m bench.chaos                     # 120 s, 12 clients, 3 conversations
    .venv/bin/python -m bench.chaos --seconds 60 --clients 6 --rate 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import random
import secrets
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.services import Instance, Nginx, PrivatePostgreSQL, PrivateRedis
from parley.client import OutboxEntry, ParleyClient
from parley.core.crypto import KeyRing, install_key_ring, parse_keys
from parley.core.encrypted import decrypt_stored

PASSWORD = "chaos-run-password"
KILL = "kill instance"
POSTGRES = "restart PostgreSQL"
REDIS = "restart Redis"
PAUSE = "pause Redis 2 s"


class Cluster:
    """Private PostgreSQL + Redis, two instances, nginx in front. Use as a context manager."""

    def __init__(self) -> None:
        self.postgres = PrivatePostgreSQL()
        self.redis = PrivateRedis()
        self.logs = tempfile.mkdtemp(prefix="parley-chaos-")
        self.instances: list[Instance] = []
        self.nginx: Nginx | None = None
        self.keys = f"bench:{base64.b64encode(secrets.token_bytes(32)).decode()}"
        # The report reads the stored rows: their content is encrypted under these keys.
        install_key_ring(KeyRing.from_pairs(parse_keys(self.keys)))

    def __enter__(self) -> Cluster:
        try:
            self.postgres.init()
            self.postgres.ctl("start")
            self.redis.start()
            env = {
                "PARLEY_DATA_DIR": self.logs,
                "LOG_LEVEL": "WARNING",
                "DATABASE_URL": self.postgres.url,
                "REDIS_URL": self.redis.url,
                "JWT_SECRET": secrets.token_urlsafe(48),
                "ENCRYPTION_KEYS": self.keys,
                "RATE_LIMIT_MESSAGES_PER_HOUR": "1000000000",
                "AUTH_RATE_LIMIT_PER_ADDRESS": "1000000000",
                "AUTH_RATE_LIMIT_PER_ACCOUNT": "1000000000",
                "WS_MAX_CONNECTIONS_PER_USER": "1000000",
            }
            env = {
                **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
                **env,
            }
            self.instances = [Instance(env, self.logs, "first"), Instance(env, self.logs, "second")]
            for instance in self.instances:  # one at a time: the first migrates the database
                instance.start()
            self.nginx = Nginx(self.instances[0].url, self.instances[1].url)
            self.nginx.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self.nginx is not None:
            self.nginx.cleanup()
        for instance in self.instances:
            instance.stop()
        self.redis.cleanup()
        self.postgres.cleanup()

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def inflict(self, kind: str, round_: int) -> None:
        """One fault, from its start until the service is back (blocking: run in a thread)."""
        if kind == KILL:
            instance = self.instances[round_ % 2]
            instance.kill()
            time.sleep(3)
            instance.start()
        elif kind == POSTGRES:
            self.postgres.ctl("restart")
        elif kind == REDIS:
            self.redis.kill()
            self.redis.start()
        elif kind == PAUSE:
            self.redis.pause(2000)
            time.sleep(2)
        else:
            raise ValueError(kind)


def default_faults(seconds: float) -> list[tuple[float, str]]:
    """An instance killed every 20 s; PostgreSQL and Redis restarted once; Redis paused twice."""
    faults = [(at, KILL) for at in range(20, int(seconds) - 14, 20)]
    faults += [
        (0.3 * seconds, POSTGRES),
        (0.45 * seconds, PAUSE),
        (0.6 * seconds, REDIS),
        (0.8 * seconds, PAUSE),
    ]
    return sorted(faults)


def short_faults() -> list[tuple[float, str]]:
    """One fault of each kind (tests/faults/test_chaos_short.py): the last is over by ~27 s."""
    return [(4.0, KILL), (11.0, POSTGRES), (17.0, REDIS), (23.0, PAUSE)]


@dataclass
class Sent:
    conversation: str
    member: int
    created: float
    entry: OutboxEntry | None = None
    confirmed: float | None = None


@dataclass
class Report:
    sent: int = 0
    stored: int = 0
    duplicated: int = 0
    lost: int = 0
    failed: int = 0  # permanent: send_failed
    transient_failures: int = 0  # message_failed / ack errors the SDK healed by resending
    pending_at_end: int = 0
    drain_max: float = 0.0
    drain_median: float = 0.0
    drain_from_start_max: float = 0.0  # the same, counted from the last fault's start
    pending_max: float = 0.0  # the longest any message was PENDING (send to confirmation)
    behind_max: float = 0.0  # last receiver's time minus the server timestamp
    behind_after_first: float = 0.0  # last receiver's time minus the first receiver's
    receivers_behind: int = 0  # (receiver, message) pairs never handed over
    out_of_order: int = 0  # a receiver handed a seq not above its previous one
    faults: list[tuple[float, str, float]] = field(default_factory=list)  # start, kind, length

    def lines(self) -> list[str]:
        rows = [
            ("sent (accepted by the SDK)", f"{self.sent}"),
            ("stored", f"{self.stored}"),
            ("duplicated", f"{self.duplicated}"),
            ("lost", f"{self.lost}"),
            ("failed for good (send_failed)", f"{self.failed}"),
            ("still pending at the end", f"{self.pending_at_end}"),
            ("transient send failures healed by a resend", f"{self.transient_failures}"),
            ("outbox drained after the last fault, max", f"{self.drain_max:.2f} s"),
            ("outbox drained after the last fault, median", f"{self.drain_median:.2f} s"),
            ("the same from the last fault's start, max", f"{self.drain_from_start_max:.2f} s"),
            ("longest PENDING of any message (send to confirmed)", f"{self.pending_max:.2f} s"),
            ("receiver behind the server timestamp, max", f"{self.behind_max:.2f} s"),
            ("last receiver after the first, max", f"{self.behind_after_first:.2f} s"),
            ("messages a receiver never got", f"{self.receivers_behind}"),
            ("handed over out of order", f"{self.out_of_order}"),
        ]
        width = max(len(name) for name, _ in rows)
        out = [f"{name:<{width}}  {value}" for name, value in rows]
        out.append("faults (start s, kind, until back s):")
        out += [f"  {start:6.1f}  {kind:<20} {length:5.1f}" for start, kind, length in self.faults]
        return out


class Member:
    """One SDK client, in one conversation, recording what its application is handed."""

    def __init__(self, index: int, url: str, progress: asyncio.Event) -> None:
        self.index = index
        self.progress = progress
        self.client = ParleyClient([url])
        self.conversation = ""
        self.received: dict[int, float] = {}  # seq -> wall time handed over
        self.last_seq = 0
        self.out_of_order = 0
        self.transient = 0
        self.failed = 0

    def on_message(self, data: dict[str, Any]) -> None:
        message = data["message"]
        if message["conversationId"] != self.conversation:
            return
        seq = message["seq"]
        if seq <= self.last_seq:
            self.out_of_order += 1
        self.last_seq = max(self.last_seq, seq)
        self.received.setdefault(seq, time.time())
        self.progress.set()

    def on_failed(self, data: dict[str, Any]) -> None:
        self.transient += 1

    def on_send_failed(self, entry: OutboxEntry) -> None:
        self.failed += 1


async def run(
    cluster: Cluster,
    *,
    seconds: float,
    clients: int,
    conversations: int,
    rate: float,
    faults: list[tuple[float, str]],
    drain: float = 60.0,
) -> Report:
    progress = asyncio.Event()
    members = [Member(index, cluster.url, progress) for index in range(clients)]
    for member in members:
        await member.client.register(f"chaos{member.index}_{secrets.token_hex(3)}", PASSWORD)
    rooms: list[str] = []
    for number in range(conversations):
        group = members[number::conversations]
        owner = group[0].client
        assert owner.user is not None
        created = await owner.create_conversation(
            "GROUP",
            [m.client.user["id"] for m in group[1:] if m.client.user is not None],
            name=f"chaos {number}",
            rateLimit=10000,
        )
        rooms.append(created["id"])
        for m in group:
            m.conversation = created["id"]
    for member in members:
        member.client.on("new_message", member.on_message)
        member.client.on("message_failed", member.on_failed)
        member.client.on("send_failed", member.on_send_failed)
        await member.client.connect()
        await member.client.join(member.conversation, after_seq=0)

    sent: dict[str, Sent] = {}  # content -> what became of it
    tasks: set[asyncio.Task[None]] = set()
    began = time.time()
    stop_at = began + seconds

    async def one_send(member: Member, content: str) -> None:
        record = sent[content]
        record.entry = await member.client.send(member.conversation, content)
        await record.entry.confirmed.wait()
        record.confirmed = time.time()

    async def sender(member: Member) -> None:
        await asyncio.sleep(random.uniform(0, 1 / rate))
        number = 0
        while time.time() < stop_at:
            number += 1
            content = f"chaos {member.index}:{number} {secrets.token_hex(4)}"
            sent[content] = Sent(member.conversation, member.index, time.time())
            task = asyncio.create_task(one_send(member, content))
            tasks.add(task)
            await asyncio.sleep(1 / rate)

    report = Report()

    async def controller() -> None:
        for round_, (at, kind) in enumerate(faults):
            await asyncio.sleep(max(0.0, began + at - time.time()))
            start = time.time()
            await asyncio.to_thread(cluster.inflict, kind, round_)
            report.faults.append((start - began, kind, time.time() - began))

    await asyncio.gather(controller(), *(sender(member) for member in members))
    last_fault = began + max((end for _, _, end in report.faults), default=0.0)
    last_start = began + max((start for start, _, _ in report.faults), default=0.0)

    # Outboxes drain (bounded); then every receiver catches up with what was stored.
    deadline = time.time() + drain
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks), max(0.1, deadline - time.time()))
    stored = await _stored(cluster.postgres.url, rooms)
    by_conversation: dict[str, list[dict[str, Any]]] = {room: [] for room in rooms}
    for row in stored:
        by_conversation[str(row["conversation_id"])].append(row)

    def behind() -> int:
        missing = 0
        for m in members:
            for row in by_conversation[m.conversation]:
                if row["sender"] != m.index and row["seq"] not in m.received:
                    missing += 1
        return missing

    senders = {m.client.user["id"]: m.index for m in members if m.client.user is not None}
    for row in stored:
        row["sender"] = senders.get(str(row["sender_id"]), -1)
    while behind() and time.time() < deadline:
        progress.clear()  # set by the next message any receiver is handed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(progress.wait(), max(0.01, deadline - time.time()))

    for member in members:
        await member.client.close()
    for task in tasks:
        task.cancel()

    report.sent = len(sent)
    report.stored = len(stored)
    contents = Counter(row["content"] for row in stored)
    ids = Counter(row["client_message_id"] for row in stored)
    report.duplicated = sum(n - 1 for n in contents.values() if n > 1) + sum(
        n - 1 for n in ids.values() if n > 1
    )
    report.lost = sum(1 for content in sent if content not in contents)
    report.pending_at_end = sum(1 for record in sent.values() if record.confirmed is None)
    report.failed = sum(m.failed for m in members)
    report.transient_failures = sum(m.transient for m in members)
    report.out_of_order = sum(m.out_of_order for m in members)
    report.receivers_behind = behind()

    drains = []
    for member in members:
        mine = [r for r in sent.values() if r.member == member.index and r.created <= last_fault]
        times = [(r.confirmed or float("inf")) - last_fault for r in mine]
        drains.append(max([0.0, *times]))
    report.drain_max = max(drains, default=0.0)
    report.drain_median = statistics.median(drains) if drains else 0.0
    for record in sent.values():
        report.pending_max = max(
            report.pending_max, (record.confirmed or float("inf")) - record.created
        )
        if record.created <= last_start:
            report.drain_from_start_max = max(
                report.drain_from_start_max, (record.confirmed or float("inf")) - last_start
            )

    for row in stored:
        times = [
            m.received[row["seq"]]
            for m in members
            if m.conversation == str(row["conversation_id"])
            and m.index != row["sender"]
            and row["seq"] in m.received
        ]
        if not times:
            continue
        stamp = row["server_timestamp"]
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        report.behind_max = max(report.behind_max, max(times) - stamp.timestamp())
        report.behind_after_first = max(report.behind_after_first, max(times) - min(times))
    return report


async def _stored(url: str, rooms: list[str]) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT conversation_id, sender_id, seq, client_message_id, content,"
            " server_timestamp FROM messages WHERE conversation_id = ANY($1::uuid[])"
            " ORDER BY conversation_id, seq",
            rooms,
        )
    finally:
        await connection.close()
    # Content is stored encrypted (core/encrypted.py): compare the plaintext.
    return [{**row, "content": decrypt_stored(row["content"])} for row in map(dict, rows)]


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%H:%M:%S")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second per client")
    parser.add_argument("--drain", type=float, default=60.0, help="bound on the final wait")
    parser.add_argument("--short", action="store_true", help="one fault of each kind (30 s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    faults = short_faults() if args.short else default_faults(args.seconds)
    with Cluster() as cluster:
        print(
            f"chaos run {_when(time.time())}: {args.clients} clients in {args.conversations}"
            f" conversations, {args.rate}/s each, {args.seconds:.0f} s, via {cluster.url}"
        )
        report = asyncio.run(
            run(
                cluster,
                seconds=args.seconds,
                clients=args.clients,
                conversations=args.conversations,
                rate=args.rate,
                faults=faults,
                drain=args.drain,
            )
        )
        print("\n".join(report.lines()))
        print(f"server logs: {cluster.logs}")


if __name__ == "__main__":
    main()
