"""The key ring: round trips, key ids, rotation order and refusals (parley/core/crypto.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from parley.core.config import ConfigError, load_settings
from parley.core.crypto import (
    DecryptionFailed,
    KeyRing,
    KeyRingError,
    new_key_spec,
    parse_keys,
    stored_key_id,
)


def _ring(spec: str) -> KeyRing:
    return KeyRing.from_pairs(parse_keys(spec))


def test_text_round_trip_names_the_primary_key() -> None:
    ring = _ring(f"{new_key_spec('new')},{new_key_spec('old')}")
    stored = ring.encrypt_text("the quick brown fox")
    assert "quick" not in stored
    assert stored_key_id(stored) == "new"
    assert ring.decrypt_text(stored) == "the quick brown fox"


def test_old_keys_still_decrypt() -> None:
    old_spec = new_key_spec("old")
    stored = _ring(old_spec).encrypt_text("kept")
    assert _ring(f"{new_key_spec('new')},{old_spec}").decrypt_text(stored) == "kept"


def test_clear_text_is_read_as_it_is() -> None:
    assert _ring(new_key_spec()).decrypt_text("written before encryption") == (
        "written before encryption"
    )


def test_a_missing_key_is_named() -> None:
    stored = _ring(new_key_spec("gone")).encrypt_text("x")
    with pytest.raises(KeyRingError, match="gone"):
        _ring(new_key_spec("other")).decrypt_text(stored)


def test_an_altered_value_is_refused() -> None:
    ring = _ring(new_key_spec("k1"))
    stored = ring.encrypt_text("pay alice 10")
    altered = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(DecryptionFailed):
        ring.decrypt_text(altered)


def test_bytes_are_bound_to_their_associated_data() -> None:
    ring = _ring(new_key_spec("k1"))
    sealed = ring.encrypt_bytes(b"segment", aad=b"file-1:0")
    assert ring.decrypt_bytes(sealed, key_id="k1", aad=b"file-1:0") == b"segment"
    with pytest.raises(DecryptionFailed):
        ring.decrypt_bytes(sealed, key_id="k1", aad=b"file-1:1")


@pytest.mark.parametrize(
    "spec",
    [
        "k1",
        "k1:not base64!",
        f"k1:{base64.b64encode(b'short').decode()}",
        f"bad id:{base64.b64encode(bytes(32)).decode()}",
        f"k1:{base64.b64encode(bytes(32)).decode()},k1:{base64.b64encode(bytes(32)).decode()}",
        ",",
    ],
)
def test_malformed_keys_are_refused(spec: str) -> None:
    with pytest.raises(KeyRingError):
        _ring(spec)


def test_postgresql_needs_encryption_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS"):
        load_settings({"DATABASE_URL": "postgresql://x@127.0.0.1/db", "JWT_SECRET": "s" * 40})


def test_embedded_mode_makes_one_key_and_keeps_it(tmp_path: Path) -> None:
    env = {"PARLEY_DATA_DIR": str(tmp_path)}
    first = load_settings(env).key_ring
    second = load_settings(env).key_ring
    assert first is not None and second is not None
    stored = first.encrypt_text("same key")
    assert second.decrypt_text(stored) == "same key"
