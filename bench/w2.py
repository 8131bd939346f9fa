"""W2 (issue 11, point 7): many sockets in many conversations, messages sent open loop at a
fixed rate raised step by step; the highest rate that keeps ack p99 < 20 ms and delivery p99
< 30 ms.

Starts one `parley serve` (bench/send.py's `start_server`: a fresh PostgreSQL database and
Redis key prefix, or SQLite; rate limits lifted, WS_MAX_CONNECTIONS above `--sockets`). With two
or more cores, once the users and conversations exist, the server (every thread) is pinned to
the first core and this load generator to the others (`taskset --all-tasks` for the server,
`sched_setaffinity` for this process; the registrations' argon2 hashes meanwhile use every
core); PostgreSQL and Redis are the machine's shared services and are not pinned.

Workload (all drawn from `--seed`, so two runs build the same one):

- `--users` users (argon2 makes registering 10,000 slow), each holding `--sockets / --users`
  sockets (a user's devices or tabs). A socket is bench/connections.py's light client: Engine.IO
  v4 / Socket.IO v4 spoken over the `websockets` library on uvloop, auth `{token}`; one process
  holds 10,000 of them on one core, where python-socketio's client could not.
- `--conversations` GROUP conversations of 2 to 50 members (`--largest`); sizes follow a
  truncated power law, P(size = s) proportional to s ** -`--size-exponent` (1.8: about half have
  2 or 3 members, 1 in 30 has 30 or more; mean about 6.5), members drawn uniformly without
  replacement; the first member creates it with `rateLimit` 10,000. Every socket is in its
  user's conversation rooms (the server joins them on connect).
- Open loop: a scheduler sends `--rates` messages per second for `--step-seconds` each, the
  n-th send of a step due at start + n / rate whatever the acks do (late, it catches up at
  once). Each send picks a conversation uniformly, a member of it, and one of that member's
  open sockets, and emits `send_message` with an ack; latencies are taken from the time the
  send was due (so a load generator falling behind shows as latency, not as a lower rate).
- Per send: ack latency (`send_message` ack), confirm latency (first `message_confirmed` at any
  of the sender's sockets), and delivery latency at every open socket of every other member
  (`new_message`; the sender's own other sockets are not counted). Matched by
  `clientMessageId`, found in the frame as text (no JSON parse per delivery: the client's core
  is the limit at high rates).
- Reconnects: `--reconnect-share` of the sockets per step (1 %), at random times in the step,
  close, reconnect (handshake timed) and read a history page of one of their conversations
  (`GET /messages/conversation/{id}?limit=50`, timed). Deliveries a socket was still owed when
  it closed are excused, not lost; a socket takes sends and deliveries again once back.
- Before the steps, every member checks its membership of each of its conversations once
  (`join_conversation` over its first socket: it is in the room already), so the
  conversation and member cache layers start warm, as on a server that has been up (skip it
  with `--cold-caches`: first lookups then dominate the member layer). Entries live CACHE_TTL
  (300 s) from that moment and are not renewed by hits: with K member keys (about 13,000 here)
  touched evenly, each key misses once per CACHE_TTL + K / R seconds, so at R sends a second
  the member layer's hit rate tends to 1 - K / (K + CACHE_TTL * R) (70 % at 100/s); a run
  longer than CACHE_TTL shows it (`--server-env CACHE_TTL=1h` moves it out of the run).
- After each step's sends, a drain: until every ack, confirmation and expected delivery is in
  or `--drain-timeout`; what has not come by then is lost (late acks: `unacked`). A send
  refused in its ack, or failed after it (`message_failed`), owes no deliveries; one whose ack
  a reconnect cut (accepted or not, unknown) has its missing deliveries excused.
  A `--warmup` at the first rate comes first and is not reported.

Per step it prints: target and achieved send rate, ack / confirm / delivery / history p50 and
p99 (ms), lost deliveries, server CPU (% of one core, /proc/<pid>/stat over the sending window),
this load generator's CPU (over 80 %: the client may be what limits the step), the
scheduler's lag p99, server RSS (MiB, after the step), the reconnect handshake p99, and the
cache hit rate per layer over the step with its lookup count (`parley_cache_hits_total` /
`parley_cache_misses_total` from /metrics, summed over backends; goal > 99 %). Layers whose
miss is the normal answer (`sent`: a new clientMessageId is in no idempotency ledger;
`revoked-token`: a live token is not revoked) are shown in brackets and left out of the goal.
It stops raising the rate once a step's ack or delivery p99 passes `--give-up-ms`. At the end:
the highest step rate within the goals (ack p99 < `--ack-goal`, delivery p99 <
`--delivery-goal`, nothing lost, at least 95 % of the target rate sent), a PNG of p50/p99 ack
and delivery latency over the rate (matplotlib, `--plot`, default docs/w2.png; the latencies
are of accepted sends, and a step with refusals says what share was refused) and, with
`--json`, every figure. The server's log goes to `--server-log` (a temporary file by default),
summarised at the end. The client's garbage collector is off while a step runs
(collected and frozen between steps): its pauses would read as server latency.

    make bench-w2                                       # 10,000 sockets, 2,000 conversations
    nice -n 19 .venv/bin/python -m bench.w2 --sockets 300 --conversations 60 --users 100 \\
        --rates 20,40 --step-seconds 5 --plot /tmp/w2.png   # a small run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import resource
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.cache_metrics import cache_counters, cache_hit_rates
from bench.connections import Deliveries, _runner, cpu_seconds, open_socket, rss_kib, stderr_to
from bench.send import ROOT, start_server, stop_server
from bench.w1 import percentile

NEW_MESSAGE = '42["new_message",'
CONFIRMED = '42["message_confirmed",'
FAILED = '42["message_failed",'
ACK_GOAL_MS = 20.0
DELIVERY_GOAL_MS = 30.0
CACHE_GOAL = 0.99
# Layers whose miss is the normal answer: a new clientMessageId is in no idempotency ledger
# (`sent`), a live token is not revoked (`revoked-token`; `revoked` is listed in
# parley.core.metrics.CACHE_LAYERS, but no key has that prefix today).
NEGATIVE_LAYERS = ("sent", "revoked-token", "revoked")
DEFAULT_RATES = "25,50,100,150,200,300,400,600,800"


# --- the workload's shape (pure) ------------------------------------------------------------


def conversation_sizes(
    count: int, smallest: int, largest: int, exponent: float, rng: random.Random
) -> list[int]:
    """`count` sizes in [smallest, largest], P(s) proportional to s ** -exponent (skewed to
    small groups). The first is always `largest` and the second `smallest` (when count allows),
    so a small run still has both ends."""
    if not 2 <= smallest <= largest:
        raise ValueError("need 2 <= smallest <= largest")
    population = list(range(smallest, largest + 1))
    weights = [size**-exponent for size in population]
    sizes = rng.choices(population, weights, k=count)
    for index, size in enumerate((largest, smallest)[:count]):
        sizes[index] = size
    return sizes


def assign_members(sizes: Sequence[int], users: int, rng: random.Random) -> list[list[int]]:
    """Each conversation's members: distinct user indexes, drawn uniformly."""
    return [rng.sample(range(users), min(size, users)) for size in sizes]


