"""The setup most scheduled-message tests share: alice's conversation with bob, and a socket
of bob's on the session's server to see what is sent."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.realtime.sockets import Recorder, open_socket
from tests.support import Server, User, create_conversation


@dataclass
class Listening:
    conversation_id: str
    receiver: Recorder


@pytest.fixture
async def bob_listening(
    server: Server, client: httpx.AsyncClient, sockets: list[Recorder], alice: User, bob: User
) -> Listening:
    conversation = await create_conversation(client, alice, [bob])
    return Listening(conversation["id"], await open_socket(sockets, server, bob))
