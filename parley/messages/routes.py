"""HTTP routes for messages."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from parley.accounts.dependencies import CallerReads, CurrentUser
from parley.core import metrics
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.idempotency import Answer, IdempotencyKey
from parley.messages import queries, tagged
from parley.messages.actions.delete import delete_message as delete
from parley.messages.actions.edit import edit_message as edit
from parley.messages.actions.reactions import add_reaction as react
from parley.messages.actions.reactions import remove_reaction as unreact
from parley.messages.actions.report import report_message as report
from parley.messages.actions.send import forward_message as forward
from parley.messages.actions.send import send_message as send
from parley.messages.scheduled.actions import schedule_message
from parley.messages.scheduled.schemas import ScheduledMessageOut
from parley.messages.schemas import (
    EMOJI_PATTERN,
    ForwardRequest,
    ForwardResult,
    HashtagPage,
    MessageCreate,
    MessageEdit,
    MessageHistory,
    MessageOut,
    MessagePage,
    ReactionCreate,
    ReactionOut,
    ReportCreate,
    ReportOut,
    ThreadPage,
)

router = APIRouter(prefix="/messages", tags=["messages"])
# Messages found through their mention and hashtag rows (parley/messages/tagged.py).
mentions_router = APIRouter(prefix="/users/me", tags=["messages"])
hashtags_router = APIRouter(prefix="/hashtags", tags=["messages"])

Wait = Annotated[bool, Query(description="Answer 201 after the durable commit instead of 202")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=40)]
TimeCursor = Annotated[
    str | None, Query(max_length=200, description="`nextCursor` of the last page")
]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses={
        200: {"model": MessageOut, "description": "This clientMessageId was stored before"},
        201: {
            "model": MessageOut | ScheduledMessageOut,
            "description": "wait=true: committed (status SENT); with scheduledAt: the "
            "scheduled message (status SCHEDULED), sent at its time",
        },
        202: {"model": MessageOut, "description": "Accepted, status PENDING, commit follows"},
    },
)
async def send_message(body: MessageCreate, user: CurrentUser, wait: Wait = False) -> Response:
    """Send a message: 202 at once (optimistic), or 201 after the commit with `wait=true`;
    with `scheduledAt`, 201 with the scheduled message (docs/api.md, Scheduled messages)."""
    if body.scheduled_at is not None:
        scheduled = await schedule_message(sender_id=user.id, data=body)
        return Response(
            scheduled.model_dump_json(by_alias=True),
            status_code=status.HTTP_201_CREATED,
            media_type="application/json",
        )
    started = time.perf_counter()
    message, outcome = await send(sender_id=user.id, data=body, wait=wait)
    if not wait:
        metrics.ACK_REST.observe(time.perf_counter() - started)
    # Hot path: serialize once, skipping FastAPI's re-validation of the response model.
    return Response(
        message.model_dump_json(by_alias=True),
        status_code=int(outcome),
        media_type="application/json",
    )


@router.get("/conversation/{conversation_id}", response_model=MessagePage)
async def list_messages(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    reads: CallerReads,
    limit: Limit = 50,
    before: Cursor = None,
    after: Cursor = None,
    after_seq: Annotated[int | None, Query(alias="afterSeq", ge=0, le=2**62)] = None,
) -> MessagePage:
    """A page of messages, newest first; `afterSeq` (or `after`) gives ascending catch-up."""
    # Pages may come from a read replica; catch-up may not: an answer that stops short of
    # what the client was not sent would look complete (docs/deployment.md, Read replicas).
    read = reads.primary if after_seq is not None or after is not None else reads
    return await read(
        lambda session: queries.list_messages(
            session,
            user_id=user.id,
            conversation_id=conversation_id,
            limit=limit,
            before=before,
            after=after,
            after_seq=after_seq,
        )
    )


@router.get("/{message_id}", response_model=MessageOut)
async def get_message(
    message_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> MessageOut:
    return await queries.get_message(session, user_id=user.id, message_id=message_id)


@router.put("/{message_id}", response_model=MessageOut)
async def edit_message(
    message_id: uuid.UUID, body: MessageEdit, user: CurrentUser, session: SessionDep
) -> MessageOut:
    """Edit (sender only); the previous text is kept in the history."""
    return await edit(session, user_id=user.id, message_id=message_id, content=body.content)


@router.delete("/{message_id}", response_model=MessageOut)
async def delete_message(
    message_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> MessageOut:
    """Soft delete: the message keeps its place, its content is hidden."""
    return await delete(session, user_id=user.id, message_id=message_id)


@router.get("/{message_id}/history", response_model=MessageHistory)
async def get_history(
    message_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> MessageHistory:
    return await queries.get_history(session, user_id=user.id, message_id=message_id)


@router.get("/{message_id}/thread", response_model=ThreadPage)
async def get_thread(
    message_id: uuid.UUID,
    user: CurrentUser,
    reads: CallerReads,
    limit: Limit = 50,
    after: Cursor = None,
) -> ThreadPage:
    return await reads(
        lambda session: queries.get_thread(
            session, user_id=user.id, message_id=message_id, limit=limit, after=after
        )
    )


@router.post("/{message_id}/reactions", response_model=ReactionOut)
async def add_reaction(
    message_id: uuid.UUID, body: ReactionCreate, user: CurrentUser, session: SessionDep
) -> ReactionOut:
    return await react(session, user_id=user.id, message_id=message_id, emoji=body.emoji)


@router.delete("/{message_id}/reactions/{emoji}", response_model=ReactionOut)
async def remove_reaction(
    message_id: uuid.UUID,
    emoji: Annotated[str, Path(min_length=1, max_length=32, pattern=EMOJI_PATTERN)],
    user: CurrentUser,
    session: SessionDep,
) -> ReactionOut:
    return await unreact(session, user_id=user.id, message_id=message_id, emoji=emoji)


@router.post(
    "/{message_id}/forward", status_code=status.HTTP_202_ACCEPTED, response_model=ForwardResult
)
async def forward_message(
    message_id: uuid.UUID,
    body: ForwardRequest,
    user: CurrentUser,
    idempotency: IdempotencyKey,
    wait: Wait = False,
) -> Response:
    """Forward to other conversations the caller may write to (type FORWARD)."""

    async def run() -> Answer:
        result = await forward(
            user_id=user.id,
            message_id=message_id,
            conversation_ids=body.conversation_ids,
            wait=wait,
            idempotency_key=idempotency.key,
        )
        return Answer.of(status.HTTP_201_CREATED if wait else status.HTTP_202_ACCEPTED, result)

    return await idempotency.once_accepted(user_id=user.id, body=body, run=run)


@router.post(
    "/{message_id}/report",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportOut,
    responses={
        200: {"model": ReportOut, "description": "The caller reported this message before"},
        201: {"model": ReportOut, "description": "Reported: queued for the reviewers"},
    },
)
async def report_message(
    message_id: uuid.UUID,
    body: ReportCreate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
) -> ReportOut:
    """Report a message to the conversation's reviewers (any member who reads it, not one's
    own; once: a repeat answers 200 with the first report)."""
    result, created = await report(session, user_id=user.id, message_id=message_id, data=body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return result


@mentions_router.get("/mentions", response_model=MessagePage)
async def list_mentions(
    user: CurrentUser, reads: CallerReads, limit: Limit = 50, cursor: TimeCursor = None
) -> MessagePage:
    """Messages that mention the caller, newest first, where the caller reads them now."""
    return await reads(
        lambda session: tagged.list_mentions(session, user_id=user.id, limit=limit, cursor=cursor)
    )


@hashtags_router.get("", response_model=HashtagPage)
async def list_hashtags(
    user: CurrentUser,
    reads: CallerReads,
    prefix: Annotated[str, Query(max_length=101, description="`#` optional")] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> HashtagPage:
    """Tags in use where the caller reads, starting with `prefix`, most used first."""
    return await reads(
        lambda session: tagged.list_hashtags(session, user_id=user.id, prefix=prefix, limit=limit)
    )


@hashtags_router.get("/{tag}", response_model=MessagePage)
async def list_tagged(
    tag: Annotated[str, Path(max_length=101, description="With or without `#`")],
    user: CurrentUser,
    reads: CallerReads,
    limit: Limit = 50,
    cursor: TimeCursor = None,
) -> MessagePage:
    """Messages carrying the tag (any case), newest first, where the caller reads them."""
    return await reads(
        lambda session: tagged.list_tagged(
            session, user_id=user.id, tag=tag, limit=limit, cursor=cursor
        )
    )
