"""Socket.IO connection benchmark: how many concurrent sockets one `parley serve` holds, what
they cost it in memory and idle CPU, and how fan-out latency changes with them all open.

Starts its own `parley serve` (one worker; PostgreSQL + Redis, or SQLite) with
WS_MAX_CONNECTIONS above the target, registers `--users` users (argon2 makes registering
10,000 slow, so each user opens `--connections / --users` sockets; every socket joins its
user's room and its user's conversation rooms, as a browser tab would), and opens the sockets
at most `--concurrency` handshakes at a time. The client speaks Engine.IO v4 / Socket.IO v4
itself over the `websockets` library (open packet, CONNECT with `{"token"}`, pong to every
ping): python-socketio's client costs too much per socket to hold 10,000 in one process on
the same two cores as the server.

With `--reference` sockets open it times a REST send into a group whose members hold all of
them (send start to `new_message` on every socket); with `--group-sockets` open, the same
into a group holding that many; with all open, both again, so the ratios show what the idle
sockets cost. Server RSS and open descriptors come from /proc/<pid>, idle CPU from
/proc/<pid>/stat over `--idle` seconds (default one heartbeat interval). Then it closes every
socket, and in a second round (`--rounds 2`, the default) opens them all again and cuts them
all at once, as a network failure would: after each, the server's RSS shows whether memory
grows, and `GET /users/me` per user whether presence went OFFLINE.

Then `--storms` reconnect storms (default 3): with every socket open, all are cut at once and
reconnected as fast as the server lets, `--storm-concurrency` handshakes at a time; each
prints the time until all are back, handshake p50 / p99, the server's CPU per reconnect
(utime + stime from /proc/<pid>/stat over the reconnect, divided by the count; less sensitive
to a busy machine than wall time) and its idle RSS per open socket. `--storm-only` skips the
fan-out, idle and close rounds above: open, then the storms. Where two or more cores exist,
the server is pinned to the last and the load generator to the others (`taskset`), so the
server's CPU is its own.
The server's stderr goes to `--server-log`. Prints one table; nothing is asserted.

    .venv/bin/python -m bench.connections                          # 10,000 sockets, PostgreSQL
    .venv/bin/python -m bench.connections --connections 2000 --rounds 1
    .venv/bin/python -m bench.connections --max-connections 10000 --connections 10200
    .venv/bin/python -m bench.connections --storm-only --storms 3     # reconnect storms only
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import itertools
import json
import math
import os
import resource
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.gc_pauses import PauseClock
from bench.send import ROOT, start_server, stop_server

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NEW_MESSAGE_PREFIX = '42["new_message",'


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else math.nan


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process; the command name (field 2) may hold spaces, so split after it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def established_on(port: int) -> int:
    """Established TCP connections whose local end is `port`: the server's side of each socket
    (and of the benchmark's HTTP client), counted by the kernel rather than by either process."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split(maxsplit=4)
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Point fd 2 at `path` while the server starts, so the subprocess logs there."""
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Deliveries:
    """Arrival times of `new_message` per message id, with a waiter for the last one."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self._wanted: dict[str, tuple[int, asyncio.Event]] = {}

    def arrived(self, frame: str, at: float) -> None:
        message_id = json.loads(frame[2:])[1]["message"]["id"]
        times = self.arrivals[message_id]
        times.append(at)
        wanted = self._wanted.get(message_id)
        if wanted is not None and len(times) >= wanted[0]:
            wanted[1].set()

    async def wait(self, message_id: str, count: int, seconds: float) -> list[float]:
        event = asyncio.Event()
        self._wanted[message_id] = (count, event)
        if len(self.arrivals[message_id]) < count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)
        del self._wanted[message_id]
        return self.arrivals.pop(message_id)


