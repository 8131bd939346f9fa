"""Pure rules of retention and of the audit trail's erasure: the shorter retention wins, the
RETENTION_DAYS setting's bounds, and which `details` keys erasure takes out."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.core.audit import without_personal_data
from parley.core.config import ConfigError, load_settings
from parley.retention.run import effective_days


@pytest.mark.parametrize(
    ("global_days", "conversation_days", "expected"),
    [(None, None, None), (30, None, 30), (None, 7, 7), (30, 7, 7), (7, 30, 7)],
)
def test_the_shorter_retention_wins(
    global_days: int | None, conversation_days: int | None, expected: int | None
) -> None:
    assert effective_days(global_days, conversation_days) == expected


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"PARLEY_DATA_DIR": str(tmp_path), **values}


def test_retention_days_unset_keeps_forever(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path))
    assert (settings.retention_days, settings.retention_interval_seconds) == (None, 3600)


def test_retention_settings_are_read(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path, RETENTION_DAYS="90", RETENTION_INTERVAL="15m"))
    assert (settings.retention_days, settings.retention_interval_seconds) == (90, 900)


@pytest.mark.parametrize("raw", ["0", "-3", "ninety", "36501", "1.5"])
def test_bad_retention_days_are_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="RETENTION_DAYS"):
        load_settings(_env(tmp_path, RETENTION_DAYS=raw))


def test_erasure_takes_personal_keys_out_at_any_depth() -> None:
    details = {
        "ip": "203.0.113.7",
        "username": "alice",
        "reason": "invalid_credentials",
        "settings": {"retentionDays": 5},
        "members": [{"email": "a@example.com", "role": "ADMIN"}],
    }
    assert without_personal_data(details) == {
        "reason": "invalid_credentials",
        "settings": {"retentionDays": 5},
        "members": [{"role": "ADMIN"}],
    }