def parse_rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(rate <= 0 for rate in rates):
        raise ValueError("rates are positive numbers, comma-separated")
    return rates


# --- per-step records and figures (pure) ----------------------------------------------------


@dataclass
class StepRecord:
    """What the client saw during one step; times in seconds (perf_counter)."""

    rate: float
    due: dict[str, float] = field(default_factory=dict)  # key -> when the send was due
    lags: list[float] = field(default_factory=list)  # send time - due time
    acks: dict[str, tuple[float, str]] = field(default_factory=dict)  # key -> (at, status)
    confirms: dict[str, float] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # keys with a message_failed
    deliveries: list[float] = field(default_factory=list)  # latencies, seconds
    expected: int = 0
    excused: int = 0  # owed to a socket that closed for its reconnect
    skipped: int = 0  # the chosen member had no open socket
    dropped: int = 0  # sockets the server (or the network) closed
    acks_cut: int = 0  # sends whose socket closed before their ack (reconnects)
    reconnects: list[float] = field(default_factory=list)  # handshake, seconds
    reconnect_errors: int = 0
    history: list[float] = field(default_factory=list)
    history_errors: int = 0
    send_seconds: float = 0.0  # wall time of the sending window


@dataclass
class StepFigures:
    rate: float
    achieved: float
    sent: int
    acked: int
    unacked: int
    ack_p50: float
    ack_p99: float
    confirm_p50: float
    confirm_p99: float
    confirmed: int
    delivery_p50: float
    delivery_p99: float
    delivered: int
    expected: int
    excused: int
    lost: int
    lag_p99: float
    reconnect_p50: float
    reconnect_p99: float
    reconnects: int
    history_p50: float
    history_p99: float
    history_reads: int
    send_errors: dict[str, int] = field(default_factory=dict)
    server_cpu_percent: float | None = None
    client_cpu_percent: float | None = None
    rss_mib: float | None = None
    cache_hit_rates: dict[str, float | None] = field(default_factory=dict)
    cache_lookups: dict[str, int] = field(default_factory=dict)


def _ms(values: Sequence[float], fraction: float) -> float:
    return percentile(values, fraction) * 1000


