"""REST send benchmark: throughput and latency of the optimistic (202) and wait=true (201)
paths, against a reference endpoint measured in the same run.

Starts its own `parley serve` on a fresh PostgreSQL database (and Redis key prefix), registers
users, makes group conversations, then for each scenario sends a fixed number of messages from
`--concurrency` concurrent clients. Prints one table; nothing is asserted.

    .venv/bin/python bench/send.py                      # PostgreSQL + Redis (default)
    .venv/bin/python bench/send.py --backend sqlite     # the embedded default
    .venv/bin/python bench/send.py --messages 4000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PARLEY = ROOT / ".venv" / "bin" / "parley"
POSTGRES = os.environ.get("PARLEY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("PARLEY_BENCH_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    drain_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _postgres(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES + "/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(backend: str) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    data_dir = tempfile.mkdtemp(prefix="parley-bench-")
    env.update(PARLEY_DATA_DIR=data_dir, LOG_LEVEL="WARNING")
    cleanup: dict[str, str] = {"data_dir": data_dir}
    if backend == "postgres":
        database = f"parley_bench_{secrets.token_hex(4)}"
        asyncio.run(_postgres(f'CREATE DATABASE "{database}"'))
        prefix = f"parley-bench-{secrets.token_hex(4)}:"
        env.update(
            DATABASE_URL=f"{POSTGRES}/{database}",
            REDIS_URL=REDIS,
            REDIS_KEY_PREFIX=prefix,
            JWT_SECRET=secrets.token_urlsafe(48),
        )
        cleanup.update(database=database, prefix=prefix)
    port = _free_port()
    process = subprocess.Popen(
        [str(PARLEY), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT
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
        keys = list(client.scan_iter(match=cleanup["prefix"] + "*"))
        if keys:
            client.delete(*keys)
    subprocess.run(["rm", "-rf", cleanup["data_dir"]], check=False)


async def setup(url: str, users: int, conversations: int) -> tuple[list[dict[str, str]], list[str]]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def register(index: int) -> tuple[str, dict[str, str]]:
            response = await client.post(
                "/auth/register",
                json={
                    "username": f"bench{index}_{secrets.token_hex(3)}",
                    "password": "benchmark-pw",
                },
            )
            response.raise_for_status()
            body = response.json()
            return body["user"]["id"], {"Authorization": f"Bearer {body['accessToken']}"}

        registered = await asyncio.gather(*(register(i) for i in range(users)))
        ids = [user_id for user_id, _ in registered]
        headers = [h for _, h in registered]
        conversation_ids = []
        for index in range(conversations):
            response = await client.post(
                "/conversations",
                json={"type": "GROUP", "name": f"bench-{index}", "participantIds": ids},
                headers=headers[0],
            )
            response.raise_for_status()
            conversation_ids.append(response.json()["id"])
        return headers, conversation_ids


async def run_scenario(
    url: str,
    name: str,
    headers: list[dict[str, str]],
    conversation_ids: list[str],
    total: int,
    concurrency: int,
    wait: bool,
    reference: bool = False,
) -> Result:
    latencies: list[float] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker(worker_index: int) -> None:
            user_headers = headers[worker_index % len(headers)]
            for index in counter:
                started = time.perf_counter()
                if reference:
                    response = await client.get("/users/me", headers=user_headers)
                else:
                    response = await client.post(
                        "/messages",
                        params={"wait": "true"} if wait else None,
                        json={
                            "conversationId": conversation_ids[index % len(conversation_ids)],
                            "content": f"message {index} from the benchmark",
                            "clientMessageId": f"{name}-{index}",
                        },
                        headers=user_headers,
                    )
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code >= 300:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        seconds = time.perf_counter() - started
        drain_ms = 0.0
        if not reference and not wait:
            # Time until everything accepted is durable: commits are FIFO per process.
            drain_started = time.perf_counter()
            response = await client.post(
                "/messages",
                params={"wait": "true"},
                json={"conversationId": conversation_ids[0], "content": "drain"},
                headers=headers[0],
            )
            response.raise_for_status()
            drain_ms = (time.perf_counter() - drain_started) * 1000
            seconds += drain_ms / 1000
    return Result(name, total, seconds, latencies, drain_ms)


def print_table(results: list[Result], reference: Result, args: argparse.Namespace) -> None:
    print(
        f"\nParley REST send benchmark: backend={args.backend}, messages={args.messages}, "
        f"concurrency={args.concurrency}, users={args.users}, "
        f"conversations={args.conversations}, cpus={os.cpu_count()}"
    )
    print(
        f"{'scenario':<28}{'req/s':>9}{'x ref':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'drain ms':>10}"
    )
    for result in [reference, *results]:
        print(
            f"{result.name:<28}{result.rate:>9.0f}{result.rate / reference.rate:>7.2f}"
            f"{result.percentile(0.5):>9.1f}{result.percentile(0.99):>9.1f}"
            f"{max(result.latencies_ms):>9.1f}{result.drain_ms:>10.1f}"
        )
    print("req/s for the 202 path counts until every accepted message is committed (drain).")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=8)
    args = parser.parse_args()
    process, url, cleanup = start_server(args.backend)
    try:
        headers, conversation_ids = asyncio.run(setup(url, args.users, args.conversations))

        async def scenarios() -> tuple[Result, list[Result]]:
            # Warm-up: fills the access cache and the connection pools.
            await run_scenario(
                url, "warmup", headers, conversation_ids, 200, args.concurrency, wait=False
            )
            reference = await run_scenario(
                url,
                "reference GET /users/me",
                headers,
                conversation_ids,
                args.messages,
                args.concurrency,
                wait=False,
                reference=True,
            )
            optimistic = await run_scenario(
                url,
                "send 202 (optimistic)",
                headers,
                conversation_ids,
                args.messages,
                args.concurrency,
                wait=False,
            )
            durable = await run_scenario(
                url,
                "send 201 (wait=true)",
                headers,
                conversation_ids,
                args.messages,
                args.concurrency,
                wait=True,
            )
            single = await run_scenario(
                url,
                "send 201, one client",
                headers,
                conversation_ids,
                min(args.messages, 500),
                1,
                wait=True,
            )
            return reference, [optimistic, durable, single]

        reference, results = asyncio.run(scenarios())
        print_table(results, reference, args)
    finally:
        stop_server(process, cleanup)


if __name__ == "__main__":
    sys.exit(main())
