"""A primary and a streaming replica of its own (two PostgreSQL clusters in a temporary
directory, the replica made with `pg_basebackup`), and Parley servers that read from the
replica. The machine's PostgreSQL is left alone: it allows no replication connections."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import BACKEND, _drop_redis_prefix, start_server
from tests.ports import free_port
from tests.support import Server

PG_BIN = Path(os.environ.get("PARLEY_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "parley"
READY_SECONDS = 30


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(*command: str) -> None:
    subprocess.run(_as_postgres(list(command)), check=True, capture_output=True, cwd="/")


@dataclass
class Cluster:
    directory: Path
    primary_port: int
    replica_port: int

    @property
    def primary_data(self) -> Path:
        return self.directory / "primary"

    @property
    def replica_data(self) -> Path:
        return self.directory / "replica"

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"

    def start(self, data: Path, port: int) -> None:
        _run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.directory / f"{data.name}.log"),
            "-o",
            f"-p {port} -k {self.directory}",
            "-w",
            "start",
        )

    def stop(self, data: Path, mode: str = "fast") -> None:
        _run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop")

    def stop_replica(self) -> None:
        """As if the replica's machine died: no shutdown, connections cut."""
        self.stop(self.replica_data, "immediate")

    def start_replica(self) -> None:
        self.start(self.replica_data, self.replica_port)

    async def fetch(self, port: int, sql: str, database: str = DATABASE) -> Any:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=port, user="postgres", database=database
        )
        try:
            return await connection.fetchval(sql)
        finally:
            await connection.close()

    async def replica(self, sql: str) -> Any:
        return await self.fetch(self.replica_port, sql)

    async def primary(self, sql: str) -> Any:
        return await self.fetch(self.primary_port, sql)

    async def pause_replay(self) -> None:
        await self.replica("SELECT pg_wal_replay_pause()")
        await until(lambda: self.replica("SELECT pg_get_wal_replay_pause_state() = 'paused'"))

    async def resume_replay(self) -> None:
        await self.replica("SELECT pg_wal_replay_resume()")

    async def caught_up(self) -> None:
        """Until the replica has replayed everything the primary had written when asked."""
        position = await self.primary("SELECT pg_current_wal_lsn()::text")
        await until(
            lambda: self.replica(f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn")
        )


async def until(probe: Any, seconds: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if await probe():
                return
        except (OSError, asyncpg.PostgresError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _make_clusters(directory: Path) -> Cluster:
    cluster = Cluster(directory, free_port(), free_port())
    _run(
        str(PG_BIN / "initdb"),
        "-D",
        str(cluster.primary_data),
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
    )
    with (cluster.primary_data / "postgresql.conf").open("a") as conf:
        conf.write(
            "listen_addresses = '127.0.0.1'\n"
            "wal_level = replica\n"
            "max_wal_senders = 4\n"
            "fsync = off\n"
            "full_page_writes = off\n"
        )
    with (cluster.primary_data / "pg_hba.conf").open("a") as hba:
        hba.write("host replication all 127.0.0.1/32 trust\n")
    cluster.start(cluster.primary_data, cluster.primary_port)
    asyncio.run(cluster.fetch(cluster.primary_port, f"CREATE DATABASE {DATABASE}", "postgres"))
    _run(
        str(PG_BIN / "pg_basebackup"),
        "-h",
        "127.0.0.1",
        "-p",
        str(cluster.primary_port),
        "-U",
        "postgres",
        "-D",
        str(cluster.replica_data),
        "-R",  # standby.signal and primary_conninfo: a streaming replica
        "--checkpoint=fast",  # the default spread checkpoint took 95 s here
        "-X",
        "stream",
    )
    cluster.start_replica()

    async def streaming() -> bool:
        return bool(
            await cluster.replica("SELECT pg_is_in_recovery()")
            and await cluster.primary(
                "SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'"
            )
        )

    asyncio.run(until(streaming))
    return cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if BACKEND != "postgres":
        pytest.skip("read replicas are PostgreSQL only (PARLEY_TEST_BACKEND=postgres)")
    if not (PG_BIN / "pg_basebackup").exists():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN} (set PARLEY_TEST_PG_BIN)")
    directory = Path(tempfile.mkdtemp(prefix="parley-replica-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    made: Cluster | None = None
    try:
        made = _make_clusters(directory)
        yield made
    finally:
        for data in (directory / "replica", directory / "primary"):
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                    capture_output=True,
                    check=False,
                    cwd="/",
                )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_env(backend_env: dict[str, str], cluster: Cluster) -> Iterator[dict[str, str]]:
    """The run's environment (Redis, keys, limits) on the module's primary and replica, with a
    Redis key prefix of its own."""
    prefix = f"parley-test-replica-{secrets.token_hex(6)}:"
    data_dir = tempfile.mkdtemp(prefix="parley-replica-data-")
    yield {
        **backend_env,
        "PARLEY_DATA_DIR": data_dir,
        "DATABASE_URL": cluster.url(cluster.primary_port),
        "DATABASE_READ_URL": cluster.url(cluster.replica_port),
        "REDIS_KEY_PREFIX": prefix,
    }
    _drop_redis_prefix(prefix)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def patient_server(replica_env: dict[str, str]) -> Iterator[Server]:
    """Reads from the replica while it is up to 30 s behind: no timing can flake."""
    running = start_server(replica_env, {"DATABASE_READ_MAX_LAG": "30s"})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def strict_server(replica_env: dict[str, str], patient_server: Server) -> Iterator[Server]:
    """Reads from the replica only while it is at most 1 s behind (after the patient one has
    migrated the database)."""
    running = start_server(replica_env, {"DATABASE_READ_MAX_LAG": "1s"})
    yield running
    running.stop()