@dataclass
class Socket:
    """One Socket.IO connection: answers pings, hands `new_message` frames to `Deliveries`."""

    connection: ClientConnection
    deliveries: Deliveries
    pings: int = 0
    closing: bool = False
    dropped: bool = False
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.connection:
                if frame == "2":
                    self.pings += 1
                    await self.connection.send("3")
                elif isinstance(frame, str) and frame.startswith(NEW_MESSAGE_PREFIX):
                    self.deliveries.arrived(frame, time.perf_counter())
        except ConnectionClosed:
            pass
        if not self.closing:
            self.dropped = True

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await self.connection.close()
        if self.task is not None:
            await self.task


@dataclass
class Phase:
    attempted: int = 0
    handshakes_ms: list[float] = field(default_factory=list)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0
    server_cpu: float = 0.0


async def open_socket(ws_url: str, token: str, deliveries: Deliveries) -> Socket:
    """Engine.IO open, then Socket.IO CONNECT with the token; raises on a refusal."""
    connection = await connect(
        ws_url,
        compression=None,
        ping_interval=None,
        open_timeout=60,
        close_timeout=10,
        max_queue=64,
        user_agent_header=None,
    )
    try:
        opening = await connection.recv()
        if not isinstance(opening, str) or not opening.startswith("0"):
            raise RuntimeError(f"unexpected open packet {opening!r:.60}")
        await connection.send("40" + json.dumps({"token": token}))
        while True:
            frame = await connection.recv()
            if not isinstance(frame, str):
                continue
            if frame.startswith("40"):
                return Socket(connection, deliveries)
            if frame.startswith("44"):
                message = str(json.loads(frame[2:]).get("message", ""))
                raise RuntimeError("refused, " + message.split(":")[0])  # the error code
            if frame == "2":
                await connection.send("3")
    except BaseException:
        await connection.close()
        raise


def _failure_name(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:70]


async def open_sockets(
    ws_url: str, tokens: list[str], deliveries: Deliveries, concurrency: int
) -> tuple[list[Socket], Phase]:
    phase = Phase(attempted=len(tokens))
    limit = asyncio.Semaphore(concurrency)
    sockets: list[Socket] = []

    async def one(token: str) -> None:
        async with limit:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(90):
                    socket = await open_socket(ws_url, token, deliveries)
            except Exception as error:
                phase.failures[_failure_name(error)] += 1
                return
            phase.handshakes_ms.append((time.perf_counter() - started) * 1000)
            socket.start()
            sockets.append(socket)

    began = time.perf_counter()
    await asyncio.gather(*(one(token) for token in tokens))
    phase.seconds = time.perf_counter() - began
    return sockets, phase


async def probe_handshakes(
    ws_url: str, token: str, count: int
) -> tuple[list[float], collections.Counter[str]]:
    """Handshakes one at a time, each socket closed at once: the latency without queueing."""
    latencies: list[float] = []
    failures: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        started = time.perf_counter()
        try:
            socket = await open_socket(ws_url, token, Deliveries())
        except Exception as error:
            failures[_failure_name(error)] += 1
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        await socket.connection.close()
        await asyncio.sleep(0.05)
    return latencies, failures


async def close_sockets(sockets: list[Socket], concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)

    async def one(socket: Socket) -> None:
        async with limit:
            await socket.close()

    began = time.perf_counter()
    await asyncio.gather(*(one(socket) for socket in sockets))
    return time.perf_counter() - began


async def drop_sockets(sockets: list[Socket]) -> float:
    """Every TCP connection cut at once, no close frame: a network failure or a proxy restart."""
    began = time.perf_counter()
    for socket in sockets:
        socket.closing = True
        socket.connection.transport.abort()
    await asyncio.gather(*(socket.task for socket in sockets if socket.task is not None))
    return time.perf_counter() - began


@dataclass
class Fanout:
    name: str
    sends: int
    expected: int
    latencies_ms: list[float] = field(default_factory=list)
    completions_ms: list[float] = field(default_factory=list)
    missing: int = 0


