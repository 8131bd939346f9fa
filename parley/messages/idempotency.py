"""Which (sender, clientMessageId) pairs may already be committed, without asking the database.

The committer writes a key for every send that carries a clientMessageId *before* its batch
commits, so an absent key proves the pair was never committed (within the keys' lifetime) and
the send path can skip the database lookup. A present key only means "maybe": the database,
whose unique index is the final word, is asked then. Only a shared cache (Redis) can vouch for
absence; the in-process cache cannot know what earlier processes committed, so in embedded
mode every send with a clientMessageId asks the database.

If a key is lost (eviction, expiry after IDEMPOTENCY_TTL_SECONDS, a failed write), a retry of a
committed send is answered with a new pending id; the unique index still keeps it from being
stored twice and the committer resolves it to the stored message (message_confirmed names it).
"""

from __future__ import annotations

import uuid

from parley.core import runtime

IDEMPOTENCY_TTL_SECONDS = 7 * 86400


def _key(sender_id: uuid.UUID | str, client_message_id: str) -> str:
    return f"sent:{sender_id}:{client_message_id}"


def ledger_key(sender_id: uuid.UUID, client_message_id: str) -> str | None:
    """The cache key that vouches for this pair, None where no shared cache can (then the
    pair may always be committed): read by the send path with its other cache keys."""
    if not runtime.current().cache.shared:
        return None
    return _key(sender_id, client_message_id)


def may_be_committed(entry: object, *, key: str | None) -> bool:
    """From the value read at `ledger_key` (`entry`): False only when it is certain no message
    with this pair was committed."""
    return key is None or entry is not None


async def remember(pairs: dict[tuple[str, str], str]) -> None:
    """Record (sender, clientMessageId) -> message id before the batch that stores them commits."""
    if not pairs:
        return
    cache = runtime.current().cache
    if not cache.shared:
        return
    await cache.set_many(
        {_key(sender, client_id): message_id for (sender, client_id), message_id in pairs.items()},
        IDEMPOTENCY_TTL_SECONDS,
    )
