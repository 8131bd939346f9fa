"""Backpressure on the send path: what is accepted but not yet announced is bounded by time.

An optimistic ack (202, or the socket's ack) promises that the message is visible a moment
later, so the accepted rate may not outrun the rate at which the committer writes and the
announcer emits. A queue bounded by count lets it: at W1's drain rate 20,000 queued sends are
two minutes of delivery lag. Here the bound is time, kept by an adaptive limit on the
*outstanding* sends (accepted, not yet announced: the committer's queue, the batch being
written, the announcement queue, the batch being announced, and the rooms given to sends
still passing the gate):

- each announced batch is a latency sample: how long its oldest send was outstanding. The
  smallest sample of the last few hundred batches is the pipeline's own latency (one commit
  and one announcement, no queue); samples more than `SEND_BACKLOG_BUDGET` above it mean
  sends queue behind others.
- while samples stay within the budget and the limit is being used, it grows by each batch's
  size (batches grow under load, and the group commit's fixed cost with them shared). It
  shrinks by a tenth only when *every* batch of an interval (100 ms) was over the budget: a
  standing queue, as CoDel tells one from a passing burst. (Shrinking on any one sample over
  the budget held W1 to 216-258 msg/s against 268-288 with no backpressure at all, the
  pipeline keeping up either way: on a shared 2-core machine single batches are late for
  reasons no admission can fix.) So the pipeline runs with as much accepted work as it
  drains without a standing queue, whatever its own latency on this machine. (Tried first:
  outstanding / drain rate <= budget, counted from zero. On a busy 2-core machine, where one
  commit and its announcement took tens of milliseconds, it held 32 closed-loop REST
  senders to 0.36-0.43x of a reference GET, against 1.0-1.1x without backpressure; the
  adaptive limit gave 0.67-0.82x in the same conditions.)
- at the start the limit is the budget's worth of work at a modest assumed rate
  (`INITIAL_DRAIN_RATE`).

A send is admitted at once when nothing is outstanding (a lone message never waits) or when
it fits under the limit and nobody waits before it. Otherwise it waits, first come first
served, for a drained batch to make room, for at most `SEND_ADMISSION_WAIT`, and is then
refused with 503 SERVICE_UNAVAILABLE and Retry-After. The wait comes before the ack, so a
closed-loop client slows to the rate the pipeline sustains. A stalled commit (a lock, a
slow disk) drains nothing: no more than the limit is accepted while it lasts.

The drain rate (batch size over the time of the slower of the two stages, which run side by
side) is measured for the figures and for Retry-After: estimated lag = outstanding / rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass

from parley.core import metrics
from parley.core.errors import ServiceUnavailable

# Before anything is measured: the budget's worth of work at this modest rate, so a burst at
# start-up waits for the first measurements rather than queueing unmeasured work.
INITIAL_DRAIN_RATE = 200.0  # messages per second
# Each drained batch keeps this share of the rate's averages (the last 5-10 batches count).
DECAY = 0.8
LATENCY_WINDOW = 256  # batches whose smallest latency is the pipeline's own
SHRINK = 0.9  # the limit's factor after an interval whose every batch queued past the budget
# A standing queue, not a passing burst, shrinks the limit: only when every batch drained in
# this long was over the budget (CoDel's rule: the *smallest* sojourn over an interval).
INTERVAL_SECONDS = 0.1
MAX_LIMIT = 20_000.0


@dataclass(frozen=True)
class PipelineFigures:
    """A snapshot of the send pipeline, for metrics and logs (read-only).

    - `outstanding`: sends accepted (acknowledged) but not yet announced.
    - `waiting`: sends waiting for room, not yet acknowledged.
    - `limit`: outstanding sends admitted before new ones wait (adapts, see the module).
    - `base_latency_seconds`: the pipeline's own latency (the smallest recent batch
      latency), None until measured; the budget is counted above it.
    - `drain_rate`: messages the pipeline commits and announces per second (batch size over
      the time of its slower stage, recent average); None until the first batch has drained.
    - `estimated_lag_seconds`: outstanding / drain rate (the initial rate before one is
      measured): how long the accepted work will take to drain.
    - `oldest_age_seconds`: how long the oldest outstanding send has been waiting (0 when
      none): the lag actually seen, which keeps growing while the commit is stalled.
    - `waited_total`, `refused_total`: sends that had to wait for room, and sends refused
      after the wait (503), since the process started.
    """

    outstanding: int
    waiting: int
    limit: int
    base_latency_seconds: float | None
    drain_rate: float | None
    estimated_lag_seconds: float
    oldest_age_seconds: float
    waited_total: int
    refused_total: int


class Backpressure:
    """Admission of new sends under a limit that keeps the pipeline's latency within budget."""

    def __init__(self, *, budget_seconds: float, wait_seconds: float) -> None:
        self.budget_seconds = budget_seconds
        self.wait_seconds = wait_seconds
        self._outstanding: dict[uuid.UUID, float] = {}  # id -> accepted at (monotonic)
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Rooms given and not yet used or released (sends between admission and the
        # committer, through the rate limits and screening): counted as outstanding.
        self._reserved = 0
        self._drained_messages = 0.0  # decayed sums: rate = messages / service seconds
        self._service_seconds = 0.0
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._limit = max(1.0, INITIAL_DRAIN_RATE * budget_seconds)
        self._peak_in_use = 0  # most sends outstanding since the last batch drained
        self._interval_started = time.monotonic()
        self._interval_best = math.inf  # smallest batch latency in the current interval
        self.waited_total = 0
        self.refused_total = 0

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    @property
    def idle(self) -> bool:
        """Nothing accepted is left to commit and announce, and no room is held by a send
        still passing the gate (the graceful shutdown waits for this)."""
        return not self._outstanding and self._reserved == 0

    @property
    def drain_rate(self) -> float | None:
        """Messages per second of the pipeline's slower stage, recent batches weighted most;
        None until a batch has drained."""
        if self._service_seconds <= 0:
            return None
        return self._drained_messages / self._service_seconds

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
            limit=int(self._limit),
            base_latency_seconds=min(self._latencies) if self._latencies else None,
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
        self._peak_in_use = max(self._peak_in_use, int(self._limit))  # the limit binds
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
            metrics.SENDS_REFUSED.inc()
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
        self._outstanding[send_id] = time.monotonic()
        self._peak_in_use = max(self._peak_in_use, self.outstanding + self._reserved)

    def drained(self, send_ids: list[uuid.UUID], *, service_seconds: float) -> None:
        """A batch was committed (or failed) and announced, its slower stage taking
        `service_seconds`: measure, adapt the limit, then make room."""
        now = time.monotonic()
        accepted_at = [self._outstanding.pop(send_id, now) for send_id in send_ids]
        latency = now - min(accepted_at, default=now)
        self._latencies.append(latency)
        threshold = min(self._latencies) + self.budget_seconds
        self._interval_best = min(self._interval_best, latency)
        if now - self._interval_started >= INTERVAL_SECONDS:
            if self._interval_best > threshold:  # a standing queue for a whole interval
                self._limit = max(1.0, self._limit * SHRINK)
            self._interval_started, self._interval_best = now, math.inf
        if latency <= threshold and self._peak_in_use * 2 >= self._limit:
            self._limit = min(MAX_LIMIT, self._limit + len(send_ids))  # grow a limit in use
        self._peak_in_use = self.outstanding + self._reserved
        self._drained_messages = self._drained_messages * DECAY + len(send_ids)
        self._service_seconds = self._service_seconds * DECAY + max(service_seconds, 1e-6)
        self._wake()

    def give_back(self, *, used: bool) -> None:
        """A room's end (`Room.use`, `Room.release`): used, its send is now outstanding;
        released, it goes to the next waiting send."""
        self._reserved -= 1
        if not used:
            self._wake()

    def _has_room(self) -> bool:
        in_use = self.outstanding + self._reserved
        return in_use == 0 or in_use + 1 <= self._limit

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
