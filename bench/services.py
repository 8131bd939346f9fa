"""Private services that fault tests and the chaos run break: a PostgreSQL cluster, a Redis, a
`parley serve` on a fixed port and nginx in front, each of our own. The machine's shared
PostgreSQL and Redis are never paused, stopped or restarted (other test runs use them).

Used by `bench/chaos.py` and by the tests (`tests/faults/services.py` re-exports them), so it
imports nothing from the tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
PARLEY = str(ROOT / ".venv" / "bin" / "parley") if (ROOT / ".venv").exists() else "parley"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        """Start it; the first time on another free port if a stranger took this one between
        free_port() and the bind (test workers run side by side). Started again (after a
        kill), it must get its port back: the servers using it know only that one."""
        first = self.process is None
        for _attempt in range(3):
            if self._start_once():
                return
            if not first:
                break
            self.port = free_port()
        raise RuntimeError(f"private redis-server could not listen on port {self.port}")

    def _start_once(self) -> bool:
        """Whether our redis-server serves on self.port (told apart from a stranger there by
        its directory)."""
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
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.client().config_get("dir").get("dir") == os.path.realpath(self.dir):
                    return True
                break  # a stranger answers on our port: ours cannot bind it
            except redis.ConnectionError:
                time.sleep(0.05)
        self.kill()
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause(self, milliseconds: int) -> None:
        """Freeze every client of this Redis for a moment (its data kept): a blip."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "CLIENT", "PAUSE", str(milliseconds), "ALL"],
            check=True,
            capture_output=True,
            timeout=10,
        )

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


def _wait_healthy(url: str, alive: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if alive.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become healthy: {log.read_text(errors='replace')[-3000:]}")


class Instance:
    """One `parley serve` on a port of its own that outlives restarts (nginx names it)."""

    def __init__(self, env: dict[str, str], log_dir: str, name: str) -> None:
        self.env = env
        self.port = free_port()
        self.log = Path(log_dir) / f"{name}.log"
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [PARLEY, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        _wait_healthy(self.url, self.process, f"parley serve ({self.name})", self.log)

    def kill(self) -> None:
        """SIGKILL: no shutdown, sockets cut, whatever was in memory lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Nginx:
    """Debian's nginx on a free port, with deploy/nginx/parley.conf in front of two instances."""

    def __init__(self, first: str, second: str) -> None:
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="parley-nginx-"))
        site = (ROOT / "deploy" / "nginx" / "parley.conf").read_text()
        site = (
            site.replace("127.0.0.1:8001", first.removeprefix("http://"))
            .replace("127.0.0.1:8002", second.removeprefix("http://"))
            .replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{self.port}")
        )
        (self.prefix / "logs").mkdir()
        (self.prefix / "tmp").mkdir()
        (self.prefix / "parley.conf").write_text(site)
        (self.prefix / "nginx.conf").write_text(
            "worker_processes 1;\npid nginx.pid;\nerror_log logs/error.log;\n"
            "events { worker_connections 1024; }\n"
            "http {\n  access_log off;\n"
            "  client_body_temp_path tmp; proxy_temp_path tmp;\n"
            "  include parley.conf;\n}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(self.prefix),
                "-c",
                str(self.prefix / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
        )
        _wait_healthy(self.url, self.process, "nginx", self.prefix / "logs" / "error.log")

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)
