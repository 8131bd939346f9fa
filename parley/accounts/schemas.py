"""Account requests and responses."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from parley.core.schemas import ApiModel, InputModel, Timestamp

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"


class UserStatus(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"


class RegisterRequest(InputModel):
    username: str = Field(
        pattern=USERNAME_PATTERN,
        description="3-32 letters, digits, `_`, `.` or `-`; unique ignoring case",
    )
    password: str = Field(min_length=8, max_length=256)
    display_name: str | None = Field(default=None, min_length=1, max_length=64)


class LoginRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(ApiModel):
    """Public fields of a user: what other people may see."""

    id: uuid.UUID
    username: str
    display_name: str
    created_at: Timestamp
    status: UserStatus
    last_seen_at: Timestamp | None = None


class TokenOut(ApiModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserOut


class PasswordChangeRequest(InputModel):
    current_password: str = Field(min_length=1, max_length=256)
    # The same rule as registration.
    new_password: str = Field(min_length=8, max_length=256)


class RevocationReason(StrEnum):
    LOGGED_OUT = "LOGGED_OUT"
    REFRESHED = "REFRESHED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    LOGGED_OUT_EVERYWHERE = "LOGGED_OUT_EVERYWHERE"
    ACCOUNT_ERASED = "ACCOUNT_ERASED"


class SessionRevokedEvent(ApiModel):
    """The token these sockets connected with was revoked; they are disconnected next."""

    reason: RevocationReason = RevocationReason.LOGGED_OUT
