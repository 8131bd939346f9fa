"""The SDK's end-to-end encryption example (examples/e2e_encryption.py) works against the
server: a sealed envelope is accepted, relayed untouched and opened by the other member."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from cryptography.exceptions import InvalidTag

from tests.conftest import ROOT
from tests.support import PASSWORD, Server, User


def _example() -> ModuleType:
    path = ROOT / "examples" / "e2e_encryption.py"
    spec = importlib.util.spec_from_file_location("e2e_encryption_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_envelope_opens_only_with_its_key_in_its_conversation() -> None:
    example = _example()
    key = example.new_shared_key()
    envelope = example.seal(key, "k1", "hello there", conversation_id="room-1")

    assert "hello" not in envelope
    assert example.open_envelope({"k1": key}, envelope, conversation_id="room-1") == "hello there"
    with pytest.raises(InvalidTag):
        example.open_envelope({"k1": key}, envelope, conversation_id="room-2")
    with pytest.raises(InvalidTag):
        example.open_envelope({"k1": example.new_shared_key()}, envelope, conversation_id="room-1")


async def test_demo_sends_a_sealed_message_the_other_member_opens(
    server: Server, alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _example()

    await example.demo(server.url, alice.username, bob.username, PASSWORD)

    assert capsys.readouterr().out.strip() == f"{alice.id}: meet at the old mill"
