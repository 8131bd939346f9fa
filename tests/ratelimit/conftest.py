"""The realtime tests' socket fixture, for the `rate_limit.exceeded` event."""

from tests.realtime.conftest import connect

__all__ = ["connect"]
