"""At-rest encryption: AES-256-GCM (the `cryptography` package) under a ring of named keys.

`ENCRYPTION_KEYS` is `keyid:base64-of-32-bytes[,keyid:...]`: the first key encrypts, every
key decrypts, so a new key goes first and the old ones stay until `parley rotate-keys` has
re-encrypted what they wrote. Each stored value names its key, so rotation can find what is
left to do and a process can read rows written under any key of the ring.

Text is stored as `pe1:<keyid>:<base64url(nonce || ciphertext || tag)>`. A value without the
prefix is read as it is: rows written before encryption existed stay readable until
`parley rotate-keys` encrypts them. Bytes (attachment segments) are `nonce || ciphertext ||
tag`; their key id is kept by their container.

The process-wide ring is installed once at start-up (`install_key_ring`) by the app, the CLI
and the migrations; column types and storage read it through `key_ring()`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parley.core.files import create_once

TEXT_PREFIX = "pe1:"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEY_FILE_NAME = "encryption_keys"


class KeyRingError(ValueError):
    """ENCRYPTION_KEYS is malformed, or a stored value names a key the ring lacks."""


class DecryptionFailed(ValueError):
    """A stored value does not decrypt under the key it names (altered or a wrong key)."""


@dataclass(frozen=True)
class KeyRing:
    """The keys, primary first. `repr` never shows key material."""

    key_ids: tuple[str, ...]
    _keys: dict[str, AESGCM] = field(repr=False, compare=False)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, bytes]]) -> KeyRing:
        if not pairs:
            raise KeyRingError("ENCRYPTION_KEYS holds no key")
        keys: dict[str, AESGCM] = {}
        for key_id, material in pairs:
            if not _KEY_ID.match(key_id):
                raise KeyRingError(
                    f"ENCRYPTION_KEYS: key id {key_id!r} must be 1-32 letters, digits, _ or -"
                )
            if len(material) != KEY_BYTES:
                raise KeyRingError(
                    f"ENCRYPTION_KEYS: key {key_id!r} is {len(material)} bytes, not {KEY_BYTES}"
                )
            if key_id in keys:
                raise KeyRingError(f"ENCRYPTION_KEYS: key id {key_id!r} appears twice")
            keys[key_id] = AESGCM(material)
        return cls(key_ids=tuple(keys), _keys=keys)

    @property
    def primary_id(self) -> str:
        return self.key_ids[0]

    def _key(self, key_id: str) -> AESGCM:
        try:
            return self._keys[key_id]
        except KeyError:
            raise KeyRingError(
                f"a stored value was encrypted with key {key_id!r}, which ENCRYPTION_KEYS lacks"
            ) from None

    def encrypt_bytes(
        self, plaintext: bytes, *, key_id: str | None = None, aad: bytes = b""
    ) -> bytes:
        """`nonce || ciphertext || tag` under `key_id` (the primary key by default)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._key(key_id or self.primary_id).encrypt(nonce, plaintext, aad or None)

    def decrypt_bytes(self, sealed: bytes, *, key_id: str, aad: bytes = b"") -> bytes:
        if len(sealed) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionFailed("sealed value too short")
        try:
            return self._key(key_id).decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad or None
            )
        except InvalidTag:
            raise DecryptionFailed(f"value does not decrypt under key {key_id!r}") from None

    def encrypt_text(self, plaintext: str) -> str:
        """The stored form of `plaintext` under the primary key."""
        sealed = self.encrypt_bytes(plaintext.encode())
        encoded = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
        return f"{TEXT_PREFIX}{self.primary_id}:{encoded}"

    def decrypt_text(self, stored: str) -> str:
        """The plaintext of a stored value; a value without the prefix is returned as it is."""
        key_id = stored_key_id(stored)
        if key_id is None:
            return stored
        encoded = stored[len(TEXT_PREFIX) + len(key_id) + 1 :]
        try:
            sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionFailed("stored value is not base64") from None
        return self.decrypt_bytes(sealed, key_id=key_id).decode()


def stored_key_id(stored: str) -> str | None:
    """The key id a stored text names, or None for a value stored in clear."""
    if not stored.startswith(TEXT_PREFIX):
        return None
    key_id, separator, _ = stored[len(TEXT_PREFIX) :].partition(":")
    if not separator or not _KEY_ID.match(key_id):
        return None
    return key_id


def parse_keys(raw: str) -> list[tuple[str, bytes]]:
    """`keyid:base64[,keyid:base64...]` -> pairs; raise `KeyRingError` naming what is wrong."""
    pairs: list[tuple[str, bytes]] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, separator, encoded = item.partition(":")
        if not separator:
            raise KeyRingError(f"ENCRYPTION_KEYS: {key_id[:8]!r}... is not keyid:base64")
        try:
            material = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            try:
                material = base64.urlsafe_b64decode(encoded.strip())
            except (binascii.Error, ValueError):
                raise KeyRingError(f"ENCRYPTION_KEYS: key {key_id!r} is not base64") from None
        pairs.append((key_id.strip(), material))
    KeyRing.from_pairs(pairs)  # checks ids, lengths and duplicates
    return pairs


def new_key_spec(key_id: str = "k1") -> str:
    """A fresh `keyid:base64` entry (what `parley keys new` prints)."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def embedded_keys(data_dir: Path) -> str:
    """Embedded mode without ENCRYPTION_KEYS: one key made once into the data directory
    (mode 0600), beside the database it protects."""
    key_file = data_dir / KEY_FILE_NAME
    if key_file.exists():
        return key_file.read_text().strip()
    return create_once(key_file, new_key_spec())


_ring: KeyRing | None = None


def install_key_ring(ring: KeyRing) -> None:
    """Make `ring` the process's ring (start-up of the app, the CLI and migrations)."""
    global _ring
    _ring = ring


def key_ring() -> KeyRing:
    """The installed ring; a process that reads or writes encrypted columns installs one."""
    if _ring is None:
        raise KeyRingError("no key ring installed: load_settings() and install_key_ring() first")
    return _ring
