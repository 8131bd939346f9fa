"""REDIS_CACHE_URL: the pure cache keys live in a second Redis that may evict them all, while
what nothing else holds (revoked tokens) stays in REDIS_URL's (docs/deployment.md, Redis
configuration). The cache Redis here is a private redis-server with the specification's
eviction policy; FLUSHALL stands for the worst eviction it can do."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import BACKEND, own_storage, start_server
from tests.ports import free_port
from tests.support import (
    PASSWORD,
    assert_error,
    create_conversation,
    read_all,
    register,
    send,
)

REDIS_SERVER = shutil.which("redis-server")

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgres", reason="two Redis servers: PostgreSQL + Redis run"),
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
]


@contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own (allkeys-lru, no snapshots), on a port it holds."""
    assert REDIS_SERVER is not None
    directory = tempfile.mkdtemp(prefix="parley-redis-cache-")
    for _attempt in range(5):
        port = free_port()
        process = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", directory),
                *("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru", "--save", ""),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _serves(port, process):
            break
        process.kill()
        process.wait()
    else:
        raise RuntimeError("no redis-server of this test's own came up")
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _serves(port: int, process: subprocess.Popen[bytes]) -> bool:
    """True once the server on `port` is `process` (its INFO names its pid), False if it
    exited (the port was taken between free_port() and the bind)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        result = subprocess.run(
            ["redis-cli", "-p", str(port), "info", "server"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if f"process_id:{process.pid}" in result.stdout:
            return True
        time.sleep(0.05)
    return False


async def _keys(redis: Redis, pattern: str) -> list[str]:
    return [key async for key in redis.scan_iter(match=pattern, count=1000)]


@dataclass
class Split:
    url: str
    main_url: str
    cache_url: str
    prefix: str
    cache_process: subprocess.Popen[bytes]


@pytest.fixture
def split_server(backend_env: dict[str, str]) -> Iterator[Split]:
    with private_redis() as (cache_url, cache_process), own_storage(backend_env, "split") as env:
        server = start_server(env, {"REDIS_CACHE_URL": cache_url})
        try:
            yield Split(
                server.url, env["REDIS_URL"], cache_url, env["REDIS_KEY_PREFIX"], cache_process
            )
        finally:
            server.stop()


@pytest.fixture
async def split(
    split_server: Split,
) -> AsyncIterator[tuple[httpx.AsyncClient, Redis, Redis, str, subprocess.Popen[bytes]]]:
    main = Redis.from_url(split_server.main_url, decode_responses=True)
    cache = Redis.from_url(split_server.cache_url, decode_responses=True)
    try:
        async with httpx.AsyncClient(base_url=split_server.url, timeout=10) as client:
            yield client, main, cache, split_server.prefix, split_server.cache_process
    finally:
        await main.aclose()
        await cache.aclose()


async def test_evicting_every_cache_key_keeps_revoked_tokens_revoked(
    split: tuple[httpx.AsyncClient, Redis, Redis, str, subprocess.Popen[bytes]],
) -> None:
    client, main, cache, prefix, _ = split
    alice, bob = await register(client, "split_alice"), await register(client, "split_bob")
    login = await client.post(
        "/auth/login", json={"username": alice.username, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    second = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "before", clientMessageId=secrets.token_hex(8))
    assert (await client.get("/users/me", headers=alice.headers)).status_code == 200

    # The cache entries went to the cache Redis, none to the main one.
    assert await _keys(cache, f"{prefix}cache:user:{alice.id}")
    assert await _keys(cache, f"{prefix}cache:member:*")
    assert await _keys(cache, f"{prefix}cache:sent:*")  # the idempotency ledger
    assert not await _keys(main, f"{prefix}cache:user:*")
    assert not await _keys(main, f"{prefix}cache:member:*")
    # Rate limits stay in the main Redis.
    assert await _keys(main, f"{prefix}limits:*")
    assert not await _keys(cache, f"{prefix}limits:*")

    # A logout's deny-list entry goes to the main Redis only.
    response = await client.post("/auth/logout", headers=alice.headers)
    assert response.status_code == 204, response.text
    assert await _keys(main, f"{prefix}cache:revoked-token:*")
    assert not await _keys(cache, f"{prefix}cache:revoked-token:*")

    # The cache Redis loses everything: the logged-out token stays refused, the rest works.
    await cache.flushall()
    assert_error(await client.get("/users/me", headers=alice.headers), 401, "INVALID_TOKEN")
    assert (await client.get("/users/me", headers=second)).status_code == 200
    response = await client.post(
        "/messages",
        params={"wait": "true"},
        json={"conversationId": conversation["id"], "content": "after"},
        headers=second,
    )
    assert response.status_code == 201, response.text
    messages = await read_all(client, bob, conversation["id"])
    assert [message["content"] for message in messages] == ["before", "after"]
    assert await _keys(cache, f"{prefix}cache:user:{alice.id}")  # filled again

    health = await client.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["redisCache"]["status"] == "ok"


async def test_a_cache_redis_down_degrades_to_misses(
    split: tuple[httpx.AsyncClient, Redis, Redis, str, subprocess.Popen[bytes]],
) -> None:
    client, _main, _cache, _prefix, cache_process = split
    alice, bob = await register(client, "split_down_a"), await register(client, "split_down_b")
    conversation = await create_conversation(client, alice, [bob])
    response = await client.post("/auth/logout", headers=bob.headers)
    assert response.status_code == 204, response.text

    cache_process.kill()
    cache_process.wait()
    health = await client.get("/health")
    assert health.status_code == 503, health.text
    assert health.json()["checks"]["redisCache"]["status"] != "ok"
    assert health.json()["checks"]["redis"]["status"] == "ok"
    # Reads and sends go on from the database; the revoked token is still refused.
    await send(client, alice, conversation["id"], "while the cache is down")
    assert (await client.get("/users/me", headers=alice.headers)).status_code == 200
    assert_error(await client.get("/users/me", headers=bob.headers), 401, "INVALID_TOKEN")
