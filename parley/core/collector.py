"""Garbage-collector policy for a process holding thousands of long-lived sockets.

CPython's full (generation-2) collection walks every tracked object; with 10,000 sockets in a
process that is 1.0-1.4 s during which nothing else runs (docs/benchmarks.md), and it comes
back each time the heap grows by a quarter. The policy here moves long-lived objects out of
the collector's reach with `gc.freeze()`: once after start-up, then every `FREEZE_EVERY`
seconds, so routine collections only walk recent objects. Frozen objects are still freed by
reference counting; only reference cycles among them wait for the next full pass, which runs
every `FULL_PASS_EVERY` seconds (`gc.unfreeze()` then `gc.collect()`), or sooner when many
sockets closed since the last freeze: one pause per period instead of many.
`PARLEY_GC_POLICY=python` keeps CPython's own behaviour.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FREEZE_EVERY = 60.0
FULL_PASS_EVERY = 900.0
# A full pass also follows the closing of this many sockets, and this share of them, since the
# last freeze.
MANY_CLOSED = 500
CLOSED_SHARE = 0.25


def freeze_startup_objects() -> None:
    """Modules, metadata and schemas live as long as the process: never walk them again."""
    gc.collect()
    gc.freeze()


def full_pass_due(
    *, seconds_since_full_pass: float, sockets_at_freeze: int, sockets_now: int
) -> bool:
    """Every FULL_PASS_EVERY seconds, and at once when many sockets closed since the last
    freeze: their objects were frozen, so cycles among them would stay until the next pass
    (a drop of all 10,000 sockets left 178 MiB behind otherwise)."""
    if seconds_since_full_pass >= FULL_PASS_EVERY:
        return True
    closed = sockets_at_freeze - sockets_now
    return closed >= MANY_CLOSED and closed >= sockets_at_freeze * CLOSED_SHARE


async def keep_long_lived_objects_frozen(live_sockets: Callable[[], int]) -> None:
    last_full_pass = time.monotonic()
    sockets_at_freeze = live_sockets()
    while True:
        await asyncio.sleep(FREEZE_EVERY)
        if full_pass_due(
            seconds_since_full_pass=time.monotonic() - last_full_pass,
            sockets_at_freeze=sockets_at_freeze,
            sockets_now=live_sockets(),
        ):
            started = time.perf_counter()
            gc.unfreeze()
            gc.collect()
            last_full_pass = time.monotonic()
            log.info(
                "full garbage collection",
                extra={"ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        gc.freeze()
        sockets_at_freeze = live_sockets()