async def measure_fanout(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deliveries: Deliveries,
    name: str,
    conversation_id: str,
    expected: int,
    sends: int,
) -> Fanout:
    """Sends one at a time; each waits for `new_message` on all `expected` sockets. The first
    send warms up and is not counted."""
    result = Fanout(name, sends, expected)
    for index in range(-1, sends):
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        response = await client.post(
            "/messages",
            headers=headers,
            json={"conversationId": conversation_id, "content": f"{name} {index}"},
        )
        response.raise_for_status()
        arrivals = await deliveries.wait(response.json()["id"], expected, seconds=60)
        latencies = [(at - started) * 1000 for at in arrivals]
        if index < 0:
            continue
        result.latencies_ms.extend(latencies)
        result.completions_ms.append(max(latencies, default=math.nan))
        result.missing += expected - len(arrivals)
    return result


@dataclass
class Setup:
    tokens: list[str]  # one per socket, in connection order (grouped by user)
    user_tokens: list[str]  # one per user
    sender_headers: dict[str, str]
    reference_conversation: str
    group_conversation: str


async def setup(
    client: httpx.AsyncClient, users: int, per_user: int, reference_users: int, group_users: int
) -> Setup:
    """Users, and group conversations made by a sender that holds no socket: one of the first
    `reference_users`, one of the first `group_users`, and the rest in groups of that size."""
    limit = asyncio.Semaphore(8)

    async def register(index: int) -> dict[str, Any]:
        async with limit:
            response = await client.post(
                "/auth/register",
                json={
                    "username": f"conn{index}_{secrets.token_hex(3)}",
                    "password": "benchmark-pw",
                },
            )
            response.raise_for_status()
            return dict(response.json())

    registered = await asyncio.gather(*(register(i) for i in range(users + 1)))
    sender, members = registered[0], registered[1:]
    headers = {"Authorization": f"Bearer {sender['accessToken']}"}
    ids = [member["user"]["id"] for member in members]

    async def group(name: str, participant_ids: list[str]) -> str:
        response = await client.post(
            "/conversations",
            headers=headers,
            json={
                "type": "GROUP",
                "name": name,
                "participantIds": participant_ids,
                "rateLimit": 10000,
            },
        )
        response.raise_for_status()
        return str(response.json()["id"])

    reference = await group("reference", ids[:reference_users])
    fanout = await group("fan-out", ids[:group_users])
    for start in range(group_users, users, group_users):
        await group(f"bystanders {start}", ids[start : start + group_users])
    user_tokens = [member["accessToken"] for member in members]
    tokens = [token for token in user_tokens for _ in range(per_user)]
    return Setup(tokens, user_tokens, headers, reference, fanout)


@dataclass
class Report:
    rows: list[tuple[str, str]] = field(default_factory=list)
    fanouts: list[Fanout] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))


def _ms(values: list[float]) -> str:
    return (
        f"{_percentile(values, 0.5):.1f} / {_percentile(values, 0.99):.1f} / "
        f"{max(values, default=math.nan):.1f} ms"
    )


