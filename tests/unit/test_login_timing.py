"""A login for an unknown username does the same work as a wrong password for a real one, so
the answer's timing does not tell which usernames exist (bench/auth.py prints both timings)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from parley.core import security


class CountingHasher:
    """The real hasher, recording every hash a password is verified against."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.verified_against: list[str] = []

    def hash(self, password: str) -> str:
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified_against.append(password_hash)
        return self.real.verify(password_hash, password)


async def test_unknown_user_costs_one_verification_like_a_real_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = security._hasher.hash("correct horse battery")
    counting = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", counting)

    unknown = await security.verify_password(None, "a guess")
    known_wrong = await security.verify_password(stored, "a guess")

    assert (unknown, known_wrong) == (False, False)
    assert len(counting.verified_against) == 2
    dummy, real = counting.verified_against
    assert extract_parameters(dummy) == extract_parameters(real)


async def test_the_dummy_hash_never_lets_anyone_in() -> None:
    assert await security.verify_password(None, "parley-timing-equaliser") is False


async def test_a_profile_applies_to_new_hashes_and_old_ones_still_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Apps built in this process may have installed another profile: restored afterwards.
    monkeypatch.setattr(security, "_hasher", security._hasher)
    monkeypatch.setattr(security, "_dummy_hash", security._dummy_hash)
    security.install_password_profile("RFC_9106_LOW_MEMORY")
    old = await security.hash_password("correct horse battery")
    security.install_password_profile("CHEAPEST")
    new = await security.hash_password("correct horse battery")

    assert extract_parameters(old).memory_cost == 65536
    assert (extract_parameters(new).memory_cost, extract_parameters(new).time_cost) == (8, 1)
    assert await security.verify_password(old, "correct horse battery") is True
    assert await security.verify_password(new, "correct horse battery") is True
    assert await security.verify_password(None, "correct horse battery") is False
