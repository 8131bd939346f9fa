"""Where /metrics is served: behind METRICS_TOKEN, on METRICS_PORT instead of the API, and
aggregated over the workers of `parley serve --workers 2`."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, start_server
from tests.metrics.support import Samples, scrape, until, value
from tests.support import Server, assert_error, create_conversation, register, send

TOKEN = "metrics-token-for-the-tests"


@pytest.fixture(scope="module")
def token_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"METRICS_TOKEN": TOKEN})
    yield running
    running.stop()


async def test_token_gate_refuses_scrapes_without_the_token(token_server: Server) -> None:
    async with httpx.AsyncClient(base_url=token_server.url, timeout=30) as http:
        assert_error(await http.get("/metrics"), 401, "UNAUTHORIZED")
        assert_error(
            await http.get("/metrics", headers={"Authorization": "Bearer not-the-token"}),
            401,
            "UNAUTHORIZED",
        )
        samples = await scrape(http, headers={"Authorization": f"Bearer {TOKEN}"})
    assert value(samples, "parley_db_pool_connections", state="size") >= 1


@pytest.fixture(scope="module")
def port_server(backend_env: dict[str, str]) -> Iterator[tuple[Server, int]]:
    running = start_server(
        backend_env,
        {"METRICS_HOST": "127.0.0.1", "METRICS_TOKEN": TOKEN},
        port_variables=("METRICS_PORT",),
    )
    yield running, running.ports["METRICS_PORT"]
    running.stop()


async def test_separate_port_serves_metrics_there_and_not_on_the_api(
    port_server: tuple[Server, int],
) -> None:
    server, port = port_server
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert_error(await http.get("/metrics"), 404, "NOT_FOUND")
        user = await register(http, "scraped")
        conversation = await create_conversation(http, user, [])
        await send(http, user, conversation["id"], "counted on the other port")

        assert (await http.get(metrics_url)).status_code == 401
        samples = await until(
            http,
            lambda s: value(s, "parley_sends_total", outcome="committed") >= 1,
            url=metrics_url,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    labels = {"route": "/messages", "method": "POST", "status": "2xx"}
    assert value(samples, "parley_http_request_duration_seconds_count", **labels) >= 1


def _workers(server: Server) -> set[int]:
    """The worker processes uvicorn spawned under `parley serve`."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = set()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited between the listing and this read (the killed worker)
        if b"spawn_main" in command:
            workers.add(int(child))
    return workers


POOL_SIZE = 3
# A worker's start (imports, lifespan) takes seconds on a busy machine, and uvicorn replaces a
# worker that misses its health check meanwhile.
WORKER_START_SECONDS = 60


@pytest.fixture(scope="module")
def two_workers(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"DB_POOL_SIZE": str(POOL_SIZE)}, ["--workers", "2"])
    yield running
    running.stop()


@pytest.fixture
async def workers_client(two_workers: Server) -> AsyncIterator[httpx.AsyncClient]:
    # A fresh connection per request: the kernel spreads them over both workers.
    async with httpx.AsyncClient(
        base_url=two_workers.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    ) as http:
        yield http


def _reporting(samples: Samples) -> set[int]:
    """The pids of the workers whose `parley_worker_up` is in the scrape."""
    return {
        int(dict(labels)["pid"])
        for (name, labels), up in samples.items()
        if name == "parley_worker_up" and up == 1
    }


def _pool_size(samples: Samples) -> float:
    return value(samples, "parley_db_pool_connections", state="size")


@pytest.mark.skipif(BACKEND != "postgres", reason="--workers above 1 needs PostgreSQL and Redis")
async def test_two_workers_are_aggregated(
    two_workers: Server, workers_client: httpx.AsyncClient
) -> None:
    http = workers_client
    user = await register(http, "aggregated")
    conversation = await create_conversation(http, user, [])
    before = await scrape(http)
    sends = 20
    for index in range(sends):
        await send(http, user, conversation["id"], f"message {index}")

    # Every worker's pool is in the sum (each sets its gauge as it starts), and every send
    # is counted whichever worker took it.
    await until(
        http,
        lambda s: (
            _pool_size(s) == 2 * POOL_SIZE
            and len(_reporting(s)) == 2
            and value(s, "parley_sends_total", outcome="committed")
            - value(before, "parley_sends_total", outcome="committed")
            == sends
        ),
        seconds=WORKER_START_SECONDS,
    )


@pytest.mark.skipif(BACKEND != "postgres", reason="--workers above 1 needs PostgreSQL and Redis")
async def test_a_dead_workers_gauges_leave_the_sum(
    two_workers: Server, workers_client: httpx.AsyncClient
) -> None:
    http = workers_client
    await until(http, lambda s: _pool_size(s) == 2 * POOL_SIZE, seconds=WORKER_START_SECONDS)
    workers = _workers(two_workers)
    assert len(workers) == 2
    victim = min(workers)

    os.kill(victim, signal.SIGKILL)

    # uvicorn starts a replacement; the killed worker's live gauges are dropped at the next
    # scrape: the workers listed are the living ones, and the sum counts two pools, not three.
    def replaced(samples: Samples) -> bool:
        current = _workers(two_workers)
        return (
            len(current) == 2
            and victim not in current
            and _reporting(samples) == current
            and _pool_size(samples) == 2 * POOL_SIZE
        )

    await until(http, replaced, seconds=WORKER_START_SECONDS)
    assert victim not in _reporting(await scrape(http))


@pytest.mark.skipif(BACKEND != "postgres", reason="--workers above 1 needs PostgreSQL and Redis")
def test_multiprocess_directory_is_removed_at_exit(backend_env: dict[str, str]) -> None:
    running = start_server(backend_env, {"DB_POOL_SIZE": "1"}, ["--workers", "2"])
    worker = min(_workers(running))
    entries = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    directory = next(
        entry.split(b"=", 1)[1].decode()
        for entry in entries
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR=")
    )
    assert Path(directory).is_dir()

    running.stop()

    assert not Path(directory).exists()
