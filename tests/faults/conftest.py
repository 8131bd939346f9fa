"""What the fault tests share: a private Redis to break (the machine's own is never paused or
stopped: other runs use it), a server of the run's database on it, and an HTTP client of that
server. A module that needs another kind of Redis (persistent, frozen) overrides
`private_redis`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import start_server
from tests.faults.services import PrivateRedis
from tests.support import Server


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    service = PrivateRedis()
    service.start()
    yield service
    service.cleanup()


@pytest.fixture
def redis_server(backend_env: dict[str, str], private_redis: PrivateRedis) -> Iterator[Server]:
    """A server on the run's database with the private Redis as its REDIS_URL (its log goes
    with the run's others: kept when a test failed, tests/conftest.py)."""
    running = start_server(backend_env, {"REDIS_URL": private_redis.url})
    yield running
    running.stop()


@pytest.fixture
async def http(redis_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=redis_server.url, timeout=30) as client:
        yield client
