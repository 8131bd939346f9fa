"""`EncryptedText`: a column type that stores text encrypted under the key ring.

Every write goes through the bind (ORM flushes, Core inserts and updates that name the
column, executemany included), every read through the result, so code above the models sees
plaintext and the database holds only `pe1:<keyid>:...` values (core/crypto.py). A stored value
without the prefix (written before encryption) reads as it is, until `parley rotate-keys`
encrypts it.

Ciphertext is random (a fresh nonce each time), so the column cannot be compared with a value
in SQL (`content = :x` never matches): filter on other columns and read the text through the
ORM. SQLite's `parley_decrypt(text)` function (core/db.py) is what its search triggers use.
"""

from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from parley.core.crypto import key_ring, stored_key_id


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest (AES-256-GCM under the ring's primary key)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring().encrypt_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring().decrypt_text(value)


def decrypt_stored(value: str | None) -> str | None:
    """The plaintext of a stored value (SQLite's `parley_decrypt`; bench and tools)."""
    if value is None or stored_key_id(value) is None:
        return value  # in clear (written before encryption): no ring needed
    return key_ring().decrypt_text(value)
