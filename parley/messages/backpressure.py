"""Backpressure on the send path: what is accepted but not yet announced is bounded by time.

An optimistic ack (202, or the socket's ack) promises that the message is visible a moment
later, so the accepted rate may not outrun the rate at which the committer writes and the
announcer emits. A queue bounded by count lets it: at W1's drain rate 20,000 queued sends are
two minutes of delivery lag. Here the bound is time:

- the *drain rate* is measured where the work ends, when the announcer has emitted a batch:
  messages per second of busy time (the pipeline holding work), averaged over recent batches;
- the *outstanding* sends are those accepted but not yet announced: the committer's queue,
  the batch being written, the announcement queue and the batch being announced;
- the *estimated lag* is outstanding / drain rate.

A send is admitted at once when nothing is outstanding (a lone message never waits) or when
the lag with it stays within `SEND_BACKLOG_BUDGET`, and nobody waits before it. Otherwise it
waits, first come first served, for a drained batch to make room, for at most
`SEND_ADMISSION_WAIT`, and is then refused with 503 SERVICE_UNAVAILABLE and Retry-After. The
wait comes before the ack, so a closed-loop client slows to the rate the pipeline sustains.
The bound adjusts itself: under load batches grow, the measured rate with them, and so the
room; a stalled commit (a lock, a slow disk) stops the drain, and with it admission.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass

from parley.core.errors import ServiceUnavailable

# Before the first batch has drained there is no rate: assume a modest one, so a burst at
# start-up waits for the first measurement rather than queueing unmeasured work.
INITIAL_DRAIN_RATE = 200.0  # messages per second
# Each drained batch keeps this share of the averages (about the last 5-10 batches count).
DECAY = 0.8


@dataclass(frozen=True)
class PipelineFigures:
    """A snapshot of the send pipeline, for metrics and logs (read-only).

    - `outstanding`: sends accepted (acknowledged) but not yet announced.
    - `waiting`: sends waiting for room, not yet acknowledged.
    - `drain_rate`: messages committed and announced per second of busy time (recent
      average); None until the first batch has drained.
    - `estimated_lag_seconds`: outstanding / drain rate (the initial rate before one is
      measured): how long the accepted work will take to drain.
    - `oldest_age_seconds`: how long the oldest outstanding send has been waiting (0 when
      none): the lag actually seen, which keeps growing while the commit is stalled.
    - `waited_total`, `refused_total`: sends that had to wait for room, and sends refused
      after the wait (503), since the process started.
    """

    outstanding: int
    waiting: int
    drain_rate: float | None
    estimated_lag_seconds: float
    oldest_age_seconds: float
    waited_total: int
    refused_total: int


class Backpressure:
    """Admission of new sends by the estimated lag of the work already accepted."""

    def __init__(self, *, budget_seconds: float, wait_seconds: float) -> None:
        self.budget_seconds = budget_seconds
        self.wait_seconds = wait_seconds
        self._outstanding: dict[uuid.UUID, float] = {}  # id -> accepted at (monotonic)
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Rooms given and not yet used or released (sends between admission and the
        # committer, through the rate limits and screening): counted as outstanding.
        self._reserved = 0
        self._drained_messages = 0.0  # decayed sums: rate = messages / busy seconds
        self._busy_seconds = 0.0
        self._interval_start = time.monotonic()
        self.waited_total = 0
        self.refused_total = 0

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    @property
    def drain_rate(self) -> float | None:
        """Messages per second of busy time, recent batches weighted most; None unmeasured."""
        if self._busy_seconds <= 0:
            return None
        return self._drained_messages / self._busy_seconds

    def estimated_lag(self, extra: int = 0) -> float:
        """Seconds to drain what is outstanding (plus `extra` more) at the measured rate."""
        rate = self.drain_rate or INITIAL_DRAIN_RATE
        return (self.outstanding + self._reserved + extra) / rate

    def figures(self) -> PipelineFigures:
        now = time.monotonic()
        oldest = next(iter(self._outstanding.values()), None)
        return PipelineFigures(
            outstanding=self.outstanding,
            waiting=len(self._waiters),
            drain_rate=self.drain_rate,
            estimated_lag_seconds=self.estimated_lag(),
            oldest_age_seconds=0.0 if oldest is None else now - oldest,
            waited_total=self.waited_total,
            refused_total=self.refused_total,
        )

    async def wait_for_room(self) -> Room:
        """Room for one more send (at once when there is some and nobody waits before it);
        503 SERVICE_UNAVAILABLE with Retry-After past the admission wait. The room counts
        as outstanding until the send is accepted or the room released."""
        if not self._waiters and self._has_room():
            self._reserved += 1
            return Room(self)
        self.waited_total += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            async with asyncio.timeout(self.wait_seconds):
                await future
        except TimeoutError:
            if future.done() and not future.cancelled():
                return Room(self)  # room came as the wait ran out: take it
            self._leave(future)
            self.refused_total += 1
            raise ServiceUnavailable(
                "The server is busy delivering messages: try again shortly",
                retryAfterSeconds=max(1, math.ceil(self.estimated_lag())),
            ) from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.give_back(used=False)  # woken, then gone (the client left): pass the room on
            else:
                self._leave(future)
            raise
        return Room(self)

    def accepted(self, send_id: uuid.UUID) -> None:
        """A send was handed to the committer (acknowledged from here on; its room used)."""
        if not self._outstanding:
            self._interval_start = time.monotonic()  # idle time is not drain time
        self._outstanding[send_id] = time.monotonic()

    def drained(self, send_ids: list[uuid.UUID]) -> None:
        """A batch was committed (or failed) and announced: measure, then make room."""
        for send_id in send_ids:
            self._outstanding.pop(send_id, None)
        now = time.monotonic()
        self._drained_messages = self._drained_messages * DECAY + len(send_ids)
        self._busy_seconds = self._busy_seconds * DECAY + max(now - self._interval_start, 1e-6)
        self._interval_start = now
        self._wake()

    def give_back(self, *, used: bool) -> None:
        """A room's end (`Room.use`, `Room.release`): used, its send is now outstanding;
        released, it goes to the next waiting send."""
        self._reserved -= 1
        if not used:
            self._wake()

    def _has_room(self) -> bool:
        if self.outstanding + self._reserved == 0:
            return True
        return self.estimated_lag(extra=1) <= self.budget_seconds

    def _wake(self) -> None:
        """Give the room there is to the longest waiting sends, in order."""
        while self._waiters and self._has_room():
            future = self._waiters.popleft()
            if future.done():  # its wait ended meanwhile
                continue
            future.set_result(None)
            self._reserved += 1  # held for it until it runs: newcomers cannot take it

    def _leave(self, future: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(future)


class Room:
    """One send's place in the pipeline, from admission until the committer takes it
    (`use`) or the send ends otherwise (`release`: refused by a rate limit, or a retry
    answered with the message already known). Either one is final."""

    __slots__ = ("_backpressure", "_held")

    def __init__(self, backpressure: Backpressure) -> None:
        self._backpressure = backpressure
        self._held = True

    def use(self) -> None:
        """The send goes to the committer now (which counts it as outstanding)."""
        if self._held:
            self._held = False
            self._backpressure.give_back(used=True)

    def release(self) -> None:
        """The send will not be submitted: give the room to the next one waiting."""
        if self._held:
            self._held = False
            self._backpressure.give_back(used=False)
