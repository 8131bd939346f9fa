"""What the metrics cost on the hot path: `python -m bench.metrics_overhead`.

1. Redis round trips counted by the connection class (`core.redis_pool`): sequential GETs of a
   missing key on the local Redis through a plain pool and through a counting one, interleaved,
   repeated; prints microseconds per command and the ratio; then the wrapper alone around a
   stub send, which is the added cost free of the network's noise.
2. The instrumentation calls a send makes (counter adds, histogram observes, the HTTP child
   lookup), in a process of its own, without and with PROMETHEUS_MULTIPROC_DIR (the mmap-backed
   values of `--workers`); prints microseconds per call.

Figures on a shared 2-core machine are noisy: compare the ratios of one run, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from parley.core.redis_pool import count_round_trips, counting_connection_class

REDIS_URL = os.environ.get("PARLEY_BENCH_REDIS", "redis://127.0.0.1:6379/0")


async def _gets(client: Redis, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await client.get("parley-bench:metrics-overhead:missing")
    return (time.perf_counter() - started) / count * 1e6


async def redis_overhead(count: int, repeats: int) -> None:
    plain = Redis.from_pool(ConnectionPool.from_url(REDIS_URL))
    counted_pool = ConnectionPool.from_url(REDIS_URL)
    count_round_trips(counted_pool, "app")
    counted = Redis.from_pool(counted_pool)
    await _gets(plain, 200)  # connect and warm up both
    await _gets(counted, 200)
    plain_runs, counted_runs = [], []
    for _ in range(repeats):
        plain_runs.append(await _gets(plain, count))
        counted_runs.append(await _gets(counted, count))
    await plain.aclose()
    await counted.aclose()
    p, c = statistics.median(plain_runs), statistics.median(counted_runs)
    print(f"redis GET, plain connection:    {p:7.1f} us  (runs: {_fmt(plain_runs)})")
    print(f"redis GET, counting connection: {c:7.1f} us  (runs: {_fmt(counted_runs)})")
    print(f"ratio counting / plain: {c / p:.3f} (median of {repeats} runs of {count})")


async def wrapper_overhead(count: int = 200_000) -> None:
    """The counting wrapper alone, around a send that does nothing: what it adds per round
    trip, free of the network's noise."""

    class Stub(Connection):
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            return None

    counted = counting_connection_class(Stub, "app")
    best = {}
    for name, cls in (("plain", Stub), ("counting", counted)):
        connection = cls()
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(count):
                await connection.send_packed_command(b"")
            runs.append((time.perf_counter() - started) / count * 1e6)
        best[name] = min(runs)
    added = best["counting"] - best["plain"]
    print(
        f"counting wrapper alone: +{added:.2f} us per round trip "
        f"(stub send: {best['plain']:.2f} us)"
    )


def _fmt(runs: list[float]) -> str:
    return ", ".join(f"{run:.1f}" for run in runs)


_CALLS = """
import timeit
from parley.core import metrics
count = 200_000
calls = {
    "counter inc (sends accepted)": lambda: metrics.SENDS_ACCEPTED.inc(),
    "histogram observe (commit latency)": lambda: metrics.SEND_COMMIT_SECONDS.observe(0.004),
    "http_request (route lookup + observe)": lambda: metrics.http_request(
        "/messages", "POST", 202, 0.004
    ),
    "cache hit (layer from the key)": lambda: counters.hit("member:abc:def"),
}
counters = metrics.CacheLayerCounters("redis", metrics.CACHE_LAYERS)
for name, call in calls.items():
    best = min(timeit.repeat(call, number=count, repeat=5)) / count * 1e6
    print(f"  {name:40s} {best:6.2f} us")
"""


def call_overhead() -> None:
    for mode in ("single process", "multiprocess (mmap)"):
        env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory(prefix="parley-bench-metrics-") as directory:
            if mode.startswith("multi"):
                env["PROMETHEUS_MULTIPROC_DIR"] = directory
            print(f"instrumentation calls, {mode}:")
            subprocess.run([sys.executable, "-c", _CALLS], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000, help="GETs per run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(redis_overhead(args.count, args.repeats))
    asyncio.run(wrapper_overhead())
    call_overhead()


if __name__ == "__main__":
    main()
