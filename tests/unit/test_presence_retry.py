"""Going offline is retried when Redis or the database fails at that moment (as when
thousands of sockets drop at once), and dropped when the user comes back first."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from parley.presence import service as presence_service
from parley.presence.service import Presence


class FlakyPresence(Presence):
    """Presence without Redis or a database: leaving fails `failures` times, then works."""

    def __init__(self, failures: int) -> None:
        super().__init__(None, "test:", ttl_seconds=3)
        self.failures = failures
        self.left: list[uuid.UUID] = []

    async def _left_everywhere(self, user_id: uuid.UUID) -> None:
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("No connection available.")
        self.left.append(user_id)

    async def _announce(self, user_id: uuid.UUID, *, online: bool) -> None:
        pass

    async def settled(self) -> None:
        if self._retrying is not None:
            await asyncio.wait_for(self._retrying, 10)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presence_service, "RETRY_FIRST_DELAY", 0.01)


async def test_failed_offline_is_retried_until_it_succeeds() -> None:
    presence = FlakyPresence(failures=3)
    user = uuid.uuid4()
    await presence.socket_connected(user)

    await presence.socket_disconnected(user)  # fails: deferred, not raised
    await presence.settled()

    assert presence.left == [user]
    assert presence.failures == 0


async def test_user_back_before_the_retry_is_not_taken_offline() -> None:
    presence = FlakyPresence(failures=1)
    user = uuid.uuid4()
    await presence.socket_connected(user)
    await presence.socket_disconnected(user)

    await presence.socket_connected(user)
    await presence.settled()

    assert presence.left == []
