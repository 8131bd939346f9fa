"""The review queue's item status (stored, and public in the queue's responses)."""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
