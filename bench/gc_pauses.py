"""The benchmark process's own full garbage collections: a full pass over a heap of imported
modules (or of 10,000 sockets' objects) stalls everything for 100 ms and more, and a stall in
the load generator reads as server latency. Benchmarks print what this records beside their
figures."""

from __future__ import annotations

import gc
import time


class PauseClock:
    """Times each generation-2 collection while installed (`with PauseClock() as pauses:`, or
    `gc.callbacks.append(PauseClock())` for the whole run)."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> PauseClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)
