"""Private services that fault tests break: the shared PostgreSQL and Redis of the machine are
never paused, stopped or restarted (other test runs use them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.conftest import free_port


class PrivateRedis:
    """A `redis-server` of our own. With `persistent`, every write is fsynced to an append-only
    file, so a kill and restart brings its data back (a Redis that returns with stale keys)."""

    def __init__(self, *, persistent: bool = False) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="parley-fault-redis-")
        self._persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self._persistent
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                self.dir,
                *persistence,
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    raise RuntimeError(f"{name} not found")


class PrivatePostgreSQL:
    """A cluster of our own (initdb as the `postgres` OS user when we run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="parley-fault-pg-")
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._data = os.path.join(self.dir, "data")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", self._data, "-U", "postgres", "--auth=trust")

    def ctl(self, action: str) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            self._data,
            "-o",
            f"-p {self.port} -k {self.dir}",
            "-l",
            os.path.join(self.dir, "log"),
            "-w",
            action,
        )

    def cleanup(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.ctl("stop")
        shutil.rmtree(self.dir, ignore_errors=True)
