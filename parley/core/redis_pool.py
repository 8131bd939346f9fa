"""A Redis connection pool that waits for a free connection only when it has to.

redis-py 8's `ConnectionPool` fails with "Too many connections" once `max_connections` are in
use (seen when 10,000 sockets connect at once), and its `BlockingConnectionPool` waits
correctly but takes a lock and a timeout for every command, which cost 15 % of the send
path's throughput (docs/benchmarks.md). This pool keeps the plain pool's path while a
connection is free and waits, up to `timeout` seconds, only when none is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from parley.core import metrics

# How long a request waits for a free Redis connection when the pool is busy.
POOL_WAIT_SECONDS = 5
# A pooled Redis connection idle for longer than this is PINGed before its next command.
HEALTH_CHECK_SECONDS = 10


class WaitingConnectionPool(ConnectionPool):
    def __init__(self, *, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wait_timeout = timeout
        self._released = asyncio.Event()

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_timeout
        while True:
            try:
                return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]
            except MaxConnectionsError:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise RedisConnectionError("No connection available.") from None
                self._released.clear()
                try:
                    await asyncio.wait_for(self._released.wait(), remaining)
                except TimeoutError:
                    raise RedisConnectionError("No connection available.") from None

    async def release(self, connection: AbstractConnection) -> None:
        await super().release(connection)
        self._released.set()


_counted: dict[tuple[type[AbstractConnection], str], type[AbstractConnection]] = {}


def counting_connection_class(
    base: type[AbstractConnection], client: str
) -> type[AbstractConnection]:
    """`base` (plain, TLS or Unix socket connection) counting each command or pipeline it
    sends in `parley_redis_round_trips_total{client}`: one add per round trip, nothing else."""
    counted = _counted.get((base, client))
    if counted is None:
        round_trips = metrics.REDIS_ROUND_TRIPS.labels(client)

        async def send_packed_command(
            self: AbstractConnection, command: Any, check_health: bool = True
        ) -> None:
            round_trips.inc()
            await base.send_packed_command(self, command, check_health)

        counted = type(base.__name__, (base,), {"send_packed_command": send_packed_command})
        _counted[(base, client)] = counted
    return counted


def count_round_trips(pool: ConnectionPool, client: str) -> None:
    """Make the connections `pool` opens from now on count their round trips."""
    pool.connection_class = counting_connection_class(pool.connection_class, client)


def open_client(url: str, *, password: str | None, max_connections: int, client: str) -> Redis:
    """A Redis client on a waiting pool whose round trips count as `client` in /metrics.

    Bursts (thousands of sockets connecting at once) wait for a free connection instead of
    failing with "Too many connections". A connection that died while idle (a Redis restart)
    is checked with a PING before use and, like any dropped connection, reopened and retried.
    """
    redis = Redis.from_pool(
        WaitingConnectionPool.from_url(
            url,
            password=password,
            max_connections=max_connections,
            timeout=POOL_WAIT_SECONDS,
            health_check_interval=HEALTH_CHECK_SECONDS,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
    )
    count_round_trips(redis.connection_pool, client)
    return redis
