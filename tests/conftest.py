"""Test fixtures: a real `parley serve` process on a free port, on the backend chosen by
PARLEY_TEST_BACKEND (`sqlite`: the embedded default; `postgres`: the machine's PostgreSQL in a
fresh database, plus Redis under a fresh key prefix). Both are cleaned up afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from parley.core.crypto import new_key_spec
from tests import ports
from tests.ports import serve_on_free_port
from tests.realtime.sockets import Connect, Recorder
from tests.support import Server, User, register

BACKEND = os.environ.get("PARLEY_TEST_BACKEND", "sqlite")
# PostgreSQL with the messages table hash-partitioned by conversation (tests/scaling).
PARTITIONED = os.environ.get("PARLEY_TEST_PARTITIONED") == "1"
POSTGRES_ADMIN_URL = os.environ.get("PARLEY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
# The scripts of the environment running the tests (.venv, or another one made with
# `make test VENV=... PYTHON=...` for another Python version).
BIN = Path(sys.executable).parent
PARLEY = str(BIN / "parley") if (BIN / "parley").exists() else "parley"


async def _postgres(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL + "/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _drop_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _partition_messages(env: dict[str, str]) -> None:
    """Migrate the run's fresh database, then make its messages table partitioned
    (tests/scaling/partition_messages.sql): the servers find the schema at head."""
    subprocess.run([PARLEY, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    sql = (ROOT / "tests" / "scaling" / "partition_messages.sql").read_text()

    async def apply() -> None:
        import asyncpg

        connection = await asyncpg.connect(env["DATABASE_URL"])
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(apply())


@contextmanager
def own_storage(env: dict[str, str], name: str) -> Iterator[dict[str, str]]:
    """`env` with a data directory, and on PostgreSQL a database and a Redis key prefix, of its
    own (for a test that must not share the run's); all three removed afterwards."""
    data_dir = tempfile.mkdtemp(prefix=f"parley-{name}-")
    own = {**env, "PARLEY_DATA_DIR": data_dir}
    database = prefix = None
    if "DATABASE_URL" in env:
        database = f"parley_test_{secrets.token_hex(6)}"
        prefix = f"parley-test-{name}-{secrets.token_hex(6)}:"
        asyncio.run(_postgres(f'CREATE DATABASE "{database}"'))
        own.update(DATABASE_URL=f"{POSTGRES_ADMIN_URL}/{database}", REDIS_KEY_PREFIX=prefix)
    try:
        yield own
    finally:
        if database is not None:
            asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        if prefix is not None:
            _drop_redis_prefix(prefix)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def backend_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Environment for server processes of this test run (same database for all of them)."""
    data_dir = tempfile.mkdtemp(prefix="parley-test-")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ENCRYPTION_KEYS"}
    }
    env.update(
        PARLEY_DATA_DIR=data_dir,
        PARLEY_SQL_COUNT_HEADER="1",
        LOG_LEVEL="WARNING",
        TYPING_TIMEOUT="2s",  # typing expiry tests wait for it (events, not sleeps)
        # The named users send thousands of messages over a run; tests/ratelimit starts its
        # own servers with the defaults and with small limits.
        RATE_LIMIT_MESSAGES_PER_HOUR="1000000",
        RATE_LIMIT_REPORTS_PER_HOUR="1000000",
        RATE_LIMIT_UPLOADS_PER_HOUR="1000000",
        # Every test registers and logs in from 127.0.0.1, and the named users open many
        # sockets; tests/security starts its own servers with small limits.
        AUTH_RATE_LIMIT_PER_ADDRESS="1000000",
        AUTH_RATE_LIMIT_PER_ACCOUNT="1000000",
        WS_MAX_CONNECTIONS_PER_USER="100000",
        # Thousands of registrations and logins: argon2's real cost (about 0.1 s of CPU each)
        # was a fifth of the suite's time. tests/unit/test_login_timing keeps the default.
        PASSWORD_HASH_PROFILE="CHEAPEST",
        # A server stopped with sockets still open hands them over within this (1 s more):
        # the default, 5 s, would slow the teardown of every such test (tests/shutdown).
        SHUTDOWN_RECONNECT_SPREAD="1s",
    )
    database = None
    prefix = None
    if BACKEND == "postgres":
        database = f"parley_test_{secrets.token_hex(6)}"
        asyncio.run(_postgres(f'CREATE DATABASE "{database}"'))
        prefix = f"parley-test-{secrets.token_hex(6)}:"
        env.update(
            DATABASE_URL=f"{POSTGRES_ADMIN_URL}/{database}",
            REDIS_URL=REDIS_URL,
            REDIS_KEY_PREFIX=prefix,
            JWT_SECRET=secrets.token_urlsafe(48),
            ENCRYPTION_KEYS=new_key_spec("test1"),
        )
        if PARTITIONED:
            _partition_messages(env)
    elif BACKEND != "sqlite":
        raise RuntimeError(f"PARLEY_TEST_BACKEND={BACKEND!r}: use sqlite or postgres")
    yield env
    if database is not None:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    if prefix is not None:
        _drop_redis_prefix(prefix)
    subprocess.run(["rm", "-rf", data_dir], check=False)
    # Kept when a test failed (the servers' side of it) or when asked to.
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ and not request.session.testsfailed:
        for log_path in _server_logs:
            Path(log_path).unlink(missing_ok=True)


def start_server(
    env: dict[str, str],
    extra_env: dict[str, str] | None = None,
    args: list[str] | None = None,
    *,
    port: int | None = None,
    port_variables: tuple[str, ...] = (),
) -> Server:
    """`parley serve` (plus `args`, e.g. `--workers 2`) on a free port, or on `port` (a server
    started again where it was), once healthy and listening there itself (tests/ports.py).
    Each of `port_variables` (e.g. METRICS_PORT) is set to another free port, chosen again
    whenever the API's is (`parley serve` exits if one is taken); `Server.ports` has them."""
    chosen: dict[str, int] = {}

    def launch(api_port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        chosen.clear()
        chosen.update((name, ports.free_port()) for name in port_variables)
        given = {name: str(value) for name, value in chosen.items()}
        return subprocess.Popen(
            [PARLEY, "serve", "--host", "127.0.0.1", "--port", str(api_port), *(args or [])],
            env={**env, **(extra_env or {}), **given},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    started = serve_on_free_port(
        "parley-server",
        launch,
        lambda url: httpx.get(url + "/health", timeout=1).status_code == 200,
        port=port,
    )
    _server_logs.append(started.log_path)
    return Server(
        url=started.url, process=started.process, log_path=started.log_path, ports=dict(chosen)
    )


def with_redis_prefix(env: dict[str, str], name: str) -> dict[str, str]:
    """`env` with a Redis key prefix `name` under the run's (PostgreSQL+Redis), so a server of
    a module's own keeps its rate-limit counts, caches and fan-out apart from the others'."""
    if "REDIS_KEY_PREFIX" not in env:
        return dict(env)
    return {**env, "REDIS_KEY_PREFIX": f"{env['REDIS_KEY_PREFIX']}{name}:"}


@contextmanager
def own_server(
    env: dict[str, str], name: str, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A server of a module's own (its settings in `extra_env`) on the run's database, with
    Redis key prefix `name` (with_redis_prefix); stopped afterwards."""
    running = start_server(with_redis_prefix(env, name), extra_env)
    try:
        yield running
    finally:
        running.stop()


# Every server's log, removed when the run ends unless a test failed (PARLEY_TEST_KEEP_LOGS=1
# keeps them always).
_server_logs: list[str] = []


@pytest.fixture(scope="session")
def server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env)
    yield running
    running.stop()


@pytest.fixture(scope="session")
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
async def users(client: httpx.AsyncClient) -> dict[str, User]:
    """Named users shared by the session; tests make their own conversations."""
    names = ["alice", "bob", "carol", "dave", "erin", "mallory"]
    registered = await asyncio.gather(*(register(client, name) for name in names))
    return dict(zip(names, registered, strict=True))


@pytest.fixture
def alice(users: dict[str, User]) -> User:
    return users["alice"]


@pytest.fixture
def bob(users: dict[str, User]) -> User:
    return users["bob"]


@pytest.fixture
def carol(users: dict[str, User]) -> User:
    return users["carol"]


@pytest.fixture
def dave(users: dict[str, User]) -> User:
    return users["dave"]


@pytest.fixture
def erin(users: dict[str, User]) -> User:
    return users["erin"]


@pytest.fixture
def mallory(users: dict[str, User]) -> User:
    return users["mallory"]


@pytest.fixture
async def sockets() -> AsyncIterator[list[Recorder]]:
    """Sockets a test opens itself (`open_socket`), closed when it ends."""
    opened: list[Recorder] = []
    yield opened
    for recorder in opened:
        await recorder.close()


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[Connect]:
    """Open sockets to the session's server (python-socketio's client); closed afterwards."""
    opened: list[Recorder] = []

    async def _connect(
        user: User | None = None, ignore: frozenset[str] | None = None, **options: Any
    ) -> Recorder:
        recorder = Recorder() if ignore is None else Recorder(ignore)
        opened.append(recorder)
        if user is not None:
            options.setdefault("auth", {"token": user.token})
        await recorder.client.connect(server.url, transports=["websocket"], **options)
        return recorder

    yield _connect
    for recorder in opened:
        await recorder.close()
