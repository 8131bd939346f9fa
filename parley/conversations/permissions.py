"""The permission table: who may do what in a conversation, and the only place it is written.

Pure rules, no I/O, so docs/permissions.md, the actions and the tests all read the same source.
Roles rank OWNER > ADMIN > MODERATOR > MEMBER. Acting on another member needs the action's
minimum role (`MINIMUM_ROLE`) and a strictly higher rank than theirs; granting a role needs a
higher rank than the role granted (the owner alone may hand over ownership). Nothing outside
this module compares ranks: actions and queries ask the named entries and functions below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from parley.core.errors import PermissionDenied


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
    LIST_FORMER_MEMBERS = "LIST_FORMER_MEMBERS"
    POST_ANNOUNCEMENT = "POST_ANNOUNCEMENT"
    DELETE_OTHERS_MESSAGES = "DELETE_OTHERS_MESSAGES"
    SEND_WHEN_CONVERSATION_MUTED = "SEND_WHEN_CONVERSATION_MUTED"
    VIEW_AUDIT = "VIEW_AUDIT"
    VIEW_ANALYTICS = "VIEW_ANALYTICS"
    REVIEW_FLAGGED_CONTENT = "REVIEW_FLAGGED_CONTENT"
    VIEW_MEMBER_FLAGS = "VIEW_MEMBER_FLAGS"


RANK: dict[Role, int] = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}

MINIMUM_ROLE: dict[Action, Role] = {
    Action.REMOVE_PARTICIPANT: Role.MODERATOR,
    Action.BAN_PARTICIPANT: Role.MODERATOR,
    Action.MUTE_PARTICIPANT: Role.MODERATOR,
    Action.CHANGE_ROLE: Role.ADMIN,
    Action.EDIT_PERMISSIONS: Role.ADMIN,
    Action.EDIT_SETTINGS: Role.ADMIN,
    Action.LIST_FORMER_MEMBERS: Role.MODERATOR,
    Action.POST_ANNOUNCEMENT: Role.MODERATOR,
    Action.DELETE_OTHERS_MESSAGES: Role.MODERATOR,
    Action.SEND_WHEN_CONVERSATION_MUTED: Role.MODERATOR,
    Action.VIEW_AUDIT: Role.ADMIN,
    Action.VIEW_ANALYTICS: Role.ADMIN,
    Action.REVIEW_FLAGGED_CONTENT: Role.MODERATOR,
    # Seeing another member's effective permission flags (one's own are always one's own).
    Action.VIEW_MEMBER_FLAGS: Role.MODERATOR,
}

# Actions whose target is another member: the actor must also outrank the target.
ACTS_ON_A_MEMBER = frozenset(
    {
        Action.REMOVE_PARTICIPANT,
        Action.BAN_PARTICIPANT,
        Action.MUTE_PARTICIPANT,
        Action.CHANGE_ROLE,
        Action.EDIT_PERMISSIONS,
        Action.VIEW_MEMBER_FLAGS,
    }
)

# Moving a member to a status is the action of that status; back to ACTIVE it is the action of
# the status they leave (unban, unmute).
STATUS_ACTION: dict[ParticipantStatus, Action] = {
    ParticipantStatus.BANNED: Action.BAN_PARTICIPANT,
    ParticipantStatus.REMOVED: Action.REMOVE_PARTICIPANT,
    ParticipantStatus.MUTED: Action.MUTE_PARTICIPANT,
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

# Members in these statuses see the conversation (its events, pages and list entry); the others
# (LEFT, REMOVED, BANNED) are answered as if it did not exist.
VISIBLE_STATUSES = frozenset({ParticipantStatus.ACTIVE, ParticipantStatus.MUTED})

# The owner who hands ownership over keeps this role.
FORMER_OWNER_ROLE = Role.ADMIN


def sees_conversation(status: ParticipantStatus | str) -> bool:
    """Whether a member in this status sees the conversation and hears its events."""
    return status in VISIBLE_STATUSES


def visible_statuses() -> list[ParticipantStatus]:
    """VISIBLE_STATUSES for a SQL `IN`, read when called so that the table stays the source."""
    return list(VISIBLE_STATUSES)


def has_roles(conversation_type: ConversationType | str) -> bool:
    """A DIRECT conversation has two equals: no roles, nobody removed, either edits settings."""
    return conversation_type != ConversationType.DIRECT


def creator_role(conversation_type: ConversationType | str) -> Role:
    return Role.OWNER if has_roles(conversation_type) else Role.MEMBER


def has_role(role: Role, action: Action) -> bool:
    return RANK[role] >= RANK[MINIMUM_ROLE[action]]


def roles_allowed(action: Action) -> list[Role]:
    return [role for role in Role if has_role(role, action)]


def outranks(actor: Role, target: Role) -> bool:
    return RANK[actor] > RANK[target]


def outranks_sender(actor: Role, sender_role: Role | None) -> bool:
    """Acting on someone's message: they must rank lower, or no longer be a member."""
    return sender_role is None or outranks(actor, sender_role)


def may_grant(actor: Role, granted: Role) -> bool:
    """Anyone who may add people may add MEMBERs; other roles need a higher rank than theirs.
    OWNER is never granted, only handed over (`may_hand_over_ownership`)."""
    return granted == Role.MEMBER or outranks(actor, granted)


