"""Servers the tests start as processes on a free port. Two suites run side by side (SQLite and
PostgreSQL, each with xdist workers), so another worker's server can take a port between
`free_port()` choosing it and our process binding it: a server is handed to a test only once
its own process holds the listening socket, else it is started again on another port."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

# Starts the process on `port`, its stdout and stderr to the log file given.
Launch = Callable[[int, IO[bytes]], "subprocess.Popen[bytes]"]
# Whether the server at `http://127.0.0.1:<port>` answers (a transport error counts as no).
Ready = Callable[[str], bool]


class PortTaken(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port` (uvicorn's parent binds it,
    also with --workers), read from /proc as `ss -ltnp` would."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                listening.add(f"socket:[{inode}]")
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) in listening:
                return True
        except OSError:
            continue
    return False


@dataclass
class Listening:
    """A process serving on `port`; its output is in `log_path` (the caller removes it)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM first (uvicorn's parent then stops its workers; a SIGKILL would leave them
        running), SIGKILL if it does not exit."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def answers(url: str) -> bool:
    """A `Ready` for servers without a health check: any HTTP answer at all."""
    httpx.get(url, timeout=1)
    return True


def serve_on_free_port(
    name: str,
    launch: Launch,
    ready: Ready,
    *,
    port: int | None = None,
    timeout: float = 60,
) -> Listening:
    """`launch` on a free port until its process, not a stranger, listens there (a few tries),
    or on `port` (a server started again where it was: PortTaken if it is not ours)."""
    if port is not None:
        return _serve(name, launch, ready, port, timeout)
    for _attempt in range(3):
        try:
            return _serve(name, launch, ready, free_port(), timeout)
        except PortTaken:
            continue  # another test worker bound the port between free_port() and our bind
    return _serve(name, launch, ready, free_port(), timeout)


def _serve(
    name: str,
    launch: Launch,
    ready: Ready,
    port: int,
    timeout: float,
) -> Listening:
    log_fd, log_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    with os.fdopen(log_fd, "wb") as log_file:
        process = launch(port, log_file)
    started = Listening(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = _output(log_path)[-3000:]
                if "address already in use" in output.lower():
                    raise PortTaken(output)
                raise RuntimeError(f"{name} exited: {output}")
            try:
                answered = ready(started.url)
            except httpx.TransportError:
                answered = False
            if answered:
                if listens_on(process.pid, port):
                    return started
                # Another test worker's server took the port first and answered: ours will fail
                # to bind, and tests would otherwise run against a stranger's server until it
                # stops (seen in CI as connection errors mid-test).
                raise PortTaken(f"port {port} is served by another process")
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready: {_output(log_path)}")
    except BaseException:
        started.stop()
        Path(log_path).unlink(missing_ok=True)
        raise


def _output(log_path: str) -> str:
    return Path(log_path).read_text(errors="replace")
