"""REST send benchmark: throughput and p50/p99 latency of the optimistic (202) and wait=true
(201) paths, with a reference endpoint measured in the same run.

Starts its own `parley serve` on a fresh PostgreSQL database and Redis key prefix (or the
embedded SQLite), registers users, makes group conversations, then drives each scenario with
`wrk` (Debian package `wrk`; install it with `apt-get install wrk`), which costs far less CPU
than a Python load generator on the same two cores. After the 202 scenario it measures how long
the committer takes to drain, and checks that every accepted message was stored exactly once.
Prints one table; nothing is asserted.

    .venv/bin/python bench/send.py                         # PostgreSQL + Redis, 1 worker
    .venv/bin/python bench/send.py --workers 2             # two processes on one machine
    .venv/bin/python bench/send.py --backend sqlite        # the embedded default
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("PARLEY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("PARLEY_BENCH_REDIS", "redis://127.0.0.1:6379/0")

LUA_TEMPLATE = """
local tokens = {tokens}
local conversations = {conversations}
local path = "{path}"
local counter = 0
local tag = ""
function init(args)
  math.randomseed(os.time() + tonumber(string.sub(tostring({{}}), 8), 16))
  tag = "{scenario}-" .. math.random(1, 2000000000)
end
function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local headers = {{["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}}
  if path == "/users/me" then
    return wrk.format("GET", path, headers)
  end
  local conversation = conversations[(counter % #conversations) + 1]
  local body = '{{"conversationId":"' .. conversation .. '","content":"benchmark message ' ..
    counter .. '","clientMessageId":"' .. tag .. '-' .. counter .. '"}}'
  return wrk.format("POST", path, headers, body)
end
"""


@dataclass
class Result:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    drain_ms: float = 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _postgres(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES + "/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def start_server(
    backend: str,
    workers: int,
    *,
    command_prefix: Sequence[str] = (),
    checkout: Path = ROOT,
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """Start `parley serve` on a fresh database; `command_prefix` runs it under e.g. `taskset`,
    `checkout` is the tree whose `.venv` runs (another commit, for before/after in one run;
    without a `.venv` of its own, this one's runs its sources) and
    `extra_env` overrides settings (a variant)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    data_dir = tempfile.mkdtemp(prefix="parley-bench-")
    # The hourly limit is lifted (the limiter still runs: its cost is part of the figures);
    # each conversation allows 10,000 per member per minute. The benchmarks register hundreds
    # of users from one address and open many sockets per user: those limits are lifted too.
    env.update(
        PARLEY_DATA_DIR=data_dir,
        LOG_LEVEL="WARNING",
        RATE_LIMIT_MESSAGES_PER_HOUR="1000000000",
        AUTH_RATE_LIMIT_PER_ADDRESS="1000000000",
        WS_MAX_CONNECTIONS_PER_USER="1000000",
    )
    cleanup = {"data_dir": data_dir}
    if backend == "postgres":
        database = f"parley_bench_{secrets.token_hex(4)}"
        asyncio.run(_postgres(f'CREATE DATABASE "{database}"'))
        prefix = f"parley-bench-{secrets.token_hex(4)}:"
        env.update(
            DATABASE_URL=f"{POSTGRES}/{database}",
            REDIS_URL=REDIS,
            REDIS_KEY_PREFIX=prefix,
            JWT_SECRET=secrets.token_urlsafe(48),
            ENCRYPTION_KEYS=f"bench:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        )
        cleanup.update(database=database, prefix=prefix)
    env.update(extra_env or {})
    venv = checkout / ".venv"
    if not venv.exists():  # a bare worktree of another commit: this venv, its sources
        venv = ROOT / ".venv"
        env["PYTHONPATH"] = str(checkout)
    port = _free_port()
    process = subprocess.Popen(
        [
            *command_prefix,
            str(venv / "bin" / "parley"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=checkout,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url, cleanup
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def stop_server(process: subprocess.Popen[bytes], cleanup: dict[str, str]) -> None:
    process.terminate()
    process.wait(timeout=30)
    if "database" in cleanup:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{cleanup["database"]}" WITH (FORCE)'))
        import redis

        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=cleanup["prefix"] + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
    shutil.rmtree(cleanup["data_dir"], ignore_errors=True)


async def setup(url: str, users: int, conversations: int) -> tuple[list[str], list[str]]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def register(index: int) -> tuple[str, str]:
            response = await client.post(
                "/auth/register",
                json={
                    "username": f"bench{index}_{secrets.token_hex(3)}",
                    "password": "benchmark-pw",
                },
            )
            response.raise_for_status()
            body = response.json()
            return body["user"]["id"], body["accessToken"]

        registered = await asyncio.gather(*(register(i) for i in range(users)))
        ids = [user_id for user_id, _ in registered]
        tokens = [token for _, token in registered]
        conversation_ids = []
        for index in range(conversations):
            response = await client.post(
                "/conversations",
                json={
                    "type": "GROUP",
                    "name": f"bench-{index}",
                    "participantIds": ids,
                    "rateLimit": 10000,
                },
                headers={"Authorization": f"Bearer {tokens[0]}"},
            )
            response.raise_for_status()
            conversation_ids.append(response.json()["id"])
        return tokens, conversation_ids


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if match is None:
        return float("nan")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str,
    name: str,
    path: str,
    tokens: list[str],
    conversations: list[str],
    seconds: int,
    connections: int,
) -> Result:
    script = LUA_TEMPLATE.format(
        tokens="{" + ",".join(json.dumps(t) for t in tokens) + "}",
        conversations="{" + ",".join(json.dumps(c) for c in conversations) + "}",
        path=path,
        scenario=re.sub(r"\W", "", name)[:12],
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                handle.name,
                url + path.split("?")[0] + ("?" + path.split("?")[1] if "?" in path else ""),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p50 = _ms(re.search(r"50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    max_ms = _ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    return Result(
        name, rate, p50, p99, max_ms, requests, int(errors_match.group(1)) if errors_match else 0
    )


async def drain_and_count(
    url: str, tokens: list[str], conversations: list[str]
) -> tuple[float, int]:
    """Time for everything accepted to commit, and the number of stored messages (with the
    eight drain sends)."""
    headers = {"Authorization": f"Bearer {tokens[0]}"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        started = time.perf_counter()
        # Commits are FIFO per process: one wait=true send per worker process would be exact;
        # a few cover every worker with high probability, and the count below checks it.
        await asyncio.gather(
            *(
                client.post(
                    "/messages",
                    params={"wait": "true"},
                    headers=headers,
                    json={"conversationId": conversations[0], "content": "drain"},
                )
                for _ in range(8)
            )
        )
        drain_ms = (time.perf_counter() - started) * 1000
        total = 0
        for conversation_id in conversations:
            response = await client.get(f"/conversations/{conversation_id}", headers=headers)
            total += response.json()["messageCount"]
        return drain_ms, total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/send.py needs wrk: apt-get install wrk")
    process, url, cleanup = start_server(args.backend, args.workers)
    try:
        tokens, conversations = asyncio.run(setup(url, args.users, args.conversations))
        run = lambda name, path, seconds=args.seconds, connections=args.connections: run_wrk(  # noqa: E731
            url, name, path, tokens, conversations, seconds, connections
        )
        run("warm-up", "/messages", 2)
        before = asyncio.run(drain_and_count(url, tokens, conversations))[1]
        reference = run("reference GET /users/me", "/users/me")
        optimistic = run("send 202 (optimistic)", "/messages")
        drain_ms, stored = asyncio.run(drain_and_count(url, tokens, conversations))
        optimistic.drain_ms = drain_ms
        accepted = optimistic.requests - optimistic.errors
        stored_now = stored - before - 8  # minus this drain's own eight sends
        durable = run("send 201 (wait=true)", "/messages?wait=true")
        single_ack = run("send 202, 1 connection", "/messages", connections=1)
        single = run("send 201, 1 connection", "/messages?wait=true", connections=1)
        results = [reference, optimistic, durable, single_ack, single]
    finally:
        stop_server(process, cleanup)

    print(
        f"\nParley REST send benchmark: backend={args.backend}, workers={args.workers}, "
        f"connections={args.connections}, {args.seconds}s per scenario, users={args.users}, "
        f"conversations={args.conversations}, cpus={os.cpu_count()} (wrk on the same machine)"
    )
    print(
        f"{'scenario':<26}{'req/s':>8}{'x ref':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'errors':>8}"
    )
    for result in results:
        print(
            f"{result.name:<26}{result.rate:>8.0f}{result.rate / reference.rate:>7.2f}"
            f"{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}{result.max_ms:>9.1f}{result.errors:>8}"
        )
    # wrk does not count the requests still in flight when it stops, but they were sent.
    in_flight = stored_now - accepted
    verdict = "none lost" if 0 <= in_flight <= args.connections else "MISMATCH"
    durable_rate = stored_now / (args.seconds + optimistic.drain_ms / 1000)
    print(
        f"202 path: {accepted} answered 2xx, {stored_now} stored after drain ({verdict}; "
        f"{in_flight} more were in flight when wrk stopped); drain took "
        f"{optimistic.drain_ms:.0f} ms, so {durable_rate:.0f} messages/s were made durable"
    )


if __name__ == "__main__":
    main()
