"""A background loop the app's lifespan starts and stops: one piece of work every so often,
a failure logged without ending the loop (the orphan sweep, the retention job)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    """`work()` every `interval` seconds, the first time after `first_delay`."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[None]],
        *,
        interval: float,
        first_delay: float = 0.0,
        log: logging.Logger,
        failure: str,
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval
        self._first_delay = first_delay
        self._log = log
        self._failure = failure
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        await asyncio.sleep(self._first_delay)
        while True:
            try:
                await self._work()
            except Exception:
                self._log.exception(self._failure)
            await asyncio.sleep(self._interval)
