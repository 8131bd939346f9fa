"""Erasure: one action for `DELETE /users/me` and `parley users erase`."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.attachments.actions.erase import (
    carriers_of_uploads,
    delete_uploads_of,
    remove_bytes,
)
from parley.attachments.store import store
from parley.conversations.actions.withdraw_erased import withdraw_erased_user
from parley.core.audit import AuditAction, pseudonymize_actor, record
from parley.core.db import after_commit
from parley.core.idempotency import forget_user
from parley.messages.actions.erase import (
    drop_attachment_refs,
    erase_messages_of,
    redact_mentions_of,
)
from parley.privacy.exports import forget_exports_of
from parley.screening.erase import erase_texts_of


async def erase_account(session: AsyncSession, *, user_id: uuid.UUID, password: str) -> None:
    """The user's own erasure, confirmed by their password (INVALID_CREDENTIALS otherwise)."""
    await accounts.check_password(user_id=user_id, password=password)
    await erase_user(session, user_id=user_id)


async def erase_user(
    session: AsyncSession, *, user_id: uuid.UUID, by_administrator: bool = False
) -> None:
    """Erase the user's personal data in the caller's transaction; stored bytes (uploads,
    exports) are deleted after it commits. What stays: the user's id, their messages'
    places (tombstones) and counters, and a pseudonymous audit trail."""
    user = await accounts.get_user(session, user_id=user_id)
    await withdraw_erased_user(session, user_id=user_id)
    await redact_mentions_of(session, user_id=user_id, username=user.username)
    carriers = await carriers_of_uploads(session, uploader_id=user_id)
    await drop_attachment_refs(session, carriers=carriers)
    messages = await erase_messages_of(session, user_id=user_id)
    await erase_texts_of(session, user_id=user_id)
    upload_keys = await delete_uploads_of(session, uploader_id=user_id)
    export_keys = await forget_exports_of(session, user_id=user_id)
    await forget_user(session, user_id=user_id)
    await pseudonymize_actor(session, user_id=user_id)
    await accounts.erase_profile(session, user_id=user_id)
    record(
        session,
        actor_id=None if by_administrator else user_id,
        action=AuditAction.ACCOUNT_ERASED,
        target_user_id=user_id,
        details={
            "byAdministrator": by_administrator,
            "messages": messages,
            "uploads": len(upload_keys),
        },
    )
    storage = store().storage
    keys = upload_keys + export_keys

    async def delete_bytes() -> None:
        await remove_bytes(storage, keys)

    after_commit(session, delete_bytes)
