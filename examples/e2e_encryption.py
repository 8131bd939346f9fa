"""End-to-end encryption with the Parley SDK: an EXAMPLE of the envelope, not key management.

The server never sees the key: clients seal each message's text with AES-256-GCM (the
`cryptography` package) and send the sealed envelope with `encrypted: true`; the server stores
and relays it byte for byte, never indexes, scores, previews or notifies its text (docs/api.md,
"End-to-end encryption"). Only clients holding the key read it.

What this example does NOT do, and a real product must: agree on keys (e.g. X25519 + a ratchet,
or MLS), distribute them to new members and devices, rotate them when someone leaves, verify
who holds them, and store them safely. Here the users share one 32-byte key "out of band"
(read aloud, scanned as a QR code...) and name it with a key id of their choosing.

    .venv/bin/python examples/e2e_encryption.py http://127.0.0.1:8000 alice bob PASSWORD

registers nothing: alice and bob must exist (POST /auth/register). It creates a conversation
with `settings.endToEndEncryption` on, sends one sealed message as alice, and reads it back as
bob, opening it with the shared key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parley.client import ParleyClient

NONCE_BYTES = 12


def new_shared_key() -> bytes:
    """A fresh 32-byte key for the users to exchange out of band."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, key_id: str, plaintext: str, *, conversation_id: str) -> str:
    """The envelope (format 1: `v`, `kid`, `nonce`, `ct`) to send as `content` with
    `encrypted: true`. The conversation id is authenticated (AES-GCM associated data), so an
    envelope copied into another conversation fails to open there."""
    nonce = os.urandom(NONCE_BYTES)  # never reuse a nonce with the same key
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), conversation_id.encode())
    return json.dumps(
        {
            "v": 1,
            "kid": key_id,
            "nonce": base64.b64encode(nonce).decode(),
            "ct": base64.b64encode(sealed).decode(),
        }
    )


def open_envelope(keys: dict[str, bytes], content: str, *, conversation_id: str) -> str:
    """The plaintext of a received envelope, with the key its `kid` names; raises
    `cryptography.exceptions.InvalidTag` for a wrong key, conversation or altered bytes."""
    envelope = json.loads(content)
    if envelope.get("v") != 1:
        raise ValueError("unknown envelope version")
    key = keys[envelope["kid"]]
    nonce = base64.b64decode(envelope["nonce"])
    sealed = base64.b64decode(envelope["ct"])
    return AESGCM(key).decrypt(nonce, sealed, conversation_id.encode()).decode()


async def demo(url: str, sender: str, reader: str, password: str) -> None:
    key_id, key = "demo-key-1", new_shared_key()  # both users hold this; the server never
    alice, bob = ParleyClient([url]), ParleyClient([url])
    try:
        await alice.login(sender, password)
        me = await bob.login(reader, password)
        conversation = await alice.create_conversation(
            "GROUP",
            [me["user"]["id"]],
            name="secret plans",
            settings={"endToEndEncryption": True},
        )
        envelope = seal(key, key_id, "meet at the old mill", conversation_id=conversation["id"])
        await alice.connect()
        entry = await alice.send(conversation["id"], envelope, encrypted=True)
        await asyncio.wait_for(alice.confirmed(entry.client_message_id), 10)
        for message in await bob.messages_after(conversation["id"]):
            if message["encrypted"]:
                text = open_envelope(
                    {key_id: key}, message["content"], conversation_id=conversation["id"]
                )
                print(f"{message['senderId']}: {text}")
    finally:
        await alice.close()
        await bob.close()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    asyncio.run(demo(*sys.argv[1:5]))
