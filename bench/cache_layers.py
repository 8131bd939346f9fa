"""What each cache layer saves: server CPU and latency of a request with the layer's entries
present (a hit) and with them deleted just before (a miss), issue 11 point 6.

Starts one `parley serve` on PostgreSQL + Redis (bench/send.py's `start_server`), registers
two users in a group, then sends `--requests` REST messages (`POST /messages`) one after the
other in phases:

- `all hits`: every cache entry present (the steady state; W1 shows > 99 % hits);
- `<layer> missed`: before each request that layer's keys for the caller are deleted in
  Redis, so the server goes to PostgreSQL for them and refills them (`conversation` +
  `member`: the send path's access check; `user`: the token's user);
- `all missed`: all of them at once.

Per phase it prints the server's CPU per request (utime + stime from /proc/<pid>/stat over
the phase, divided by the requests: steadier than wall time on a shared machine) and the
request latency p50 / p99 as the client saw it. The phases alternate `--rounds` times and the
medians are printed. The deletes are done by the benchmark between requests, not timed.
Nothing is asserted.

    .venv/bin/python -m bench.cache_layers
    .venv/bin/python -m bench.cache_layers --requests 500 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Callable

import httpx
import redis.asyncio as redis

from bench.send import REDIS, setup, start_server, stop_server
from bench.w1 import percentile, process_cpu_seconds

Keys = Callable[[str, str, str], list[str]]  # (prefix, user id, conversation id) -> keys

LAYERS: dict[str, Keys] = {
    "conversation+member": lambda prefix, user, conversation: [
        f"{prefix}conversation:{conversation}",
        f"{prefix}member:{conversation}:{user}",
    ],
    "user": lambda prefix, user, _: [f"{prefix}user:{user}"],
}


async def _phase(
    http: httpx.AsyncClient,
    store: redis.Redis,
    *,
    pid: int,
    token: str,
    conversation: str,
    keys: list[str],
    requests: int,
) -> tuple[float, float, float]:
    """CPU ms per request, latency p50 and p99 ms."""
    latencies: list[float] = []
    cpu = 0.0
    headers = {"Authorization": f"Bearer {token}"}
    for index in range(requests):
        if keys:
            await store.delete(*keys)
        before = process_cpu_seconds(pid) or 0.0
        started = time.perf_counter()
        response = await http.post(
            "/messages",
            json={
                "conversationId": conversation,
                "content": f"cache bench {index}",
                "clientMessageId": secrets.token_hex(8),
            },
            headers=headers,
        )
        latencies.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
        cpu += (process_cpu_seconds(pid) or 0.0) - before
    return 1000 * cpu / requests, percentile(latencies, 0.5), percentile(latencies, 0.99)


async def run(url: str, pid: int, prefix: str, requests: int, rounds: int) -> None:
    tokens, conversations = await setup(url, 2, 1)
    conversation = conversations[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        me = (await http.get("/users/me", headers={"Authorization": f"Bearer {tokens[0]}"})).json()
        user = me["id"]
        phases: dict[str, list[str]] = {"all hits": []}
        for layer, keys in LAYERS.items():
            phases[f"{layer} missed"] = keys(prefix, user, conversation)
        phases["all missed"] = [key for keys in list(phases.values())[1:] for key in keys]
        store = redis.Redis.from_url(REDIS)
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in phases}
        try:
            for _ in range(rounds):
                for name, keys in phases.items():
                    figures[name].append(
                        await _phase(
                            http,
                            store,
                            pid=pid,
                            token=tokens[0],
                            conversation=conversation,
                            keys=keys,
                            requests=requests,
                        )
                    )
        finally:
            await store.aclose()
    print(f"\nREST send, one at a time, {requests} per phase, medians of {rounds} rounds")
    print(f"{'phase':<28}{'cpu ms/req':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for name, runs in figures.items():
        cpu, p50, p99 = (statistics.median(values) for values in zip(*runs, strict=True))
        print(f"{name:<28}{cpu:>12.2f}{p50:>9.2f}{p99:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    process, url, cleanup = start_server("postgres", 1)
    try:
        prefix = cleanup["prefix"] + "cache:"  # RedisCache's keys (parley/core/cache.py)
        asyncio.run(run(url, process.pid, prefix, args.requests, args.rounds))
    finally:
        stop_server(process, cleanup)


if __name__ == "__main__":
    main()
