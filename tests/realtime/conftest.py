"""Fixtures for the realtime tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.realtime.sockets import Connect, Recorder
from tests.support import Server, User


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[Connect]:
    opened: list[Recorder] = []

    async def _connect(
        user: User | None = None, ignore: frozenset[str] | None = None, **options: Any
    ) -> Recorder:
        recorder = Recorder() if ignore is None else Recorder(ignore)
        opened.append(recorder)
        if user is not None:
            options.setdefault("auth", {"token": user.token})
        await recorder.client.connect(server.url, transports=["websocket"], **options)
        return recorder

    yield _connect
    for recorder in opened:
        await recorder.close()
