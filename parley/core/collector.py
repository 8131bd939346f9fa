"""Garbage-collector policy for a process holding thousands of long-lived sockets.

CPython's full (generation-2) collection walks every tracked object; with 10,000 sockets in a
process that is 1.0-1.4 s during which nothing else runs (docs/benchmarks.md), and it comes
back each time the heap grows by a quarter. The policy here moves long-lived objects out of
the collector's reach with `gc.freeze()`: once after start-up, then every `FREEZE_EVERY`
seconds, so routine collections only walk recent objects. Frozen objects are still freed by
reference counting; only reference cycles among them wait for the next full pass, which runs
every `FULL_PASS_EVERY` seconds (`gc.unfreeze()` then `gc.collect()`): one pause per period
instead of many. `PARLEY_GC_POLICY=python` keeps CPython's own behaviour.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)

FREEZE_EVERY = 60.0
FULL_PASS_EVERY = 900.0


def freeze_startup_objects() -> None:
    """Modules, metadata and schemas live as long as the process: never walk them again."""
    gc.collect()
    gc.freeze()


async def keep_long_lived_objects_frozen() -> None:
    last_full_pass = time.monotonic()
    while True:
        await asyncio.sleep(FREEZE_EVERY)
        if time.monotonic() - last_full_pass >= FULL_PASS_EVERY:
            started = time.perf_counter()
            gc.unfreeze()
            gc.collect()
            last_full_pass = time.monotonic()
            log.info(
                "full garbage collection",
                extra={"ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        gc.freeze()
