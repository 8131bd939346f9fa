"""From an accepted send to its durable commit and the events that follow.

The committer (committer.py) writes; this module wires it into the process: it admits new
sends by the pipeline's lag (`room_to_send`, backpressure.py), hands accepted sends to it,
answers the sender (pending now, or committed with `wait`), and after each commit announces
`new_message`, `message_confirmed` or `message_failed`, and the reviewers' `moderation.flagged`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import IntEnum

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import access
from parley.core import metrics, runtime
from parley.core.db import statement_counter
from parley.core.errors import ServiceUnavailable, ShuttingDown
from parley.core.events import conversation_room, emit, emit_after_commit, user_room
from parley.messages.backpressure import Backpressure, PipelineFigures, Room
from parley.messages.committer import Committer, MessageRow, PendingSend, could_not_store
from parley.messages.events import (
    MESSAGE_CONFIRMED,
    MESSAGE_FAILED,
    MODERATION_FLAGGED,
    NEW_MESSAGE,
)
from parley.messages.render import message_out, withheld
from parley.messages.schemas import (
    MessageConfirmedEvent,
    MessageEvent,
    MessageFailedEvent,
    MessageOut,
    MessageStatus,
    ModerationFlaggedEvent,
)
from parley.screening.screen import Verdict

# The last guard behind the time bound (`room_to_send`): past this many accepted-but-unwritten
# sends, new ones are refused (503, Retry-After) whatever the measured rate says.
MAX_BACKLOG = 20_000


class SendOutcome(IntEnum):
    """How a send was answered; the value is the HTTP status."""

    STORED_BEFORE = 200  # the same clientMessageId was already committed
    COMMITTED = 201  # wait=true, committed now
    ACCEPTED = 202  # optimistic: queued for the durable commit


def committer() -> Committer:
    instance = runtime.current().find(Committer)
    if instance is None:
        raise ServiceUnavailable("The message committer is not running")
    return instance


def make_committer() -> Committer:
    """The process's committer, with the after-commit events wired in."""
    settings = runtime.current().settings
    backpressure = Backpressure(
        budget_seconds=settings.send_backlog_budget_seconds,
        wait_seconds=settings.send_admission_wait_seconds,
    )
    instance = Committer(runtime.current().db, message_out, backpressure)
    instance.on_committed(_publish_commit_result)
    metrics.add_sampler(instance.sample_metrics)
    return instance


@asynccontextmanager
async def room_to_send() -> AsyncIterator[Room]:
    """Backpressure before the ack: room for one new send in the pipeline, given at once when
    it is idle or its estimated lag is within `SEND_BACKLOG_BUDGET`, else after a wait; 503
    with Retry-After past `SEND_ADMISSION_WAIT`. Pass the room to `submit`; a send that ends
    otherwise inside the block (refused by the gate, a retry answered) gives it back.

    Once the graceful shutdown has begun no room is given (503 SERVICE_UNAVAILABLE, reason
    SHUTTING_DOWN): checked again after the wait, with no await before the caller holds the
    room, so from the moment the flag is set what is accepted can only drain (`drain_sends`).
    """
    state = runtime.current()
    if state.draining:
        raise ShuttingDown()
    room = await committer().backpressure.wait_for_room()
    try:
        if state.draining:
            raise ShuttingDown()
        yield room
    finally:
        room.release()


DRAIN_POLL_SECONDS = 0.01


async def drain_sends(deadline: float) -> bool:
    """Wait (until `deadline`, event loop time) for every accepted send to be committed and
    announced (`message_confirmed` or `message_failed` emitted), and for the sends holding
    room to be accepted or refused. True when nothing is left; call it once `draining` is
    set, so nothing new arrives. Polls: it runs once, at shutdown, and keeps the send path
    free of any signalling for it."""
    backpressure = committer().backpressure
    loop = asyncio.get_running_loop()
    while not backpressure.idle:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    return True


def pipeline_figures() -> PipelineFigures:
    """Outstanding sends, drain rate, estimated lag (read-only, for metrics): see
    `backpressure.PipelineFigures`."""
    return committer().backpressure.figures()


