"""One retention run: every conversation with a retention, batch by batch, one audit entry per
conversation that lost messages."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from parley.attachments.storage import Storage
from parley.conversations.queries import retention_policies
from parley.core.audit import AuditAction, record
from parley.core.db import Database
from parley.core.schemas import iso_z
from parley.messages.actions.expire import expire_messages
from parley.retention.lease import Lease

log = logging.getLogger(__name__)

# Messages per transaction: short transactions, so sends and the committer barely wait.
BATCH = 500
CONVERSATION_PAGE = 1000
LEASE_NAME = "retention"


class LeaseLost(RuntimeError):
    """Another process took the lease (ours expired): this run stops where it is."""


@dataclass
class RetentionSummary:
    """What a run removed, in total; `ran` is False when another process held the lease."""

    ran: bool = True
    conversations: int = 0
    messages: int = 0
    versions: int = 0
    reactions: int = 0
    files: int = 0
    touched: list[str] = field(default_factory=list)


def effective_days(global_days: int | None, conversation_days: int | None) -> int | None:
    """The shorter of the two retentions; None (keep forever) only when neither is set."""
    given = [days for days in (global_days, conversation_days) if days is not None]
    return min(given) if given else None


async def apply_retention(
    db: Database,
    storage: Storage,
    *,
    now: datetime,
    global_days: int | None,
    lease: Lease,
) -> RetentionSummary:
    """Delete what is past each conversation's retention as of `now`. The caller holds
    `lease`; it is renewed before every batch, and the run stops if it was lost."""
    summary = RetentionSummary()
    after: uuid.UUID | None = None
    while True:
        async with db.reads() as session:
            policies = await retention_policies(session, after=after, limit=CONVERSATION_PAGE)
        for policy in policies:
            days = effective_days(global_days, policy.retention_days)
            if days is not None:
                await _expire_conversation(
                    db,
                    storage,
                    conversation_id=policy.conversation_id,
                    cutoff=now - timedelta(days=days),
                    days=days,
                    lease=lease,
                    summary=summary,
                )
        if len(policies) < CONVERSATION_PAGE:
            return summary
        after = policies[-1].conversation_id


async def _expire_conversation(
    db: Database,
    storage: Storage,
    *,
    conversation_id: uuid.UUID,
    cutoff: datetime,
    days: int,
    lease: Lease,
    summary: RetentionSummary,
) -> None:
    totals = {"messages": 0, "versions": 0, "reactions": 0, "files": 0}
    while True:
        if not await lease.renew():
            raise LeaseLost(lease.name)
        async with db.unit_of_work() as session:
            batch = await expire_messages(
                session,
                conversation_id=conversation_id,
                cutoff=cutoff,
                storage=storage,
                limit=BATCH,
            )
            totals["messages"] += batch.messages
            totals["versions"] += batch.versions
            totals["reactions"] += batch.reactions
            totals["files"] += batch.files
            last = batch.messages < BATCH
            if last and totals["messages"]:
                # In the last batch's transaction: the entry commits with the final deletion.
                record(
                    session,
                    actor_id=None,
                    action=AuditAction.RETENTION_APPLIED,
                    conversation_id=conversation_id,
                    details={**totals, "cutoff": iso_z(cutoff), "retentionDays": days},
                )
        if last:
            break
    if totals["messages"]:
        summary.conversations += 1
        summary.touched.append(str(conversation_id))
        summary.messages += totals["messages"]
        summary.versions += totals["versions"]
        summary.reactions += totals["reactions"]
        summary.files += totals["files"]


async def run_once(
    db: Database,
    storage: Storage,
    *,
    now: datetime,
    global_days: int | None,
    lease: Lease,
) -> RetentionSummary:
    """Take the lease, run, let it go; `ran=False` when another process holds it."""
    if not await lease.acquire():
        return RetentionSummary(ran=False)
    try:
        return await apply_retention(db, storage, now=now, global_days=global_days, lease=lease)
    finally:
        await lease.release()
