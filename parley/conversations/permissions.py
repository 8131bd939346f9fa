"""The permission table: who may do what in a conversation.

Pure rules, no I/O, so the table in docs/permissions.md, the services and the tests all read the
same source. Roles rank OWNER > ADMIN > MODERATOR > MEMBER. Acting on another member needs a
strictly higher rank than theirs; granting a role needs a higher rank than the role granted
(the owner alone may hand over ownership).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MODERATOR = "MODERATOR"
    MEMBER = "MEMBER"


class ParticipantStatus(StrEnum):
    ACTIVE = "ACTIVE"
    MUTED = "MUTED"
    LEFT = "LEFT"
    REMOVED = "REMOVED"
    BANNED = "BANNED"


class ConversationType(StrEnum):
    DIRECT = "DIRECT"
    GROUP = "GROUP"
    SPACE = "SPACE"
    COMMUNITY = "COMMUNITY"


class ConversationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    DELETED = "DELETED"
    MUTED = "MUTED"


class Action(StrEnum):
    """Role-gated actions (per-member flags are in PERMISSION_FLAGS)."""

    REMOVE_PARTICIPANT = "REMOVE_PARTICIPANT"
    BAN_PARTICIPANT = "BAN_PARTICIPANT"
    MUTE_PARTICIPANT = "MUTE_PARTICIPANT"
    CHANGE_ROLE = "CHANGE_ROLE"
    EDIT_PERMISSIONS = "EDIT_PERMISSIONS"
    EDIT_SETTINGS = "EDIT_SETTINGS"
    DELETE_OTHERS_MESSAGES = "DELETE_OTHERS_MESSAGES"
    SEND_WHEN_CONVERSATION_MUTED = "SEND_WHEN_CONVERSATION_MUTED"
    VIEW_AUDIT = "VIEW_AUDIT"
    REVIEW_FLAGGED_CONTENT = "REVIEW_FLAGGED_CONTENT"


RANK: dict[Role, int] = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}

MINIMUM_ROLE: dict[Action, Role] = {
    Action.REMOVE_PARTICIPANT: Role.MODERATOR,
    Action.BAN_PARTICIPANT: Role.MODERATOR,
    Action.MUTE_PARTICIPANT: Role.MODERATOR,
    Action.CHANGE_ROLE: Role.ADMIN,
    Action.EDIT_PERMISSIONS: Role.ADMIN,
    Action.EDIT_SETTINGS: Role.ADMIN,
    Action.DELETE_OTHERS_MESSAGES: Role.MODERATOR,
    Action.SEND_WHEN_CONVERSATION_MUTED: Role.MODERATOR,
    Action.VIEW_AUDIT: Role.ADMIN,
    Action.REVIEW_FLAGGED_CONTENT: Role.MODERATOR,
}

# Per-member flags and the role's default for each; an admin may override any of them per
# member (the override is stored, the default follows the role when it changes).
PERMISSION_FLAGS: dict[str, dict[Role, bool]] = {
    "canSendMessages": {
        Role.MEMBER: True,
        Role.MODERATOR: True,
        Role.ADMIN: True,
        Role.OWNER: True,
    },
    "canUploadFiles": {Role.MEMBER: True, Role.MODERATOR: True, Role.ADMIN: True, Role.OWNER: True},
    "canAddParticipants": {
        Role.MEMBER: True,
        Role.MODERATOR: True,
        Role.ADMIN: True,
        Role.OWNER: True,
    },
    "canPinMessages": {
        Role.MEMBER: False,
        Role.MODERATOR: True,
        Role.ADMIN: True,
        Role.OWNER: True,
    },
    "canReact": {Role.MEMBER: True, Role.MODERATOR: True, Role.ADMIN: True, Role.OWNER: True},
    "canForwardMessages": {
        Role.MEMBER: True,
        Role.MODERATOR: True,
        Role.ADMIN: True,
        Role.OWNER: True,
    },
}

VISIBLE_STATUSES = frozenset({ParticipantStatus.ACTIVE, ParticipantStatus.MUTED})


def has_role(role: Role, action: Action) -> bool:
    return RANK[role] >= RANK[MINIMUM_ROLE[action]]


def roles_allowed(action: Action) -> list[Role]:
    return [role for role in Role if has_role(role, action)]


def may_read_held(role: Role, viewer_id: object, sender_id: object) -> bool:
    """A message held for review is readable by its sender and the reviewers only."""
    return str(viewer_id) == str(sender_id) or has_role(role, Action.REVIEW_FLAGGED_CONTENT)


def outranks(actor: Role, target: Role) -> bool:
    return RANK[actor] > RANK[target]


def effective_permissions(role: Role, overrides: dict[str, Any]) -> dict[str, bool]:
    return {
        flag: bool(overrides[flag]) if isinstance(overrides.get(flag), bool) else defaults[role]
        for flag, defaults in PERMISSION_FLAGS.items()
    }


@dataclass(frozen=True)
class Membership:
    """What the access check needs about one user in one conversation (cached)."""

    conversation_id: str
    user_id: str
    conversation_type: ConversationType
    conversation_status: ConversationStatus
    rate_limit: int | None
    role: Role
    status: ParticipantStatus
    permission_overrides: dict[str, Any] = field(default_factory=dict)
    typing_indicators: bool = True
    read_receipts: bool = True
    moderation: bool = True

    def may(self, action: Action) -> bool:
        return has_role(self.role, action)

    def flag(self, name: str) -> bool:
        return effective_permissions(self.role, self.permission_overrides)[name]

    @property
    def may_send(self) -> bool:
        if self.status != ParticipantStatus.ACTIVE or not self.flag("canSendMessages"):
            return False
        if self.conversation_status == ConversationStatus.MUTED:
            return self.may(Action.SEND_WHEN_CONVERSATION_MUTED)
        return self.conversation_status == ConversationStatus.ACTIVE