@dataclass
class Bench:
    """What every step needs: the server's process and port, the client, and the report."""

    pid: int
    port: int
    args: argparse.Namespace
    client: httpx.AsyncClient
    plan: Setup
    report: Report
    deliveries: Deliveries = field(default_factory=Deliveries)
    rss_empty: int = 0
    storm_figures: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"

    async def fanout(self, conversation_id: str, expected: int, open_now: int, note: str) -> None:
        self.report.fanouts.append(
            await measure_fanout(
                self.client,
                self.plan.sender_headers,
                self.deliveries,
                f"{expected} recipients, {open_now} open{note}",
                conversation_id,
                expected,
                self.args.sends,
            )
        )

    async def open(self, tokens: list[str]) -> tuple[list[Socket], Phase]:
        cpu_before = cpu_seconds(self.pid)
        opened = await open_sockets(self.ws_url, tokens, self.deliveries, self.args.concurrency)
        opened[1].server_cpu = cpu_seconds(self.pid) - cpu_before
        # Keep the client's sockets out of later full collections, whose pauses (0.5 s at
        # 10,000 sockets) would otherwise be measured as server latency.
        gc.collect()
        gc.freeze()
        return opened

    async def probe(self, label: str) -> None:
        latencies, failures = await probe_handshakes(
            self.ws_url, self.plan.tokens[-1], self.args.probes
        )
        self.report.add(f"handshake one at a time, {label}: p50 / p99 / max", _ms(latencies))
        for failure, count in failures.most_common():
            self.report.add(f"  failed: {failure}", str(count))

    async def idle(self, sockets: list[Socket]) -> None:
        """Server and client CPU while nothing happens but heartbeats and presence renewal."""
        client_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        server_before = cpu_seconds(self.pid)
        pings_before = sum(socket.pings for socket in sockets)
        await asyncio.sleep(self.args.idle)
        server = (cpu_seconds(self.pid) - server_before) / self.args.idle * 100
        client = (
            (sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - client_before)
            / self.args.idle
            * 100
        )
        pings = sum(socket.pings for socket in sockets) - pings_before
        self.report.add(
            f"idle CPU over {self.args.idle:.0f} s, all open: server / client",
            f"{server:.1f} % / {client:.1f} % of one core ({pings} pings answered meanwhile)",
        )

    async def close_all(self, sockets: list[Socket], label: str, *, drop: bool) -> None:
        """Closes every socket (or drops them all at once), waits for the server's side to go,
        then reads its RSS and how many users it still shows ONLINE."""
        if drop:
            seconds = await drop_sockets(sockets)
        else:
            seconds = await close_sockets(sockets, self.args.concurrency)
        for _ in range(120):  # up to a minute; the HTTP client keeps one connection
            if established_on(self.port) <= 2:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)
        rss = rss_kib(self.pid)
        how = "dropped all at once" if drop else f"closed, {self.args.concurrency} at a time"
        self.report.add(
            f"{label}: {how}; then server RSS",
            f"{seconds:.1f} s; {rss / 1024:.0f} MiB ({(rss - self.rss_empty) / 1024:+.0f} MiB "
            f"on empty), server TCP connections left {established_on(self.port)}",
        )
        online = await self.online_users()
        later = ""
        if online:  # the presence sweeper (PRESENCE_TTL, 30 s) should take them offline
            await asyncio.sleep(40)
            later = f"; 45 s after: {await self.online_users()}"
        self.report.add(
            f"{label}: users still ONLINE 5 s after",
            f"{online} of {len(self.plan.user_tokens)}{later}",
        )

    async def wait_closed(self) -> None:
        """Until the server's side of every socket is gone (the HTTP client keeps one)."""
        for _ in range(240):
            if established_on(self.port) <= 2:
                break
            await asyncio.sleep(0.25)

    async def storm(self, sockets: list[Socket], number: int) -> list[Socket]:
        """Cuts every socket at once, lets the server see them go, then reconnects them all
        `--storm-concurrency` at a time; returns the new sockets."""
        gc.unfreeze()
        cpu_before = cpu_seconds(self.pid)
        await drop_sockets(sockets)
        await self.wait_closed()
        await asyncio.sleep(2)  # the server's disconnect work (presence) settles
        cpu_drop = cpu_seconds(self.pid) - cpu_before
        rss_before = rss_kib(self.pid)
        gc.collect()
        cpu_before = cpu_seconds(self.pid)
        opened, phase = await open_sockets(
            self.ws_url, self.plan.tokens, self.deliveries, self.args.storm_concurrency
        )
        cpu = cpu_seconds(self.pid) - cpu_before
        gc.collect()
        gc.freeze()
        await asyncio.sleep(2)
        rss = rss_kib(self.pid)
        label = f"storm {number}"
        self.report.add(
            f"{label}: reconnected / cut, time to all back, connects/s",
            f"{len(opened)} / {len(sockets)}, {phase.seconds:.2f} s, "
            f"{len(opened) / phase.seconds:.0f}/s ({self.args.storm_concurrency} at a time)",
        )
        self.report.add(f"{label}: handshake p50 / p99 / max", _ms(phase.handshakes_ms))
        per_connect = cpu / max(1, len(opened)) * 1000
        self.report.add(
            f"{label}: server CPU per reconnect / per disconnect",
            f"{per_connect:.2f} ms / {cpu_drop / max(1, len(sockets)) * 1000:.2f} ms",
        )
        self.report.add(
            f"{label}: server RSS, idle per open socket",
            f"{rss / 1024:.0f} MiB ({rss_before / 1024:.0f} MiB with none open), "
            f"{(rss - self.rss_empty) / max(1, len(opened)):.1f} KiB per socket over the "
            "first empty server",
        )
        for failure, count in phase.failures.most_common():
            self.report.add(f"  failed: {failure}", str(count))
        self.storm_figures.append((phase.seconds, per_connect))
        return opened

    async def online_users(self) -> int:
        count = 0
        for token in self.plan.user_tokens:
            response = await self.client.get(
                "/users/me", headers={"Authorization": f"Bearer {token}"}
            )
            count += response.json().get("status") == "ONLINE"
        return count