def may_hand_over_ownership(actor: Role) -> bool:
    return actor == Role.OWNER


def must_hand_over_before_leaving(role: Role) -> bool:
    """The owner leaves only once nobody else is left, or after handing ownership over."""
    return role == Role.OWNER


def may_read_held(role: Role, viewer_id: object, sender_id: object) -> bool:
    """A message held for review is readable by its sender and the reviewers only."""
    return str(viewer_id) == str(sender_id) or has_role(role, Action.REVIEW_FLAGGED_CONTENT)


def may_decide_on(reviewer: Role, *, own_message: bool, sender_role: Role | None) -> bool:
    """A reviewer decides on messages of lower roles and former members; the owner, having
    nobody above, decides on anyone's, their own included."""
    if reviewer == Role.OWNER:
        return True
    return not own_message and outranks_sender(reviewer, sender_role)


def may_act_on(actor: Role, target: Role, action: Action) -> bool:
    """The actor's role reaches the action and outranks the member acted on."""
    return has_role(actor, action) and outranks(actor, target)


def require_role(role: Role, action: Action, message: str | None = None) -> None:
    """PERMISSION_DENIED unless `role` reaches the action's minimum role."""
    if not has_role(role, action):
        raise PermissionDenied(
            message or f"Your role may not {action.lower().replace('_', ' ')}",
            action=str(action),
        )


def require_over(actor: Role, target: Role, action: Action) -> None:
    """PERMISSION_DENIED unless the actor may take `action` and outranks the target."""
    require_role(actor, action)
    if action in ACTS_ON_A_MEMBER and not outranks(actor, target):
        raise PermissionDenied(
            "You may only act on members of a lower role",
            action=str(action),
            targetRole=str(target),
        )


def sees_member_flags(viewer: Role, member: Role) -> bool:
    """Another member's permission flags are seen by those who may act on them
    (VIEW_MEMBER_FLAGS over a lower role); the rest of their private state by nobody else."""
    return may_act_on(viewer, member, Action.VIEW_MEMBER_FLAGS)


def status_change_action(old: ParticipantStatus, new: ParticipantStatus) -> Action:
    """The action that moving a member from `old` to `new` takes."""
    return STATUS_ACTION.get(new) or STATUS_ACTION.get(old, Action.MUTE_PARTICIPANT)


# The status changes `PATCH .../participants/{userId}` may make: from -> the statuses it may set.
# LEFT and REMOVED lead nowhere: a former member comes back only through POST .../participants,
# with its checks (the flag canAddParticipants, the role granted, the conversation's state). Not
# even to BANNED: banning and unbanning would be a way around them. BANNED -> REMOVED lifts a
# ban without letting the member back in (they may then be added again).
STATUS_TRANSITIONS: dict[ParticipantStatus, frozenset[ParticipantStatus]] = {
    ParticipantStatus.ACTIVE: frozenset(
        {ParticipantStatus.MUTED, ParticipantStatus.BANNED, ParticipantStatus.REMOVED}
    ),
    ParticipantStatus.MUTED: frozenset(
        {ParticipantStatus.ACTIVE, ParticipantStatus.BANNED, ParticipantStatus.REMOVED}
    ),
    ParticipantStatus.BANNED: frozenset({ParticipantStatus.ACTIVE, ParticipantStatus.REMOVED}),
    ParticipantStatus.LEFT: frozenset(),
    ParticipantStatus.REMOVED: frozenset(),
}

# Ownership is handed over only to a member in these statuses, so that the conversation always
# has an owner who can govern it.
OWNER_STATUSES = frozenset({ParticipantStatus.ACTIVE})


def may_change_status(old: ParticipantStatus, new: ParticipantStatus) -> bool:
    """STATUS_TRANSITIONS allows `old` -> `new`; setting the status one has changes nothing."""
    return new == old or new in STATUS_TRANSITIONS[old]


def may_change_role_of(status: ParticipantStatus | str) -> bool:
    """Roles and permission flags change only for members who see the conversation (not LEFT,
    REMOVED, BANNED): a former member is added again first."""
    return sees_conversation(status)


def may_receive_ownership(status: ParticipantStatus | str) -> bool:
    return status in OWNER_STATUSES


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
    end_to_end_encryption: bool = False

    def may(self, action: Action) -> bool:
        return has_role(self.role, action)

    def flag(self, name: str) -> bool:
        return effective_permissions(self.role, self.permission_overrides)[name]

    @property
    def conversation_open(self) -> bool:
        """The conversation's state lets this member write: ACTIVE, or MUTED for the roles
        with SEND_WHEN_CONVERSATION_MUTED; never ARCHIVED (read-only) or DELETED."""
        if self.conversation_status == ConversationStatus.MUTED:
            return self.may(Action.SEND_WHEN_CONVERSATION_MUTED)
        return self.conversation_status == ConversationStatus.ACTIVE

    @property
    def may_send(self) -> bool:
        """Send, edit, forward into, and be announced typing."""
        return (
            self.status == ParticipantStatus.ACTIVE
            and self.flag("canSendMessages")
            and self.conversation_open
        )

    @property
    def may_react(self) -> bool:
        """Add or take back a reaction: the flag canReact, and the state a send needs."""
        return (
            self.status == ParticipantStatus.ACTIVE
            and self.flag("canReact")
            and self.conversation_open
        )
