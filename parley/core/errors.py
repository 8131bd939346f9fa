"""Errors the client must tell apart, and their one rendering.

Hierarchy: `AppError` -> one subclass per failure. Each carries a public `code` (never renamed,
only added), an HTTP `status` and optional `details`. The FastAPI handler in `main.py` and the
Socket.IO ack helper both render `{"error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_JSON = "INVALID_JSON"
    UNAUTHORIZED = "UNAUTHORIZED"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    CONVERSATION_NOT_FOUND = "CONVERSATION_NOT_FOUND"
    MESSAGE_NOT_FOUND = "MESSAGE_NOT_FOUND"
    PARTICIPANT_NOT_FOUND = "PARTICIPANT_NOT_FOUND"
    USERNAME_TAKEN = "USERNAME_TAKEN"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    MESSAGE_PENDING = "MESSAGE_PENDING"
    MESSAGE_DELETED = "MESSAGE_DELETED"
    CONVERSATION_READ_ONLY = "CONVERSATION_READ_ONLY"
    INVALID_PARTICIPANTS = "INVALID_PARTICIPANTS"
    PARTICIPANT_BANNED = "PARTICIPANT_BANNED"
    OWNER_MUST_TRANSFER = "OWNER_MUST_TRANSFER"
    CONFLICT = "CONFLICT"
    MODERATION_ITEM_NOT_FOUND = "MODERATION_ITEM_NOT_FOUND"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    COMMIT_FAILED = "COMMIT_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    ENCRYPTION_NOT_ENABLED = "ENCRYPTION_NOT_ENABLED"
    ENCRYPTION_REQUIRED = "ENCRYPTION_REQUIRED"
    EDIT_LIMIT_REACHED = "EDIT_LIMIT_REACHED"
    REACTION_LIMIT_REACHED = "REACTION_LIMIT_REACHED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ATTACHMENT_NOT_FOUND = "ATTACHMENT_NOT_FOUND"
    ATTACHMENT_UNREADABLE = "ATTACHMENT_UNREADABLE"
    ATTACHMENT_ALREADY_SENT = "ATTACHMENT_ALREADY_SENT"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    SCHEDULED_MESSAGE_NOT_FOUND = "SCHEDULED_MESSAGE_NOT_FOUND"
    EXPORT_NOT_FOUND = "EXPORT_NOT_FOUND"
    EXPORT_NOT_READY = "EXPORT_NOT_READY"
    SCHEDULED_AT_INVALID = "SCHEDULED_AT_INVALID"
    SCHEDULED_MESSAGE_NOT_PENDING = "SCHEDULED_MESSAGE_NOT_PENDING"
    WEB_CLIENT_NOT_BUILT = "WEB_CLIENT_NOT_BUILT"


class AppError(Exception):
    """Base of every error a client sees; subclasses fix `code` and `status`."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Something went wrong on our side"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message, "details": self.details}}


class ValidationFailed(AppError):
    """Bad input. With `field`, details carry `errors: [{field, message, type}]`, the same
    shape as request-validation errors, so clients read both alike."""

    code = ErrorCode.VALIDATION_ERROR
    status = 422
    default_message = "The request is not valid"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        field = details.get("field")
        if field is not None and "errors" not in details:
            details["errors"] = [
                {"field": field, "message": message or self.default_message, "type": "value_error"}
            ]
        super().__init__(message, **details)


class InvalidJson(AppError):
    code = ErrorCode.INVALID_JSON
    status = 400
    default_message = "The request body is not valid JSON"


class Unauthorized(AppError):
    code = ErrorCode.UNAUTHORIZED
    status = 401
    default_message = "Authentication is required: send Authorization: Bearer <token>"


class InvalidToken(AppError):
    code = ErrorCode.INVALID_TOKEN
    status = 401
    default_message = "The token is not valid"


class TokenExpired(AppError):
    code = ErrorCode.TOKEN_EXPIRED
    status = 401
    default_message = "The token has expired: log in again"


class InvalidCredentials(AppError):
    code = ErrorCode.INVALID_CREDENTIALS
    status = 401
    default_message = "Wrong username or password"


class PermissionDenied(AppError):
    code = ErrorCode.PERMISSION_DENIED
    status = 403
    default_message = "You are not allowed to do that"


