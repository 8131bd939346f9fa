"""The review queue's item status and report reasons (stored, and public in responses)."""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class ReportReason(StrEnum):
    """Why a member reports a message; its queue item's reason is `REPORTED_<reason>`."""

    SPAM = "SPAM"
    ABUSE = "ABUSE"
    OTHER = "OTHER"
