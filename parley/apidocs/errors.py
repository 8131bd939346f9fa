"""Which errors each operation can answer with, beyond the ones every operation shares.

The one place that knows it: `document.py` turns each code into its status, the real error
body (`ErrorOut`) and an example. Shared errors are added from what the operation is:
authenticated (401), with parameters or a body (422; a JSON body 400 and 413), any (500, 503).
A route missing here fails tests/openapi (every operation must be listed).
"""

from __future__ import annotations

from parley.core.errors import ErrorCode as E

# The send gate (docs/api.md, Rate limits; Moderation; End-to-end encryption): every write
# others can see passes it.
_GATE = (
    E.CONVERSATION_NOT_FOUND,
    E.PERMISSION_DENIED,
    E.CONVERSATION_READ_ONLY,
    E.RATE_LIMITED,
)
_SEND = (
    *_GATE,
    E.MESSAGE_TOO_LONG,
    E.MESSAGE_NOT_FOUND,
    E.ENCRYPTION_NOT_ENABLED,
    E.ENCRYPTION_REQUIRED,
    E.ATTACHMENT_ALREADY_SENT,
    E.IDEMPOTENCY_KEY_REUSED,
    E.SCHEDULED_AT_INVALID,
    E.COMMIT_FAILED,
)
# A message of the caller's own still on its way to the commit answers MESSAGE_PENDING.
_MESSAGE = (E.MESSAGE_NOT_FOUND, E.MESSAGE_PENDING)
_CONVERSATION = (E.CONVERSATION_NOT_FOUND,)
_PARTICIPANT = (E.CONVERSATION_NOT_FOUND, E.PARTICIPANT_NOT_FOUND, E.PERMISSION_DENIED)