class RouteNotFound(AppError):
    code = ErrorCode.NOT_FOUND
    status = 404
    default_message = "Not found"


class WebClientNotBuilt(AppError):
    """`/` asked for the web client on a server that has no build of it (WEB_DIST_DIR)."""

    code = ErrorCode.WEB_CLIENT_NOT_BUILT
    status = 404
    default_message = "The web client is not built"


class MethodNotAllowed(AppError):
    code = ErrorCode.METHOD_NOT_ALLOWED
    status = 405
    default_message = "This method is not allowed here"


class UserNotFound(AppError):
    code = ErrorCode.USER_NOT_FOUND
    status = 404
    default_message = "User not found"


class ConversationNotFound(AppError):
    code = ErrorCode.CONVERSATION_NOT_FOUND
    status = 404
    default_message = "Conversation not found"


class MessageNotFound(AppError):
    code = ErrorCode.MESSAGE_NOT_FOUND
    status = 404
    default_message = "Message not found"


class ParticipantNotFound(AppError):
    code = ErrorCode.PARTICIPANT_NOT_FOUND
    status = 404
    default_message = "Participant not found"


class UsernameTaken(AppError):
    code = ErrorCode.USERNAME_TAKEN
    status = 409
    default_message = "That username is taken"


class MessageTooLong(AppError):
    code = ErrorCode.MESSAGE_TOO_LONG
    status = 413
    default_message = "The message is too long"


class MessagePending(AppError):
    code = ErrorCode.MESSAGE_PENDING
    status = 409
    default_message = "The message is not committed yet: try again once it is confirmed"


class MessageDeleted(AppError):
    code = ErrorCode.MESSAGE_DELETED
    status = 409
    default_message = "The message was deleted"


class ConversationReadOnly(AppError):
    code = ErrorCode.CONVERSATION_READ_ONLY
    status = 409
    default_message = "The conversation does not accept new messages"


class InvalidParticipants(AppError):
    code = ErrorCode.INVALID_PARTICIPANTS
    status = 422
    default_message = "The participants do not fit this conversation type"


class ParticipantBanned(AppError):
    code = ErrorCode.PARTICIPANT_BANNED
    status = 409
    default_message = "The user is banned from this conversation: unban them first"


class OwnerMustTransfer(AppError):
    code = ErrorCode.OWNER_MUST_TRANSFER
    status = 409
    default_message = "The owner must make someone else owner before leaving"


class ScheduledMessageNotFound(AppError):
    code = ErrorCode.SCHEDULED_MESSAGE_NOT_FOUND
    status = 404
    default_message = "Scheduled message not found"


class ScheduledAtInvalid(AppError):
    """`scheduledAt` in the past, too soon or too far ahead (details: `reason`)."""

    code = ErrorCode.SCHEDULED_AT_INVALID
    status = 422
    default_message = "scheduledAt must lie in the future, within the allowed horizon"


class ScheduledMessageNotPending(AppError):
    """A scheduled message already sent, failed, cancelled or being sent cannot change."""

    code = ErrorCode.SCHEDULED_MESSAGE_NOT_PENDING
    status = 409
    default_message = "This scheduled message is no longer waiting to be sent"


class Conflict(AppError):
    code = ErrorCode.CONFLICT
    status = 409
    default_message = "The request conflicts with the current state"


