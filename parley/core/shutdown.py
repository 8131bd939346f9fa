"""Graceful shutdown: what a process does between SIGTERM (or Ctrl+C) and uvicorn's own
shutdown, all within SHUTDOWN_GRACE.

uvicorn on its own, on SIGTERM, stops listening, closes every websocket at once (code 1012),
waits for the HTTP requests in flight (for ever unless `timeout_graceful_shutdown`), then runs
the lifespan's shutdown, which writes what the committer still holds. So a rolling deploy cut
every socket of an instance in the same instant (and they all came back in the same instant),
and sends went on being accepted while the process was on its way out.

`GracefulShutdown` chains onto the signal handlers uvicorn installed, in each worker process
(with `--workers N`, uvicorn's supervisor relays its SIGTERM to every worker), and runs the
app's drain first (main.py: new sends and socket connects refused, every accepted send
committed and confirmed, then the sockets told to reconnect elsewhere, each after a jittered
delay, and disconnected). It then hands the signal to uvicorn, with `timeout_graceful_shutdown`
set to what is left of the grace period. A watchdog ends the process when the grace period is
over, whatever is still running: a stuck dependency must not keep a process past its
deadline (the orchestrator's SIGKILL would come anyway; clients resend what was lost, as after
any crash).

A second SIGINT during the drain (Ctrl+C again) hands over to uvicorn at once (a third is
uvicorn's own forced exit); a second SIGTERM is ignored (with `--workers`, Ctrl+C reaches the
workers and then the supervisor's SIGTERM follows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

Drain = Callable[[float], Awaitable[None]]

# Kept back from the drain for uvicorn's part: the requests in flight and the lifespan's
# shutdown (which finds the committer already empty).
HANDOVER_RESERVE_SECONDS = 2.0
# Exit status when the watchdog ends a shutdown that overran its grace period.
OVERRAN_EXIT_STATUS = 70
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulShutdown:
    """Runs `drain(deadline)` (event loop time) on the first SIGTERM or SIGINT, then lets
    uvicorn shut down; the whole within `grace_seconds`."""

    def __init__(self, grace_seconds: float, drain: Drain) -> None:
        self._grace = grace_seconds
        self._drain = drain
        self._previous: dict[int, Callable[[int, FrameType | None], Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._watchdog: threading.Timer | None = None
        self._handed_over = False

    def install(self) -> bool:
        """Chain onto uvicorn's handlers; False (nothing done) when they are not uvicorn's,
        as when the app runs in a test harness or another server."""
        if threading.current_thread() is not threading.main_thread():
            return False
        handlers = {sig: signal.getsignal(sig) for sig in _SIGNALS}
        if not all(_is_uvicorns(handler) for handler in handlers.values()):
            return False
        self._loop = asyncio.get_running_loop()
        for sig, handler in handlers.items():
            self._previous[sig] = handler  # type: ignore[assignment]
            signal.signal(sig, self._on_signal)
        return True

    def uninstall(self) -> None:
        """Give uvicorn its handlers back (the lifespan is over)."""
        for sig, handler in self._previous.items():
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, handler)
        self._previous.clear()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler may run in the middle of the event loop's own code: it only
        # schedules (call_soon_threadsafe is safe there), the loop does the work.
        loop = self._loop
        if loop is None or self._handed_over:
            self._hand_over(sig)
            return
        loop.call_soon_threadsafe(self._signalled, sig)

    def _signalled(self, sig: int) -> None:
        if self._handed_over:
            self._hand_over(sig)
            return
        if self._task is not None:
            if sig == signal.SIGINT:  # asked twice by a person: stop waiting (`_run` hands over)
                self._task.cancel()
            return
        # A thread, not the event loop, so that it fires even if the loop is blocked; a daemon
        # that outlives the lifespan on purpose (gone at exit).
        self._watchdog = threading.Timer(self._grace, _overran, args=(self._grace,))
        self._watchdog.daemon = True
        self._watchdog.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace
        self._task = loop.create_task(self._run(sig, deadline), name="parley-shutdown")

    async def _run(self, sig: int, deadline: float) -> None:
        log.info("graceful shutdown: draining", extra={"graceSeconds": self._grace})
        loop = asyncio.get_running_loop()
        try:
            await self._drain(deadline - HANDOVER_RESERVE_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("graceful shutdown: the drain failed")
        finally:
            left = deadline - loop.time()
            self._set_uvicorn_timeout(max(0.1, left - HANDOVER_RESERVE_SECONDS / 2))
            self._hand_over(sig)

    def _set_uvicorn_timeout(self, seconds: float) -> None:
        """uvicorn reads `timeout_graceful_shutdown` from its config when its shutdown
        begins: the requests in flight get what the drain left of the grace period."""
        server = getattr(self._previous.get(signal.SIGTERM), "__self__", None)
        if isinstance(server, uvicorn.Server):
            server.config.timeout_graceful_shutdown = seconds  # type: ignore[assignment]

    def _hand_over(self, sig: int) -> None:
        self._handed_over = True
        previous = self._previous.get(sig)
        if previous is not None:
            previous(sig, None)


def _is_uvicorns(handler: Any) -> bool:
    return isinstance(getattr(handler, "__self__", None), uvicorn.Server)


def _overran(grace: float) -> None:
    log.error("graceful shutdown: grace period over, exiting now", extra={"graceSeconds": grace})
    with contextlib.suppress(Exception):
        logging.shutdown()
    os._exit(OVERRAN_EXIT_STATUS)