ROUTE_ERRORS: dict[str, tuple[E, ...]] = {
    # accounts
    "POST /auth/register": (E.USERNAME_TAKEN, E.RATE_LIMITED),
    "POST /auth/login": (E.INVALID_CREDENTIALS, E.RATE_LIMITED),
    "POST /auth/logout": (),
    "POST /auth/refresh": (),
    "POST /auth/logout-all": (),
    "POST /users/me/password": (E.INVALID_CREDENTIALS, E.RATE_LIMITED),
    "GET /users/me": (),
    "GET /users": (),
    # conversations
    "POST /conversations": (E.INVALID_PARTICIPANTS, E.USER_NOT_FOUND, E.PERMISSION_DENIED),
    "GET /conversations": (),
    "GET /conversations/{conversation_id}": _CONVERSATION,
    "PATCH /conversations/{conversation_id}": (*_CONVERSATION, E.PERMISSION_DENIED, E.CONFLICT),
    "POST /conversations/{conversation_id}/participants": (
        *_CONVERSATION,
        E.PERMISSION_DENIED,
        E.INVALID_PARTICIPANTS,
        E.USER_NOT_FOUND,
        E.PARTICIPANT_BANNED,
        E.CONFLICT,
    ),
    "GET /conversations/{conversation_id}/participants": _CONVERSATION,
    "PATCH /conversations/{conversation_id}/participants/{user_id}": (
        *_PARTICIPANT,
        E.CONFLICT,
        E.OWNER_MUST_TRANSFER,
    ),
    "DELETE /conversations/{conversation_id}/participants/{user_id}": (
        *_PARTICIPANT,
        E.CONFLICT,
        E.OWNER_MUST_TRANSFER,
    ),
    "POST /conversations/{conversation_id}/read": (*_CONVERSATION, E.MESSAGE_NOT_FOUND),
    "GET /conversations/{conversation_id}/analytics": (*_CONVERSATION, E.PERMISSION_DENIED),
    # messages
    "POST /messages": _SEND,
    "GET /messages/conversation/{conversation_id}": _CONVERSATION,
    "GET /messages/{message_id}": _MESSAGE,
    "PUT /messages/{message_id}": (
        *_MESSAGE,
        *_GATE,
        E.MESSAGE_TOO_LONG,
        E.MESSAGE_PENDING,
        E.MESSAGE_DELETED,
        E.EDIT_LIMIT_REACHED,
        E.ENCRYPTION_REQUIRED,
        E.ENCRYPTION_NOT_ENABLED,
    ),
    "DELETE /messages/{message_id}": (*_MESSAGE, E.PERMISSION_DENIED, E.MESSAGE_PENDING),
    "GET /messages/{message_id}/history": _MESSAGE,
    "GET /messages/{message_id}/thread": _MESSAGE,
    "POST /messages/{message_id}/reactions": (
        *_MESSAGE,
        *_GATE,
        E.MESSAGE_PENDING,
        E.MESSAGE_DELETED,
        E.REACTION_LIMIT_REACHED,
    ),
    "DELETE /messages/{message_id}/reactions/{emoji}": (
        *_MESSAGE,
        *_GATE,
        E.MESSAGE_PENDING,
        E.MESSAGE_DELETED,
    ),
    "POST /messages/{message_id}/forward": (
        *_MESSAGE,
        *_GATE,
        E.MESSAGE_PENDING,
        E.MESSAGE_DELETED,
        E.ENCRYPTION_REQUIRED,
        E.ENCRYPTION_NOT_ENABLED,
        E.COMMIT_FAILED,
    ),
    "POST /messages/{message_id}/report": (
        *_MESSAGE,
        E.PERMISSION_DENIED,
        E.MESSAGE_DELETED,
        E.CONFLICT,
        E.RATE_LIMITED,
    ),
    "GET /messages/search": (E.CONVERSATION_NOT_FOUND,),
    "GET /users/me/mentions": (),
    "GET /hashtags": (),
    "GET /hashtags/{tag}": (),
    # scheduled messages
    "GET /messages/scheduled": (),
    "GET /messages/scheduled/{scheduled_id}": (E.SCHEDULED_MESSAGE_NOT_FOUND,),
    "PATCH /messages/scheduled/{scheduled_id}": (
        E.SCHEDULED_MESSAGE_NOT_FOUND,
        E.SCHEDULED_MESSAGE_NOT_PENDING,
        E.SCHEDULED_AT_INVALID,
        *_GATE,
        E.MESSAGE_TOO_LONG,
        E.ENCRYPTION_REQUIRED,
        E.ENCRYPTION_NOT_ENABLED,
    ),
    "DELETE /messages/scheduled/{scheduled_id}": (
        E.SCHEDULED_MESSAGE_NOT_FOUND,
        E.SCHEDULED_MESSAGE_NOT_PENDING,
    ),
    # attachments (docs/api.md, Attachments)
    "POST /attachments": (
        E.PERMISSION_DENIED,
        E.CONVERSATION_NOT_FOUND,
        E.FILE_TOO_LARGE,
        E.RATE_LIMITED,
    ),
    "GET /attachments/{attachment_id}": (
        E.ATTACHMENT_NOT_FOUND,
        E.RANGE_NOT_SATISFIABLE,
        E.ATTACHMENT_UNREADABLE,
    ),
    # moderation, audit
    "GET /moderation/queue": (E.PERMISSION_DENIED, E.CONVERSATION_NOT_FOUND),
    "POST /moderation/queue/{item_id}/decision": (
        E.MODERATION_ITEM_NOT_FOUND,
        E.ALREADY_DECIDED,
        E.PERMISSION_DENIED,
    ),
    "GET /audit": (E.PERMISSION_DENIED, E.CONVERSATION_NOT_FOUND),
    # privacy (docs/api.md, Export and Erasure)
    "GET /users/me/export": (E.RATE_LIMITED,),
    "POST /users/me/export": (E.RATE_LIMITED,),
    "GET /users/me/export/{export_id}": (E.EXPORT_NOT_FOUND, E.EXPORT_NOT_READY),
    "GET /users/me/export/{export_id}/download": (E.EXPORT_NOT_FOUND, E.EXPORT_NOT_READY),
    "DELETE /users/me": (E.INVALID_CREDENTIALS, E.OWNER_MUST_TRANSFER, E.RATE_LIMITED),
    # operations
    "GET /health": (),
    "GET /metrics": (E.UNAUTHORIZED,),
}