class PayloadTooLarge(AppError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    status = 413
    default_message = "The request body is too large"


class ModerationItemNotFound(AppError):
    code = ErrorCode.MODERATION_ITEM_NOT_FOUND
    status = 404
    default_message = "No such review item, or it is not yours to review"


class AlreadyDecided(AppError):
    code = ErrorCode.ALREADY_DECIDED
    status = 409
    default_message = "This item has been decided already"


class RateLimited(AppError):
    """Too many requests; details say which limit, and Retry-After when to come back."""

    code = ErrorCode.RATE_LIMITED
    status = 429
    default_message = "Too many requests: slow down"


class CommitFailed(AppError):
    code = ErrorCode.COMMIT_FAILED
    status = 503
    default_message = "The message could not be stored"


class ServiceUnavailable(AppError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    status = 503
    default_message = "A service Parley depends on is unavailable: try again shortly"


# How soon a client refused by a stopping instance should try again (elsewhere).
SHUTDOWN_RETRY_AFTER_SECONDS = 1


class ShuttingDown(ServiceUnavailable):
    """A new send (or socket) reaches an instance that began its graceful shutdown. The code
    stays SERVICE_UNAVAILABLE, which every client already resends after Retry-After;
    `details.reason` SHUTTING_DOWN tells one that knows other instances to go to them."""

    default_message = "This server is shutting down: send it again (to another server)"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message, retryAfterSeconds=SHUTDOWN_RETRY_AFTER_SECONDS, reason="SHUTTING_DOWN"
        )


class EncryptionNotEnabled(AppError):
    """`encrypted: true` where the conversation's `endToEndEncryption` setting is off."""

    code = ErrorCode.ENCRYPTION_NOT_ENABLED
    status = 409
    default_message = "End-to-end encryption is not enabled in this conversation"


class EncryptionRequired(AppError):
    """Plain text where the conversation's `endToEndEncryption` setting is on."""

    code = ErrorCode.ENCRYPTION_REQUIRED
    status = 409
    default_message = "This conversation is end-to-end encrypted: send an encrypted envelope"


class EditLimitReached(AppError):
    """The message has MAX_MESSAGE_VERSIONS versions: it cannot be edited again."""

    code = ErrorCode.EDIT_LIMIT_REACHED
    status = 409
    default_message = "This message has been edited as often as it may be"


class ReactionLimitReached(AppError):
    """A new reaction past a cap: details.scope is MESSAGE (distinct emoji on the message) or
    USER (the caller's reactions on the message)."""

    code = ErrorCode.REACTION_LIMIT_REACHED
    status = 409
    default_message = "This message cannot take another reaction"


class IdempotencyKeyReused(AppError):
    """An `Idempotency-Key` already answered another request (endpoint, path or body) of this
    user within its lifetime."""

    code = ErrorCode.IDEMPOTENCY_KEY_REUSED
    status = 422
    default_message = "This Idempotency-Key was used for another request: use a new key"


class ExportNotFound(AppError):
    """No such export, or not the caller's (never told apart), or expired."""

    code = ErrorCode.EXPORT_NOT_FOUND
    status = 404
    default_message = "No such export"


class ExportNotReady(AppError):
    """The export is still being written, or failed: nothing to download."""

    code = ErrorCode.EXPORT_NOT_READY
    status = 409
    default_message = "The export is not ready"


class AttachmentNotFound(AppError):
    """No such attachment, or not one the caller may fetch (never told apart)."""

    code = ErrorCode.ATTACHMENT_NOT_FOUND
    status = 404
    default_message = "No such attachment"


class AttachmentUnreadable(AppError):
    """The stored file fails authentication (altered or cut short) or was sealed with a key
    ENCRYPTION_KEYS lacks: nothing of it is sent. The server's fault, not the client's."""

    code = ErrorCode.ATTACHMENT_UNREADABLE
    status = 500
    default_message = "The file cannot be read from storage"


class AttachmentAlreadySent(AppError):
    """An attachment goes out in one message; forwarding that message carries it on."""

    code = ErrorCode.ATTACHMENT_ALREADY_SENT
    status = 409
    default_message = "This attachment was sent in another message: forward that message"


class FileTooLarge(AppError):
    """An upload past MAX_FILE_SIZE; nothing of it is kept."""

    code = ErrorCode.FILE_TOO_LARGE
    status = 413
    default_message = "The file is larger than this server accepts"


class RangeNotSatisfiable(AppError):
    """A `Range` that starts past the end of the file."""

    code = ErrorCode.RANGE_NOT_SATISFIABLE
    status = 416
    default_message = "The requested range is outside the file"

    def __init__(self, *, size: int) -> None:
        super().__init__(size=size)
        self.headers = {"Content-Range": f"bytes */{size}"}


# Failures of what Parley depends on (database, Redis, the network): the client should retry.
DEPENDENCY_FAILURES = (OperationalError, DBAPIError, PoolTimeout, RedisError, OSError)


def is_dependency_failure(error: BaseException) -> bool:
    return isinstance(error, DEPENDENCY_FAILURES)


def unexpected(error: BaseException) -> AppError:
    """An exception no code turned into an AppError, as clients see it (REST and socket
    alike): 503 SERVICE_UNAVAILABLE when a dependency failed, else 500 INTERNAL_ERROR."""
    return ServiceUnavailable() if is_dependency_failure(error) else AppError()
