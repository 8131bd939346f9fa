"""W1: one conversation of 20 members, 10 of them sending closed loop over Socket.IO, run
against Parley and two bare broadcast servers in one invocation (issue 11).

Each member is a socket.io-client v4 socket in its own Node process (bench/node/member.mjs,
websocket transport). Senders send `send_message` and wait for the ack before sending the next;
every member records each `new_message`. Systems, each started here, one at a time:

- `python-socketio`: bench/w1_bare_server.py, python-socketio on uvicorn with their defaults,
  broadcasting each message to the room and acking (stores nothing, checks nothing);
- `node-socketio`: bench/node/server.mjs, a bare socket.io 4.8 server doing the same
  (installed from npm: `npm ci` in bench/node, which `make bench-w1` runs);
- `parley-postgres`: one `parley serve` on a fresh PostgreSQL database and Redis key prefix;
- `parley-sqlite`: one `parley serve` on the embedded default (SQLite, no Redis).

Parley runs with its rate limits raised out of the way (bench/send.py's `start_server`, and a
conversation `rateLimit` of 10,000 a minute). With two or more cores the server is pinned to
one core and the Node load generator to the others (`taskset`); PostgreSQL and Redis are the
machine's shared services and are not pinned. The systems take turns within each repeat.

Figures per run: acked messages per second (acked sends over the span from the first send to
the last ack), ack p50/p99 (send -> ack), confirm p50/p99 (send -> `message_confirmed`,
Parley only), delivery p50/p99 (send -> `new_message` at each other member), and deliveries
received of those expected (every acked message at every other member). Then the median of
the repeats per system and Parley's throughput over each bare server's. Nothing is asserted.

    make bench-w1                                          # all four systems, 3 repeats
    .venv/bin/python -m bench.w1 --messages 500 --repeat 1  # a short run
    .venv/bin/python -m bench.w1 --senders 2               # light load
    .venv/bin/python -m bench.w1 --systems parley-postgres,python-socketio --json w1.json
    # variants in the same run: another checkout (`@DIR`, with its own .venv), other settings
    .venv/bin/python -m bench.w1 --systems parley-postgres,parley-postgres@/tmp/before
    .venv/bin/python -m bench.w1 --systems parley-postgres,parley-postgres+SEND_BACKLOG_BUDGET=100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench.cache_metrics import cache_counters, cache_hit_rates
from bench.send import setup, start_server, stop_server
from bench.services import free_port

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
BARE_PYTHON_SERVER = ROOT / "bench" / "w1_bare_server.py"
BARE_SYSTEMS = ("python-socketio", "node-socketio")
PARLEY_SYSTEMS = ("parley-postgres", "parley-sqlite")
SYSTEMS = BARE_SYSTEMS + PARLEY_SYSTEMS


@dataclass
class Target:
    """A running system as the members see it."""

    url: str
    conversation_id: str
    tokens: list[str]
    expect_confirm: bool
    pid: int  # the server process, whose CPU time is read from /proc


@dataclass
class Run:
    """What one drive of the members returns."""

    records: list[dict[str, Any]]
    cpu_seconds: float | None
    cache_hit_rates: dict[str, float]


@dataclass
class Figures:
    system: str
    repeat: int
    sent: int
    acked: int
    seconds: float
    throughput: float
    ack_p50: float
    ack_p99: float
    confirm_p50: float | None
    confirm_p99: float | None
    confirmed: int | None
    delivery_p50: float
    delivery_p99: float
    delivery_p99_first_tenth: float
    delivery_p99_last_tenth: float
    delivered: int
    expected: int
    duplicates: int
    disconnects: int
    send_errors: dict[str, int] = field(default_factory=dict)
    server_cpu_seconds: float | None = None  # from "go" until the last delivery or drain
    cache_hit_rates: dict[str, float] = field(default_factory=dict)  # per layer, over the run

    @property
    def cpu_ms_per_message(self) -> float | None:
        """Server CPU per acked message: steadier than throughput on a shared machine."""
        if self.server_cpu_seconds is None or not self.acked:
            return None
        return 1000 * self.server_cpu_seconds / self.acked

    @property
    def lost(self) -> int:
        return self.expected - self.delivered


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or
    below it (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def split_messages(total: int, senders: int) -> list[int]:
    """`total` sends shared as evenly as possible among `senders` (the first take the rest)."""
    share, rest = divmod(total, senders)
    return [share + (1 if index < rest else 0) for index in range(senders)]


async def read_cache_counts(url: str) -> dict[str, tuple[float, float]] | None:
    """The server's cache counters now (None for a server without Parley's /metrics)."""
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(url + "/metrics")
    except httpx.HTTPError:
        return None
    return cache_counters(response.text) if response.status_code == 200 else None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(
    system: str, repeat: int, members: int, results: Sequence[dict[str, Any]], expect_confirm: bool
) -> Figures:
    """The run's figures from the members' records (bench/node/member.mjs's OUT_JSON). A
    member whose record is missing (it crashed) counts every delivery it should have had as
    lost."""
    sent_at: dict[str, tuple[int, float]] = {}
    acks: list[float] = []
    errors: Counter[str] = Counter()
    first_send = math.inf
    last_ack = -math.inf
    sent = 0
    for result in results:
        for key, sent_ms, acked_ms, status in result["sends"]:
            sent += 1
            first_send = min(first_send, sent_ms)
            if status != "ok":
                errors[status] += 1
                continue
            sent_at[key] = (result["index"], sent_ms)
            acks.append(acked_ms - sent_ms)
            last_ack = max(last_ack, acked_ms)
    confirms = [
        confirmed_ms - sent_at[key][1]
        for result in results
        for key, confirmed_ms in result["confirms"]
        if key in sent_at
    ]
    deliveries = [
        arrived_ms - sent_at[key][1]
        for result in results
        for key, arrived_ms in result["received"]
        if key in sent_at and sent_at[key][0] != result["index"]
    ]
    # Delivery p99 of the sends in the first and in the last tenth of the run (by send time):
    # with a backlog the second is far above the first; with backpressure they stay alike.
    by_time = sorted(sent_at, key=lambda key: sent_at[key][1])
    tenth = max(1, len(by_time) // 10)
    early, late = set(by_time[:tenth]), set(by_time[-tenth:])
    early_deliveries: list[float] = []
    late_deliveries: list[float] = []
    for result in results:
        for key, arrived_ms in result["received"]:
            if key in sent_at and sent_at[key][0] != result["index"]:
                if key in early:
                    early_deliveries.append(arrived_ms - sent_at[key][1])
                elif key in late:
                    late_deliveries.append(arrived_ms - sent_at[key][1])
    seconds = (last_ack - first_send) / 1000 if acks else 0.0
    return Figures(
        system=system,
        repeat=repeat,
        sent=sent,
        acked=len(acks),
        seconds=seconds,
        throughput=len(acks) / seconds if seconds > 0 else 0.0,
        ack_p50=percentile(acks, 0.5),
        ack_p99=percentile(acks, 0.99),
        confirm_p50=percentile(confirms, 0.5) if expect_confirm else None,
        confirm_p99=percentile(confirms, 0.99) if expect_confirm else None,
        confirmed=len(confirms) if expect_confirm else None,
        delivery_p50=percentile(deliveries, 0.5),
        delivery_p99=percentile(deliveries, 0.99),
        delivery_p99_first_tenth=percentile(early_deliveries, 0.99),
        delivery_p99_last_tenth=percentile(late_deliveries, 0.99),
        delivered=len(deliveries),
        expected=len(acks) * (members - 1),
        duplicates=sum(int(result["duplicates"]) for result in results),
        disconnects=sum(int(result["disconnects"]) for result in results),
        send_errors=dict(errors),
    )


# --- pinning ---------------------------------------------------------------------------------


@dataclass
class Pinning:
    server: list[str]
    clients: list[str]
    description: str


def pinning(server_cpus: str | None, client_cpus: str | None, enabled: bool) -> Pinning:
    """The server on the first core, the load generator on the others, when two exist."""
    cpus = sorted(os.sched_getaffinity(0))
    if not enabled or shutil.which("taskset") is None or len(cpus) < 2:
        return Pinning([], [], f"not pinned ({len(cpus)} cpus)")
    server = server_cpus or str(cpus[0])
    clients = client_cpus or ",".join(str(cpu) for cpu in cpus[1:])
    return Pinning(
        ["taskset", "-c", server],
        ["taskset", "-c", clients],
        f"server on cpu {server}, Node members on cpu {clients} (taskset)",
    )


# --- systems ---------------------------------------------------------------------------------


def parse_variant(system: str) -> tuple[str, Path, dict[str, str]]:
    """`parley-postgres@/tmp/before+SEND_BACKLOG_BUDGET=100` -> the base system, the checkout
    whose `.venv` runs it (this one unless `@DIR`) and settings to override (`+KEY=VALUE`):
    another commit or another setting next to this one in the same run."""
    head, *settings = system.split("+")
    base, _, directory = head.partition("@")
    extra: dict[str, str] = {}
    for setting in settings:
        key, equals, value = setting.partition("=")
        if not equals or not key:
            raise ValueError(f"{system}: a variant's settings are +KEY=VALUE")
        extra[key] = value
    return base, Path(directory).resolve() if directory else ROOT, extra


def _wait_for_socketio(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"the server at {url} exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=1).is_success:
                return
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server at {url} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running(system: str, members: int, prefix: Sequence[str]) -> Iterator[Target]:
    """Start `system` pinned with `prefix`, yield what the members need, stop it."""
    if system in BARE_SYSTEMS:
        port = free_port()
        command = (
            [sys.executable, str(BARE_PYTHON_SERVER), str(port)]
            if system == "python-socketio"
            else ["node", str(NODE_DIR / "server.mjs"), str(port)]
        )
        process = subprocess.Popen([*prefix, *command], cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_socketio(url, process)
            # Bare servers check no token: the room comes from auth.conversationId.
            yield Target(url, f"w1-{secrets.token_hex(4)}", ["-"] * members, False, process.pid)
        finally:
            _stop(process)
        return
    base, checkout, extra_env = parse_variant(system)
    backend = "postgres" if base == "parley-postgres" else "sqlite"
    parley, url, cleanup = start_server(
        backend, 1, command_prefix=prefix, checkout=checkout, extra_env=extra_env
    )
    try:
        tokens, conversations = asyncio.run(setup(url, members, 1))
        yield Target(url, conversations[0], tokens, True, parley.pid)
    finally:
        stop_server(parley, cleanup)


# --- the members -----------------------------------------------------------------------------


class MemberFailed(RuntimeError):
    pass


@dataclass
class Members:
    """The member processes and what each has said so far ("ready", "sent N", "done")."""

    processes: list[asyncio.subprocess.Process]
    said: list[dict[str, str]]
    lines: asyncio.Queue[tuple[int, str | None]]

    def tell(self, line: str, only: Sequence[int] | None = None) -> None:
        for index, process in enumerate(self.processes):
            if (only is None or index in only) and process.returncode is None:
                assert process.stdin is not None
                with contextlib.suppress(ConnectionError):
                    process.stdin.write((line + "\n").encode())

    async def until(
        self, word: str, seconds: float | None, among: Sequence[int] | None = None
    ) -> list[int]:
        """Wait until every member (of `among`) has said `word`; those that have not within
        `seconds` (None: no limit)."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        indexes = range(len(self.processes)) if among is None else among
        while missing := [index for index in indexes if word not in self.said[index]]:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return missing
            try:
                index, line = await asyncio.wait_for(self.lines.get(), remaining)
            except TimeoutError:
                return missing
            if line is None:
                if "done" not in self.said[index]:
                    code = await self.processes[index].wait()
                    raise MemberFailed(f"member {index} exited with {code} before it was done")
                continue
            head, _, rest = line.partition(" ")
            self.said[index][head] = rest
        return []


async def _read(index: int, process: asyncio.subprocess.Process, members: Members) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        members.lines.put_nowait((index, raw.decode().strip()))
    members.lines.put_nowait((index, None))


async def drive(
    target: Target,
    per_member: list[int],
    prefix: Sequence[str],
    *,
    ack_timeout: float,
    drain_timeout: float,
) -> Run:
    """Run the members against `target`: their records, the server's CPU seconds from "go"
    until every member is done, and its cache hit rates per layer over that span."""
    workdir = Path(tempfile.mkdtemp(prefix="parley-w1-"))
    config = workdir / "config.json"
    config.write_text(
        json.dumps(
            {
                "url": target.url,
                "conversationId": target.conversation_id,
                "tokens": target.tokens,
                "perSender": per_member,
                "expectConfirm": target.expect_confirm,
                "ackTimeoutMs": int(ack_timeout * 1000),
                "tag": f"w1{secrets.token_hex(3)}",
            }
        )
    )
    outputs = [workdir / f"member-{index}.json" for index in range(len(per_member))]
    processes = [
        await asyncio.create_subprocess_exec(
            *prefix,
            "node",
            str(NODE_DIR / "member.mjs"),
            str(config),
            str(index),
            str(output),
            cwd=NODE_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for index, output in enumerate(outputs)
    ]
    members = Members(processes, [{} for _ in processes], asyncio.Queue())
    readers = [
        asyncio.create_task(_read(index, process, members))
        for index, process in enumerate(processes)
    ]
    try:
        if missing := await members.until("ready", 120):
            raise MemberFailed(f"members {missing} did not connect")
        caches_before = await read_cache_counts(target.url) if target.expect_confirm else None
        cpu_before = process_cpu_seconds(target.pid)
        members.tell("go")
        # Each send is bounded by the ack timeout, so the senders finish.
        await members.until("sent", None, among=[i for i, count in enumerate(per_member) if count])
        acked = [int(members.said[index].get("sent") or 0) for index in range(len(per_member))]
        members.tell("acked " + ",".join(str(count) for count in acked))
        if stragglers := await members.until("done", drain_timeout):
            members.tell("stop", only=stragglers)
            if await members.until("done", 30):
                raise MemberFailed("members did not stop")
        cpu_after = process_cpu_seconds(target.pid)
        caches_after = await read_cache_counts(target.url) if target.expect_confirm else None
        for process in processes:
            await process.wait()
        records = [json.loads(output.read_text()) for output in outputs if output.exists()]
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        rates = (
            {}
            if caches_before is None or caches_after is None
            else cache_hit_rates(caches_before, caches_after)
        )
        return Run(records, cpu, {layer: rate for layer, rate in rates.items() if rate is not None})
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        for reader in readers:
            reader.cancel()
        shutil.rmtree(workdir, ignore_errors=True)


# --- report ----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


MEDIAN_FIELDS = (
    "throughput",
    "cpu_ms_per_message",
    "ack_p50",
    "ack_p99",
    "confirm_p50",
    "confirm_p99",
    "delivery_p50",
    "delivery_p99",
    "delivery_p99_first_tenth",
    "delivery_p99_last_tenth",
)


def medians(runs: Sequence[Figures]) -> dict[str, float | None]:
    """The median of each figure over the repeats of one system."""
    result: dict[str, float | None] = {}
    for name in MEDIAN_FIELDS:
        values = [v for run in runs if (v := getattr(run, name)) is not None and not math.isnan(v)]
        result[name] = statistics.median(values) if values else None
    return result


def ratios(by_system: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float]]:
    """Parley's median throughput over each bare server's, for the systems that ran."""
    result: dict[str, dict[str, float]] = {}
    for parley in by_system:
        if parse_variant(parley)[0] not in PARLEY_SYSTEMS:
            continue
        mine = by_system.get(parley, {}).get("throughput")
        if not mine:
            continue
        for bare in BARE_SYSTEMS:
            theirs = by_system.get(bare, {}).get("throughput")
            if theirs:
                result.setdefault(parley, {})[bare] = mine / theirs
    return result


def print_report(
    runs: Sequence[Figures],
    by_system: dict[str, dict[str, float | None]],
    heading: str,
) -> None:
    print("\n" + heading)
    width = max(16, *(len(system) + 2 for system in by_system))
    header = (
        f"{'system':<{width}}{'run':>7}{'msg/s':>8}{'ack p50':>9}{'ack p99':>9}{'conf p50':>10}"
        f"{'conf p99':>10}{'dlv p50':>9}{'dlv p99':>9}{'cpu ms/msg':>11}"
        f"{'delivered/expected':>22}{'lost':>7}"
    )
    print(header)
    for system, figures in by_system.items():
        for run in (r for r in runs if r.system == system):
            errors = f"  send errors {run.send_errors}" if run.send_errors else ""
            counts = (("duplicates", run.duplicates), ("disconnects", run.disconnects))
            extras = "".join(f"  {name} {count}" for name, count in counts if count)
            print(
                f"{system:<{width}}{run.repeat:>7}{run.throughput:>8.0f}{_ms(run.ack_p50):>9}"
                f"{_ms(run.ack_p99):>9}{_ms(run.confirm_p50):>10}{_ms(run.confirm_p99):>10}"
                f"{_ms(run.delivery_p50):>9}{_ms(run.delivery_p99):>9}"
                f"{_ms(run.cpu_ms_per_message):>11}"
                f"{f'{run.delivered}/{run.expected}':>22}{run.lost:>7}{errors}{extras}"
            )
        throughput = figures["throughput"]
        print(
            f"{system:<{width}}{'median':>7}{throughput or 0:>8.0f}{_ms(figures['ack_p50']):>9}"
            f"{_ms(figures['ack_p99']):>9}{_ms(figures['confirm_p50']):>10}"
            f"{_ms(figures['confirm_p99']):>10}{_ms(figures['delivery_p50']):>9}"
            f"{_ms(figures['delivery_p99']):>9}{_ms(figures['cpu_ms_per_message']):>11}"
        )
    for parley, against in ratios(by_system).items():
        print(
            f"{parley} throughput: "
            + ", ".join(f"{ratio:.2f}x {bare}" for bare, ratio in against.items())
            + " (medians)"
        )
    for system, figures in by_system.items():
        print(
            f"{system} delivery p99, first / last tenth of the sends (median of runs): "
            f"{_ms(figures['delivery_p99_first_tenth'])} / "
            f"{_ms(figures['delivery_p99_last_tenth'])} ms"
        )
    for system in by_system:
        layers: dict[str, list[float]] = {}
        for run in (r for r in runs if r.system == system):
            for layer, rate in run.cache_hit_rates.items():
                layers.setdefault(layer, []).append(rate)
        if layers:
            print(
                f"{system} cache hit rate per layer (median of runs): "
                + ", ".join(
                    f"{layer} {100 * statistics.median(rates):.1f} %"
                    for layer, rates in sorted(layers.items())
                )
            )
    lost = sum(run.lost for run in runs)
    print("every message delivered to every member" if lost == 0 else f"LOST: {lost} deliveries")


def _json_safe(figures: dict[str, Any]) -> dict[str, Any]:
    """NaN (a percentile of no values) as null, which JSON has."""
    return {
        name: None if isinstance(value, float) and math.isnan(value) else value
        for name, value in figures.items()
    }


def versions() -> dict[str, str]:
    def npm(package: str) -> str:
        manifest = NODE_DIR / "node_modules" / package / "package.json"
        return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else "?"

    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "node": node,
        "socket.io": npm("socket.io"),
        "socket.io-client": npm("socket.io-client"),
        "python-socketio": metadata.version("python-socketio"),
        "uvicorn": metadata.version("uvicorn"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=2000, help="in total, split among senders")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ack-timeout", type=float, default=10.0, help="seconds per send")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for deliveries and confirmations after the last ack",
    )
    parser.add_argument("--server-cpus", help="taskset list for the server (default: first cpu)")
    parser.add_argument("--client-cpus", help="taskset list for the Node members (default: rest)")
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()

    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    if unknown := {parse_variant(name)[0] for name in systems} - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    if not 1 <= args.senders <= args.members or args.messages < args.senders:
        parser.error("need 1 <= senders <= members and at least one message per sender")
    if not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        raise SystemExit("run `npm ci` in bench/node first (make bench-w1 does)")
    pins = pinning(args.server_cpus, args.client_cpus, not args.no_pin)
    per_member = split_messages(args.messages, args.senders) + [0] * (args.members - args.senders)

    runs: list[Figures] = []
    for repeat in range(1, args.repeat + 1):
        for system in systems:
            with running(system, args.members, pins.server) as target:
                run = asyncio.run(
                    drive(
                        target,
                        per_member,
                        pins.clients,
                        ack_timeout=args.ack_timeout,
                        drain_timeout=args.drain_timeout,
                    )
                )
            figures = summarize(system, repeat, args.members, run.records, target.expect_confirm)
            figures.server_cpu_seconds = run.cpu_seconds
            figures.cache_hit_rates = run.cache_hit_rates
            runs.append(figures)
            print(
                f"{system} run {repeat}: {figures.throughput:.0f} acked msg/s, "
                f"{figures.delivered}/{figures.expected} delivered",
                flush=True,
            )

    by_system = {system: medians([r for r in runs if r.system == system]) for system in systems}
    found = versions()
    heading = (
        f"W1: {args.members} members (one Node process each, socket.io-client "
        f"{found['socket.io-client']}), {args.senders} senders closed loop, {args.messages} "
        f"messages, {args.repeat} repeat(s); {pins.description}; cpus={os.cpu_count()}; "
        f"latencies in ms"
    )
    print_report(runs, by_system, heading)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "workload": {
                        "members": args.members,
                        "senders": args.senders,
                        "messages": args.messages,
                        "repeat": args.repeat,
                        "pinning": pins.description,
                        "cpus": os.cpu_count(),
                    },
                    "versions": found,
                    "runs": [
                        _json_safe(
                            {
                                **asdict(run),
                                "lost": run.lost,
                                "cpu_ms_per_message": run.cpu_ms_per_message,
                            }
                        )
                        for run in runs
                    ],
                    "medians": by_system,
                    "ratios": ratios(by_system),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