def summarize_step(record: StepRecord) -> StepFigures:
    """Latencies in ms from the due time of each send; lost = expected - delivered - excused."""
    acks = [at - record.due[key] for key, (at, status) in record.acks.items() if status == "ok"]
    errors = Counter(status for _, status in record.acks.values() if status != "ok")
    confirms = [at - record.due[key] for key, at in record.confirms.items() if key in record.due]
    sent = len(record.due)
    return StepFigures(
        rate=record.rate,
        achieved=sent / record.send_seconds if record.send_seconds > 0 else 0.0,
        sent=sent,
        acked=len(acks),
        unacked=sent - len(record.acks) - record.acks_cut,
        ack_p50=_ms(acks, 0.5),
        ack_p99=_ms(acks, 0.99),
        confirm_p50=_ms(confirms, 0.5),
        confirm_p99=_ms(confirms, 0.99),
        confirmed=len(confirms),
        delivery_p50=_ms(record.deliveries, 0.5),
        delivery_p99=_ms(record.deliveries, 0.99),
        delivered=len(record.deliveries),
        expected=record.expected,
        excused=record.excused,
        lost=record.expected - len(record.deliveries) - record.excused,
        lag_p99=_ms(record.lags, 0.99),
        reconnect_p50=_ms(record.reconnects, 0.5),
        reconnect_p99=_ms(record.reconnects, 0.99),
        reconnects=len(record.reconnects),
        history_p50=_ms(record.history, 0.5),
        history_p99=_ms(record.history, 0.99),
        history_reads=len(record.history),
        send_errors=dict(errors),
    )


def within_goals(
    step: StepFigures, ack_goal: float = ACK_GOAL_MS, delivery_goal: float = DELIVERY_GOAL_MS
) -> bool:
    """Ack and delivery p99 under their goals, nothing lost or refused, and the rate held."""
    return (
        step.acked > 0
        and step.ack_p99 < ack_goal
        and step.delivery_p99 < delivery_goal
        and step.lost == 0
        and step.unacked == 0
        and not step.send_errors
        and step.achieved >= 0.95 * step.rate
    )


def highest_rate(
    steps: Sequence[StepFigures],
    ack_goal: float = ACK_GOAL_MS,
    delivery_goal: float = DELIVERY_GOAL_MS,
) -> float | None:
    """The highest target rate of a step within the goals (None when none is)."""
    rates = [step.rate for step in steps if within_goals(step, ack_goal, delivery_goal)]
    return max(rates, default=None)


def cache_lookups(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, int]:
    """Lookups (hits + misses) per layer over an interval: how much a hit rate rests on."""
    return {
        layer: round(sum(after[layer]) - sum(before.get(layer, (0.0, 0.0))))
        for layer in sorted(after)
    }


def layers_under_goal(rates: dict[str, float | None], goal: float = CACHE_GOAL) -> list[str]:
    """The layers, negative lookups aside, whose hit rate over a step was under `goal`."""
    return [
        layer
        for layer, rate in rates.items()
        if rate is not None and layer not in NEGATIVE_LAYERS and rate < goal
    ]


# --- the client ------------------------------------------------------------------------------


CLIENT_MESSAGE_ID = '"clientMessageId":"'


def _key_in(frame: str, marker: str) -> str | None:
    """The clientMessageId that starts with this run's tag (`marker` is CLIENT_MESSAGE_ID and
    the tag), found as text."""
    start = frame.find(marker)
    if start < 0:
        return None
    start += len(CLIENT_MESSAGE_ID)
    end = frame.find('"', start)
    return frame[start:end] if end > 0 else None


