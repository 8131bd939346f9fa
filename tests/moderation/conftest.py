"""The realtime tests' socket fixture, for `moderation.flagged` and the message events."""

from tests.realtime.conftest import connect

__all__ = ["connect"]