async def run(url: str, pid: int, args: argparse.Namespace, report: Report) -> None:
    per_user = math.ceil(args.connections / args.users)
    users = math.ceil(args.connections / per_user)
    reference_users = max(1, args.reference // per_user)
    group_users = max(1, args.group_sockets // per_user)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        began = time.perf_counter()
        plan = await setup(client, users, per_user, reference_users, group_users)
        plan.tokens = plan.tokens[: args.connections]
        report.add(
            "setup",
            f"{users + 1} users registered, {per_user} sockets per user, "
            f"{time.perf_counter() - began:.1f} s",
        )
        bench = Bench(pid, int(url.rsplit(":", 1)[1]), args, client, plan, report)
        await asyncio.sleep(2)
        bench.rss_empty = rss_kib(pid)
        fds_empty = open_fds(pid)
        await bench.probe("none open")

        reference_count = reference_users * per_user
        group_count = group_users * per_user
        if args.storm_only:
            sockets, phase = await bench.open(plan.tokens)
            report.add(
                "opened before the storms: established / attempted, time, server CPU per connect",
                f"{len(sockets)} / {phase.attempted}, {phase.seconds:.1f} s, "
                f"{phase.server_cpu / max(1, len(sockets)) * 1000:.2f} ms",
            )
            for failure, count in phase.failures.most_common():
                report.add(f"  failed: {failure}", str(count))
        else:
            await measure_all(bench, fds_empty, reference_count, group_count)
            sockets = (await bench.open(plan.tokens))[0] if args.storms else []
        for number in range(1, args.storms + 1):
            sockets = await bench.storm(sockets, number)
        if bench.storm_figures:
            seconds = sorted(figure[0] for figure in bench.storm_figures)
            per_connect = sorted(figure[1] for figure in bench.storm_figures)
            report.add(
                f"storms: time to all back / server CPU per reconnect (median of {len(seconds)})",
                f"{seconds[len(seconds) // 2]:.2f} s / {per_connect[len(per_connect) // 2]:.2f} ms",
            )
        await close_sockets(sockets, args.concurrency)


async def measure_all(bench: Bench, fds_empty: int, reference_count: int, group_count: int) -> None:
    """Fan-out with the reference group, the large group and everyone open; idle CPU; memory
    over `--rounds` open/close rounds. Leaves every socket closed."""
    plan = bench.plan
    # Open in three steps, measuring fan-out after the first two: the reference group's
    # sockets, then the large group's, then the rest.
    bounds = [0, reference_count, group_count, len(plan.tokens)]
    sockets: list[Socket] = []
    phases: list[Phase] = []
    for stage, (start, stop) in enumerate(itertools.pairwise(bounds)):
        if stop > start:
            opened, phase = await bench.open(plan.tokens[start:stop])
            sockets += opened
            phases.append(phase)
        if stage == 0:
            await bench.fanout(
                plan.reference_conversation, reference_count, len(sockets), " (reference)"
            )
        elif stage == 1:
            await bench.fanout(plan.group_conversation, group_count, len(sockets), "")

    handshakes = [ms for phase in phases for ms in phase.handshakes_ms]
    failures = sum((phase.failures for phase in phases), collections.Counter[str]())
    connect_seconds = sum(phase.seconds for phase in phases)
    bench.report.add(
        "connections established / attempted",
        f"{len(sockets)} / {sum(phase.attempted for phase in phases)} "
        f"(server's side, counted by the kernel: {established_on(bench.port)})",
    )
    bench.report.add(
        "time to open them, fan-out pauses excluded",
        f"{connect_seconds:.1f} s, {len(sockets) / connect_seconds:.0f} connections/s, "
        f"server CPU {sum(p.server_cpu for p in phases) / max(1, len(sockets)) * 1000:.1f} ms"
        " per connection",
    )
    bench.report.add(
        f"handshake, {bench.args.concurrency} at a time: p50 / p99 / max", _ms(handshakes)
    )
    for failure, count in failures.most_common():
        bench.report.add(f"  failed: {failure}", str(count))

    await asyncio.sleep(2)
    rss_full = rss_kib(bench.pid)
    bench.report.add(
        "server RSS: none open -> all open",
        f"{bench.rss_empty / 1024:.0f} MiB -> {rss_full / 1024:.0f} MiB, "
        f"{(rss_full - bench.rss_empty) / max(1, len(sockets)):.1f} KiB per connection",
    )
    bench.report.add("server open descriptors", f"{fds_empty} -> {open_fds(bench.pid)}")
    await bench.idle(sockets)
    await bench.probe(f"{len(sockets)} open")
    await bench.fanout(plan.reference_conversation, reference_count, len(sockets), "")
    await bench.fanout(plan.group_conversation, group_count, len(sockets), "")
    bench.report.add(
        "sockets closed by the server meanwhile",
        f"{sum(socket.dropped for socket in sockets)} "
        f"(pings answered in all: {sum(socket.pings for socket in sockets)})",
    )
    await bench.close_all(sockets, "round 1", drop=False)

    for round_number in range(2, bench.args.rounds + 1):
        opened, phase = await bench.open(plan.tokens)
        await asyncio.sleep(2)
        bench.report.add(
            f"round {round_number}: established, time, server RSS",
            f"{len(opened)} / {phase.attempted}, {phase.seconds:.1f} s, "
            f"{rss_kib(bench.pid) / 1024:.0f} MiB",
        )
        await bench.close_all(opened, f"round {round_number}", drop=True)


def _revision() -> str:
    """The commit measured: the working tree is what runs (editable install)."""
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pin(server_pid: int) -> str:
    """The server (every thread) on the last core, this load generator on the others, so
    neither steals the other's core; a one-core machine shares it."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return "not pinned: one core"
    try:
        subprocess.run(
            ["taskset", "--all-tasks", "--cpu-list", "--pid", str(cores[-1]), str(server_pid)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        return f"not pinned: {error}"
    os.sched_setaffinity(0, cores[:-1])
    return f"server pinned to core {cores[-1]}, client to {cores[:-1]}"


def print_report(
    report: Report, args: argparse.Namespace, log_path: Path, revision: str, pinning: str
) -> None:
    print(
        f"\nParley Socket.IO connection benchmark at {revision}: backend={args.backend}, "
        "1 worker, "
        f"target {args.connections} sockets over {args.users} users, "
        f"WS_MAX_CONNECTIONS={args.max_connections}, cpus={os.cpu_count()} "
        f"(client on the same machine; {pinning})"
    )
    reference = _percentile(report.fanouts[0].completions_ms, 0.5) if report.fanouts else 1.0
    print(
        f"{'send -> new_message on every recipient':<44}{'deliv.':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'all, p50':>10}{'x ref':>7}"
    )
    for result in report.fanouts:
        completion = _percentile(result.completions_ms, 0.5)
        print(
            f"{result.name:<44}{len(result.latencies_ms):>8}"
            f"{_percentile(result.latencies_ms, 0.5):>9.1f}"
            f"{_percentile(result.latencies_ms, 0.99):>9.1f}"
            f"{max(result.latencies_ms, default=math.nan):>9.1f}"
            f"{completion:>10.1f}{completion / reference:>7.2f}"
        )
    missing = sum(result.missing for result in report.fanouts)
    print(f"deliveries missing: {missing}; 'all' = the last socket's delivery of each send")
    width = max(len(name) for name, _ in report.rows)
    for name, value in report.rows:
        print(f"{name:<{width}}  {value}")
    with contextlib.suppress(OSError):
        levels: collections.Counter[str] = collections.Counter()
        messages: collections.Counter[str] = collections.Counter()
        for line in log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                levels["not JSON (traceback?)"] += 1
                continue
            levels[entry.get("level", "?")] += 1
            messages[f"{entry.get('message')} ({entry.get('error', '')})"[:80]] += 1
        print(f"server log {log_path}: {dict(levels) or 'empty'}")
        for message, count in messages.most_common(3):
            print(f"  {count} x {message}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--connections", type=int, default=10000, help="sockets to open")
    parser.add_argument("--users", type=int, default=200, help="users the sockets belong to")
    parser.add_argument("--max-connections", type=int, default=12000, help="WS_MAX_CONNECTIONS")
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes at a time")
    parser.add_argument("--reference", type=int, default=100, help="sockets of the reference")
    parser.add_argument("--group-sockets", type=int, default=1000, help="sockets in the group")
    parser.add_argument("--sends", type=int, default=10, help="sends per fan-out measure")
    parser.add_argument("--probes", type=int, default=20, help="handshakes one at a time")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU sampling")
    parser.add_argument("--rounds", type=int, default=2, help="open/close rounds (memory)")
    parser.add_argument("--storms", type=int, default=3, help="reconnect storms, all open")
    parser.add_argument(
        "--storm-concurrency", type=int, default=1000, help="reconnect handshakes at a time"
    )
    parser.add_argument(
        "--storm-only", action="store_true", help="skip fan-out, idle and rounds; storms only"
    )
    parser.add_argument("--server-log", type=Path, default=None)
    parser.add_argument(
        "--checkout",
        type=Path,
        default=ROOT,
        help="the tree whose parley runs (another commit, for before/after; see bench/send.py)",
    )
    args = parser.parse_args()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections + 100:
        raise SystemExit(f"ulimit -n is {soft}: the client needs a descriptor per socket")
    log_path = args.server_log or Path(tempfile.mkstemp(prefix="parley-conn-", suffix=".log")[1])
    os.environ["WS_MAX_CONNECTIONS"] = str(args.max_connections)
    revision = _revision()
    with stderr_to(log_path):
        process, url, cleanup = start_server(args.backend, 1, checkout=args.checkout.resolve())
    pinning = pin(process.pid)
    report = Report()
    gc.callbacks.append(pauses := PauseClock())
    try:
        with _runner() as runner:
            runner.run(run(url, process.pid, args, report))
    finally:
        stop_server(process, cleanup)
        report.add(
            "client's own full GC pauses: count, max",
            f"{len(pauses.pauses_ms)}, {max(pauses.pauses_ms, default=0):.0f} ms",
        )
        print_report(
            report, args, log_path, revision, pinning
        )  # also what was measured before a failure


def _runner() -> asyncio.Runner:
    """uvloop when present (it is a server dependency): the client's CPU is the server's too."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    main()