class Conn:
    """One socket of a user: answers pings, records acks, confirmations and deliveries into
    the run's current step."""

    def __init__(self, run: Run, index: int, user: int, token: str) -> None:
        self.run = run
        self.index = index
        self.user = user
        self.token = token
        self.connection: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.up = False
        self.expecting: set[str] = set()  # keys this socket is owed a new_message for
        self.acks: dict[int, str] = {}  # ack id -> key
        self.calls: dict[int, asyncio.Future[str]] = {}  # ack id -> other events' answers
        self.next_ack = 0

    def attach(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.acks = {}
        self.calls = {}
        self.next_ack = 0
        self.up = True
        self.task = asyncio.create_task(self._read(connection))

    async def _read(self, connection: ClientConnection) -> None:
        run = self.run
        marker = run.marker
        with contextlib.suppress(ConnectionClosed):
            async for frame in connection:
                if not isinstance(frame, str):
                    continue
                if frame == "2":
                    await connection.send("3")
                    continue
                at = time.perf_counter()
                step = run.step
                if frame.startswith(NEW_MESSAGE):
                    key = _key_in(frame, marker)
                    if key is not None and key in self.expecting:
                        self.expecting.discard(key)
                        due = step.due.get(key)
                        if due is not None:
                            step.deliveries.append(at - due)
                elif frame.startswith("43"):
                    bracket = frame.find("[")
                    ack = int(frame[2:bracket])
                    call = self.calls.pop(ack, None)
                    if call is not None:
                        call.set_result(_ack_status(frame[bracket:]))
                        continue
                    key = self.acks.pop(ack, None)
                    if key is not None and key in step.due:
                        status = _ack_status(frame[bracket:])
                        step.acks[key] = (at, status)
                        if status != "ok":
                            run.refused(key)
                elif frame.startswith(CONFIRMED):
                    key = _key_in(frame, marker)
                    if key is not None and key in step.due and key not in step.confirms:
                        step.confirms[key] = at
                elif frame.startswith(FAILED):
                    key = _key_in(frame, marker)
                    if key is not None and key in step.due and key not in step.failed:
                        step.failed.add(key)
                        run.refused(key)  # accepted, then not stored: nobody gets it
        if self.connection is connection:  # not closed by this client: it stays closed
            run.step.dropped += 1
            self.down()

    def down(self) -> None:
        """Closed (a reconnect, or the server): what it was owed is excused, its acks cut."""
        if not self.up:
            return
        self.up = False
        step = self.run.step
        step.excused += len(self.expecting)
        for key in self.acks.values():
            if key in step.due:  # its outcome is unknown: accepted, or refused unseen
                step.acks_cut += 1
                self.run.uncertain.add(key)
        self.expecting.clear()
        self.acks.clear()

    def send(self, key: str, conversation_id: str) -> None:
        assert self.connection is not None
        ack = self.next_ack
        self.next_ack += 1
        self.acks[ack] = key
        frame = (
            f'42{ack}["send_message",{{"conversationId":"{conversation_id}",'
            f'"content":"W2 {key}","clientMessageId":"{key}"}}]'
        )
        self.run.spawn(self.connection.send(frame))

    async def call(self, event: str, payload: dict[str, Any]) -> str:
        """Emit `event` with an ack and wait for it: its status ("ok" or the error code)."""
        assert self.connection is not None
        ack = self.next_ack
        self.next_ack += 1
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.calls[ack] = answer
        await self.connection.send(f"42{ack}" + orjson.dumps([event, payload]).decode())
        return await answer

    async def close(self) -> None:
        self.down()
        connection, task = self.connection, self.task
        self.connection = None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
        if task is not None:
            with contextlib.suppress(Exception):
                await task


def _ack_status(body: str) -> str:
    try:
        answer = orjson.loads(body)[0]
    except (orjson.JSONDecodeError, IndexError, TypeError):
        return "BAD_ACK"
    if answer.get("ok"):
        return "ok"
    return str((answer.get("error") or {}).get("code", "NOT_OK"))


@dataclass
class Plan:
    tokens: list[str]  # per user
    conversation_ids: list[str]
    members: list[list[int]]  # per conversation, user indexes
    per_user: int
    sockets: int

    def user_sockets(self, user: int) -> range:
        return range(user * self.per_user, min((user + 1) * self.per_user, self.sockets))


class Run:
    """The sockets, the plan and the step being recorded."""

    def __init__(self, url: str, plan: Plan, rng: random.Random) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.plan = plan
        self.rng = rng
        self.tag = f"w2{secrets.token_hex(3)}"
        self.marker = CLIENT_MESSAGE_ID + self.tag
        self.step = StepRecord(rate=0.0)
        self.sequence = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.owed: dict[str, list[Conn]] = {}  # key -> the sockets owed its delivery
        self.uncertain: set[str] = set()  # keys whose ack was cut by a reconnect
        self.conns = [
            Conn(self, index, index // plan.per_user, plan.tokens[index // plan.per_user])
            for index in range(plan.sockets)
        ]
        self.user_conversations: list[list[int]] = [[] for _ in plan.tokens]
        for conversation, members in enumerate(plan.members):
            for user in members:
                self.user_conversations[user].append(conversation)

    def refused(self, key: str) -> None:
        """A send refused in its ack, or failed after it, is stored nowhere: nobody is owed its
        delivery."""
        for conn in self.owed.pop(key, ()):
            if key in conn.expecting:
                conn.expecting.discard(key)
                self.step.expected -= 1

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def open_all(self, concurrency: int) -> tuple[int, Counter[str]]:
        limit = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()

        async def one(conn: Conn) -> None:
            async with limit:
                try:
                    async with asyncio.timeout(90):
                        opened = await open_socket(self.ws_url, conn.token, Deliveries())
                except Exception as error:
                    failures[f"{type(error).__name__}: {error}"[:70]] += 1
                    return
                conn.attach(opened.connection)

        await asyncio.gather(*(one(conn) for conn in self.conns))
        return sum(conn.up for conn in self.conns), failures

    async def warm_caches(self, concurrency: int) -> Counter[str]:
        """Every member asks to join each of its conversations once over its first socket
        (a membership check, already in the room): the conversation and member cache keys
        are filled before the steps, as traffic would have filled them on a server long up."""
        limit = asyncio.Semaphore(concurrency)
        answers: Counter[str] = Counter()

        async def one(conn: Conn, conversation_id: str) -> None:
            async with limit:
                try:
                    async with asyncio.timeout(30):
                        status = await conn.call(
                            "join_conversation", {"conversationId": conversation_id}
                        )
                except (TimeoutError, ConnectionClosed):
                    status = "TIMEOUT"
                answers[status] += 1

        await asyncio.gather(
            *(
                one(self.conns[self.plan.user_sockets(user)[0]], self.plan.conversation_ids[number])
                for number, members in enumerate(self.plan.members)
                for user in members
                if self.conns[self.plan.user_sockets(user)[0]].up
            )
        )
        return answers

    def send_one(self, due: float) -> None:
        plan, rng, step = self.plan, self.rng, self.step
        conversation = rng.randrange(len(plan.members))
        members = plan.members[conversation]
        sender = rng.choice(members)
        open_now = [index for index in plan.user_sockets(sender) if self.conns[index].up]
        if not open_now:
            step.skipped += 1
            return
        key = f"{self.tag}-{self.sequence}"
        self.sequence += 1
        owed = []
        for user in members:
            if user == sender:
                continue
            for index in plan.user_sockets(user):
                conn = self.conns[index]
                if conn.up:
                    conn.expecting.add(key)
                    owed.append(conn)
        self.owed[key] = owed
        step.due[key] = due
        step.expected += len(owed)
        self.conns[rng.choice(open_now)].send(key, plan.conversation_ids[conversation])
        step.lags.append(time.perf_counter() - due)

    async def send_at(self, rate: float, seconds: float) -> None:
        """Open loop: the n-th send is due at start + n / rate; late ones go at once."""
        count = max(1, round(rate * seconds))
        start = time.perf_counter()
        for number in range(count):
            due = start + number / rate
            delay = due - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))  # yields even when late: readers keep up
            self.send_one(due)
        self.step.send_seconds = time.perf_counter() - start

    async def reconnect_some(self, count: int, seconds: float, client: httpx.AsyncClient) -> None:
        start = time.perf_counter()
        moments = sorted(self.rng.uniform(0, seconds * 0.9) for _ in range(count))
        cycles = []
        for moment in moments:
            await asyncio.sleep(max(0.0, start + moment - time.perf_counter()))
            conn = self.conns[self.rng.randrange(len(self.conns))]
            if conn.up:
                cycles.append(asyncio.create_task(self.reconnect(conn, client)))
        await asyncio.gather(*cycles)

    async def reconnect(self, conn: Conn, client: httpx.AsyncClient) -> None:
        step = self.step
        await conn.close()
        began = time.perf_counter()
        try:
            async with asyncio.timeout(30):
                opened = await open_socket(self.ws_url, conn.token, Deliveries())
        except Exception:
            step.reconnect_errors += 1
            return
        step.reconnects.append(time.perf_counter() - began)
        conn.attach(opened.connection)
        conversations = self.user_conversations[conn.user]
        if not conversations:
            return
        conversation_id = self.plan.conversation_ids[self.rng.choice(conversations)]
        began = time.perf_counter()
        try:
            response = await client.get(
                f"/messages/conversation/{conversation_id}",
                params={"limit": 50},
                headers={"Authorization": f"Bearer {conn.token}"},
            )
            response.raise_for_status()
        except httpx.HTTPError:
            step.history_errors += 1
            return
        step.history.append(time.perf_counter() - began)

    def outstanding(self) -> int:
        step = self.step
        waiting_acks = sum(len(conn.acks) for conn in self.conns)
        acked = sum(1 for _, status in step.acks.values() if status == "ok")
        owed = step.expected - len(step.deliveries) - step.excused
        owed -= self.uncertain_owed()
        return waiting_acks + max(0, acked - len(step.confirms) - len(step.failed)) + max(0, owed)

    def uncertain_owed(self) -> int:
        """Deliveries still owed for sends whose ack was cut by their socket's reconnect."""
        return sum(
            1 for key in self.uncertain for conn in self.owed.get(key, ()) if key in conn.expecting
        )

    async def drain(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            if not self.outstanding():
                return
            await asyncio.sleep(0.1)

    def end_step(self) -> StepRecord:
        """The finished step's record; sockets forget what they were owed."""
        record = self.step
        record.excused += self.uncertain_owed()  # never told whether they were accepted
        self.owed = {}
        self.uncertain = set()
        for conn in self.conns:
            conn.expecting.clear()
            conn.acks.clear()
        self.step = StepRecord(rate=0.0)
        return record


# --- setup -----------------------------------------------------------------------------------


async def make_plan(
    client: httpx.AsyncClient,
    users: int,
    sockets: int,
    sizes: Sequence[int],
    rng: random.Random,
    concurrency: int,
) -> Plan:
    """Registers the users, then makes the conversations (each by its first member)."""
    limit = asyncio.Semaphore(concurrency)
    run_id = secrets.token_hex(3)

    async def register(index: int) -> tuple[str, str]:
        async with limit:
            response = await client.post(
                "/auth/register",
                json={"username": f"w2u{index}_{run_id}", "password": "benchmark-pw"},
            )
            response.raise_for_status()
            body = response.json()
            return str(body["user"]["id"]), str(body["accessToken"])

    began = time.perf_counter()
    registered = await asyncio.gather(*(register(index) for index in range(users)))
    print(f"{users} users registered in {time.perf_counter() - began:.0f} s", flush=True)
    ids = [user_id for user_id, _ in registered]
    tokens = [token for _, token in registered]
    members = assign_members(sizes, users, rng)

    async def create(number: int, group: list[int]) -> str:
        async with limit:
            response = await client.post(
                "/conversations",
                headers={"Authorization": f"Bearer {tokens[group[0]]}"},
                json={
                    "type": "GROUP",
                    "name": f"w2-{number}",
                    "participantIds": [ids[user] for user in group[1:]],
                    "rateLimit": 10000,
                },
            )
            response.raise_for_status()
            return str(response.json()["id"])

    began = time.perf_counter()
    conversation_ids = await asyncio.gather(
        *(create(number, group) for number, group in enumerate(members))
    )
    print(f"{len(members)} conversations made in {time.perf_counter() - began:.0f} s", flush=True)
    per_user = math.ceil(sockets / users)
    return Plan(tokens, list(conversation_ids), members, per_user, sockets)


# --- the steps -------------------------------------------------------------------------------


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_step(
    run: Run,
    client: httpx.AsyncClient,
    pid: int,
    rate: float,
    args: argparse.Namespace,
    seconds: float,
) -> StepFigures:
    metrics_before = cache_counters((await client.get("/metrics")).text)
    gc.collect()
    gc.freeze()
    gc.disable()
    run.step = StepRecord(rate=rate)
    reconnects = round(args.reconnect_share * len(run.conns) * seconds / args.step_seconds)
    server_before, client_before, began = cpu_seconds(pid), _client_cpu(), time.perf_counter()
    await asyncio.gather(
        run.send_at(rate, seconds), run.reconnect_some(reconnects, seconds, client)
    )
    wall = time.perf_counter() - began
    server_cpu = (cpu_seconds(pid) - server_before) / wall * 100
    client_cpu = (_client_cpu() - client_before) / wall * 100
    await run.drain(args.drain_timeout)
    gc.enable()
    record = run.end_step()
    figures = summarize_step(record)
    figures.server_cpu_percent = server_cpu
    figures.client_cpu_percent = client_cpu
    figures.rss_mib = rss_kib(pid) / 1024
    metrics_after = cache_counters((await client.get("/metrics")).text)
    figures.cache_hit_rates = cache_hit_rates(metrics_before, metrics_after)
    figures.cache_lookups = cache_lookups(metrics_before, metrics_after)
    if (
        record.skipped
        or record.dropped
        or record.reconnect_errors
        or record.history_errors
        or record.failed
    ):
        print(
            f"  rate {rate:g}: {record.dropped} sockets closed by the server, "
            f"{record.skipped} sends skipped (no open socket), "
            f"{record.reconnect_errors} reconnects failed, {record.history_errors} history "
            f"reads failed, {len(record.failed)} message_failed",
            flush=True,
        )
    return figures


async def run_all(
    url: str, pid: int, args: argparse.Namespace
) -> tuple[list[StepFigures], str, str]:
    rng = random.Random(args.seed)
    per_user = math.ceil(args.sockets / args.users)
    users = math.ceil(args.sockets / per_user)  # every user holds at least one socket
    largest = min(args.largest, users)
    sizes = conversation_sizes(args.conversations, 2, largest, args.size_exponent, rng)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        began = time.perf_counter()
        plan = await make_plan(client, users, args.sockets, sizes, rng, args.setup_concurrency)
        setup_seconds = time.perf_counter() - began
        pinning = pin(pid, not args.no_pin)
        run = Run(url, plan, rng)
        began = time.perf_counter()
        opened, failures = await run.open_all(args.concurrency)
        description = (
            f"{len(plan.tokens)} users x {plan.per_user} sockets ({opened}/{args.sockets} open, "
            f"{time.perf_counter() - began:.0f} s), {len(sizes)} conversations of "
            f"{min(sizes)}-{max(sizes)} members (mean {sum(sizes) / len(sizes):.1f}, "
            f"exponent {args.size_exponent}), setup {setup_seconds:.0f} s"
        )
        print(description, flush=True)
        for failure, count in failures.most_common(3):
            print(f"  failed to open: {count} x {failure}")
        if not args.cold_caches:
            began = time.perf_counter()
            answers = await run.warm_caches(args.concurrency)
            print(
                f"caches warmed: {sum(answers.values())} membership checks "
                f"({dict(answers)}), {time.perf_counter() - began:.0f} s",
                flush=True,
            )
        steps: list[StepFigures] = []
        if args.warmup > 0:
            warm = await run_step(run, client, pid, args.rates[0], args, args.warmup)
            print(f"warm-up at {args.rates[0]:g}/s: {_line(warm)}", flush=True)
        for rate in args.rates:
            figures = await run_step(run, client, pid, rate, args, args.step_seconds)
            steps.append(figures)
            print(_line(figures), flush=True)
            if figures.ack_p99 > args.give_up_ms or not figures.delivery_p99 <= args.give_up_ms:
                print(f"  p99 over {args.give_up_ms:g} ms: not raising the rate further")
                break
        limit = asyncio.Semaphore(args.concurrency)

        async def close(conn: Conn) -> None:
            async with limit:
                await conn.close()

        await asyncio.gather(*(close(conn) for conn in run.conns))
        return steps, description, pinning


# --- report ----------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


HEADER = (
    f"{'rate':>6}{'sent/s':>8}{'ack50':>7}{'ack99':>7}{'cnf50':>7}{'cnf99':>7}{'dlv50':>7}"
    f"{'dlv99':>7}{'lost':>6}{'hist50':>7}{'hist99':>7}{'srv%':>6}{'cli%':>6}{'lag99':>7}"
    f"{'RSS':>6}{'rcn99':>7}  cache: layer hit %/lookups (negative lookups)"
)


def _line(step: StepFigures) -> str:
    rates, lookups = step.cache_hit_rates, step.cache_lookups

    def layer_text(layer: str, rate: float) -> str:
        return f"{layer} {rate * 100:.1f}/{lookups.get(layer, '?')}"

    cache = " ".join(
        layer_text(layer, rate)
        for layer, rate in rates.items()
        if rate is not None and layer not in NEGATIVE_LAYERS
    )
    negative = [
        layer_text(layer, rate)
        for layer in NEGATIVE_LAYERS
        if (rate := rates.get(layer)) is not None
    ]
    if negative:
        cache += " (" + " ".join(negative) + ")"
    errors = f"  errors {step.send_errors}" if step.send_errors else ""
    unacked = f"  unacked {step.unacked}" if step.unacked else ""
    return (
        f"{step.rate:>6g}{step.achieved:>8.1f}{_f(step.ack_p50):>7}{_f(step.ack_p99):>7}"
        f"{_f(step.confirm_p50):>7}{_f(step.confirm_p99):>7}{_f(step.delivery_p50):>7}"
        f"{_f(step.delivery_p99):>7}{step.lost:>6}{_f(step.history_p50):>7}"
        f"{_f(step.history_p99):>7}{_f(step.server_cpu_percent, 0):>6}"
        f"{_f(step.client_cpu_percent, 0):>6}{_f(step.lag_p99):>7}{_f(step.rss_mib, 0):>6}"
        f"{_f(step.reconnect_p99):>7}"
        f"  {cache}{errors}{unacked}"
    )


def plot(
    steps: Sequence[StepFigures],
    path: Path,
    best: float | None,
    title: str,
    goals: tuple[float, float],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rates = [step.rate for step in steps]
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    series = (
        ("ack p50", "ack_p50", "tab:blue", "--"),
        ("ack p99", "ack_p99", "tab:blue", "-"),
        ("delivery p50", "delivery_p50", "tab:orange", "--"),
        ("delivery p99", "delivery_p99", "tab:orange", "-"),
    )
    for label, name, colour, style in series:
        values = [getattr(step, name) for step in steps]
        axes.plot(rates, values, style, color=colour, marker="o", label=label)
    for step in steps:  # latencies are of accepted sends: say how many were refused
        refused = sum(step.send_errors.values())
        if refused and not math.isnan(step.ack_p99):
            axes.annotate(
                f"{refused / max(1, step.sent):.0%} refused",
                (step.rate, step.ack_p99),
                textcoords="offset points",
                xytext=(0, -14),
                ha="center",
                fontsize=7,
            )
    axes.axhline(goals[0], color="tab:blue", linestyle=":", linewidth=1, label="ack p99 goal")
    axes.axhline(
        goals[1], color="tab:orange", linestyle=":", linewidth=1, label="delivery p99 goal"
    )
    if best is not None:
        axes.axvline(best, color="grey", linestyle="-.", linewidth=1, label=f"highest {best:g}/s")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(rates, [f"{rate:g}" for rate in rates])
    axes.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes.set_xlabel("messages per second (open loop, target)")
    axes.set_ylabel("latency, ms")
    axes.set_title(title, fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def server_log_summary(path: Path) -> str:
    """Counts of the server's log lines by level, and its most frequent message."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                levels["not JSON"] += 1
                continue
            levels[str(entry.get("level", "?"))] += 1
            messages[str(entry.get("message"))[:80]] += 1
    if not levels:
        return "empty"
    top = ", most: " + " x ".join(map(str, messages.most_common(1)[0][::-1])) if messages else ""
    return ", ".join(f"{count} {level}" for level, count in levels.most_common()) + top


def pin(server_pid: int, enabled: bool) -> str:
    """The server (every thread) onto the first core, this process onto the others. Done after
    the setup, so the users' argon2 hashes use every core meanwhile."""
    cores = sorted(os.sched_getaffinity(0))
    if not enabled or shutil.which("taskset") is None or len(cores) < 2:
        return f"not pinned ({len(cores)} cpus)"
    try:
        subprocess.run(
            ["taskset", "--all-tasks", "--cpu-list", "--pid", str(cores[0]), str(server_pid)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        return f"not pinned: {error}"
    os.sched_setaffinity(0, cores[1:])
    return f"server on cpu {cores[0]}, client on {','.join(map(str, cores[1:]))} (after setup)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--users", type=int, default=2000, help="each holds sockets/users")
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--largest", type=int, default=50, help="members of the largest")
    parser.add_argument("--size-exponent", type=float, default=1.8)
    parser.add_argument("--rates", default=DEFAULT_RATES, help="messages/s per step, ascending")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds at the first rate")
    parser.add_argument(
        "--cold-caches",
        action="store_true",
        help="skip the membership check per member and conversation before the steps",
    )
    parser.add_argument("--drain-timeout", type=float, default=10.0)
    parser.add_argument("--reconnect-share", type=float, default=0.01, help="of sockets, a step")
    parser.add_argument("--give-up-ms", type=float, default=2000.0)
    parser.add_argument("--ack-goal", type=float, default=ACK_GOAL_MS, help="ack p99, ms")
    parser.add_argument("--delivery-goal", type=float, default=DELIVERY_GOAL_MS)
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes at a time")
    parser.add_argument("--setup-concurrency", type=int, default=8, help="registrations")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a server setting for this run (repeatable), e.g. CACHE_TTL=1h",
    )
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "w2.png")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--server-log", type=Path, help="the server's stderr (default: a temp file)"
    )
    args = parser.parse_args()
    try:
        args.rates = parse_rates(args.rates)
    except ValueError as error:
        parser.error(str(error))
    if args.users < 2 or args.sockets < args.users or args.conversations < 1:
        parser.error("need 2 <= users <= sockets and at least one conversation")
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.sockets + 200:
        raise SystemExit(f"ulimit -n is {soft}: the client needs a descriptor per socket")

    server_env = {"WS_MAX_CONNECTIONS": str(args.sockets + 1000)}
    for setting in args.server_env:
        key, equals, value = setting.partition("=")
        if not equals or not key:
            parser.error("--server-env takes KEY=VALUE")
        server_env[key] = value
    log_path = args.server_log or Path(tempfile.mkstemp(prefix="parley-w2-", suffix=".log")[1])
    with stderr_to(log_path):
        process, url, cleanup = start_server(args.backend, 1, extra_env=server_env)
    try:
        with _runner() as runner:
            steps, description, pinning = runner.run(run_all(url, process.pid, args))
    finally:
        stop_server(process, cleanup)

    goals = (args.ack_goal, args.delivery_goal)
    best = highest_rate(steps, *goals)
    print(f"\nserver log {log_path}: {server_log_summary(log_path)}")
    heading = (
        f"W2 open loop, backend={args.backend}, {description}; {args.step_seconds:g} s steps, "
        f"{args.reconnect_share:.1%} of sockets reconnect per step; {pinning}; "
        f"cpus={os.cpu_count()}; ms"
    )
    print("\n" + heading)
    print(HEADER)
    for step in steps:
        print(_line(step))
    verdict = f"{best:g} messages/s" if best is not None else "none of the steps (lower --rates)"
    print(
        f"highest rate with ack p99 < {goals[0]:g} ms and delivery p99 < {goals[1]:g} ms "
        f"(nothing lost, >= 95 % of the rate sent): {verdict}"
    )
    for step in steps:
        if under := layers_under_goal(step.cache_hit_rates):
            print(f"  at {step.rate:g}/s, cache layers under {CACHE_GOAL:.0%}: {', '.join(under)}")
    if steps:
        title = (
            f"Parley W2 ({args.backend}): {args.sockets} sockets, {args.conversations} "
            f"conversations, open loop, {args.step_seconds:g} s steps\n{pinning}, "
            f"cpus={os.cpu_count()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        plot(steps, args.plot, best, title, goals)
        print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "workload": {
                        key: value
                        for key, value in vars(args).items()
                        if key not in {"plot", "json"}
                    },
                    "description": description,
                    "pinning": pinning,
                    "steps": [_json_safe(asdict(step)) for step in steps],
                    "highest_rate": best,
                    "goals_ms": {"ack_p99": goals[0], "delivery_p99": goals[1]},
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