def submit(row: MessageRow, verdict: Verdict | None, room: Room) -> PendingSend:
    """Queue an accepted send for the committer, in the room `room_to_send` gave it (503 past
    the hard backlog bound)."""
    instance = committer()
    if instance.backlog >= MAX_BACKLOG:
        metrics.SENDS_REFUSED.inc()
        raise ServiceUnavailable(
            "Too many messages are waiting to be stored: try again shortly",
            retryAfterSeconds=1,
        )
    metadata = row["metadata"]
    pending = PendingSend(
        row=row,
        mention_usernames=list(metadata.get("mentions", [])),
        hashtags=list(metadata.get("hashtags", [])),
        counter=statement_counter.get(),
        screening=verdict,
    )
    room.use()
    instance.submit(pending)
    metrics.SENDS_ACCEPTED.inc()
    return pending


def pending_out(pending: PendingSend) -> MessageOut:
    """A send as its sender sees it before (or instead of) the commit."""
    if pending.result is not None:
        return pending.result
    # No seq until committed: one reserved by a batch that then failed is not its seq.
    out = message_out({**pending.row, "seq": None})
    if pending.failure is not None:
        failure = {"code": str(pending.failure.code), "message": pending.failure.message}
        return out.model_copy(update={"status": MessageStatus.FAILED, "failure": failure})
    return out.model_copy(update={"status": MessageStatus.PENDING})


async def answer(pending: PendingSend, *, wait: bool) -> tuple[MessageOut, SendOutcome]:
    """At once (PENDING), or with `wait` after the commit: the stored message or its error."""
    if not wait:
        return pending_out(pending), SendOutcome.ACCEPTED
    await pending.done.wait()
    if pending.result is not None:
        outcome = SendOutcome.STORED_BEFORE if pending.duplicate else SendOutcome.COMMITTED
        return pending.result, outcome
    failure = pending.failure or could_not_store()
    # A fresh error per waiter: a retry of the same clientMessageId may wait on it too.
    raise type(failure)(failure.message, **{**failure.details, "messageId": str(pending.id)})


async def _publish_commit_result(pending: PendingSend) -> None:
    sender_room = user_room(pending.row["sender_id"])
    client_id = pending.row["client_message_id"]
    if pending.result is not None:
        # A duplicate was committed (and announced) by another instance: confirm it only.
        verdict = None if pending.duplicate else pending.screening
        if not pending.duplicate:
            held = verdict is not None and verdict.held
            await emit(
                NEW_MESSAGE,
                MessageEvent(message=withheld(pending.result) if held else pending.result),
                rooms=[conversation_room(pending.row["conversation_id"])],
            )
            metrics.SEND_DELIVERY_SECONDS.observe(time.perf_counter() - pending.accepted_at)
        await emit(
            MESSAGE_CONFIRMED,
            MessageConfirmedEvent(client_message_id=client_id, message=pending.result),
            rooms=[sender_room],
        )
        if verdict is not None:
            async with runtime.current().db.reads() as session:
                rooms = await _reviewer_rooms(session, pending.result)
            if rooms:
                await emit(MODERATION_FLAGGED, _flagged(pending.result, verdict), rooms=rooms)
    elif pending.failure is not None:
        await emit(
            MESSAGE_FAILED,
            MessageFailedEvent(
                client_message_id=client_id,
                message_id=pending.id,
                error={"code": str(pending.failure.code), "message": pending.failure.message},
            ),
            rooms=[sender_room],
        )


async def announce_flagged_after_commit(
    session: AsyncSession, message: MessageOut, verdict: Verdict
) -> None:
    """For a flagged edit: the reviewers' alert leaves with the edit's transaction."""
    rooms = await _reviewer_rooms(session, message)
    if rooms:
        emit_after_commit(session, MODERATION_FLAGGED, _flagged(message, verdict), rooms=rooms)


def _flagged(message: MessageOut, verdict: Verdict) -> ModerationFlaggedEvent:
    return ModerationFlaggedEvent(
        message=message,
        score=verdict.assessment.score,
        reasons=list(verdict.assessment.reasons),
        terms=list(verdict.assessment.terms),
        held=verdict.held,
        queue_item_id=verdict.item_id,
    )


async def _reviewer_rooms(session: AsyncSession, message: MessageOut) -> list[str]:
    reviewers = await access.reviewer_ids(session, conversation_id=message.conversation_id)
    return [user_room(user_id) for user_id in reviewers]
