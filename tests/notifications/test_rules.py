"""Pure pieces of the notifier whose cases are too many to send through the API: the retry
policy, the signature, the settings it refuses to start with, and the preview."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from parley.core.config import ConfigError, load_settings
from parley.messages.schemas import MessageOut, MessageStatus, MessageType
from parley.notifications import rule
from parley.notifications.webhook import ATTEMPTS, MAX_DELAY_SECONDS, retry_delay, signature
from tests.notifications.receiver import verify


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_transient_failures_are_retried_with_growing_jittered_delays(status: int | None) -> None:
    delays = [retry_delay(attempt, status=status) for attempt in range(1, ATTEMPTS)]
    assert all(delay is not None and 0 < delay <= MAX_DELAY_SECONDS for delay in delays)
    ceilings = [min(3.0 ** (attempt - 1), MAX_DELAY_SECONDS) for attempt in range(1, ATTEMPTS)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert delay is not None and ceiling / 2 <= delay <= ceiling


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_other_client_errors_are_final(status: int) -> None:
    assert retry_delay(1, status=status) is None


def test_attempts_are_bounded() -> None:
    assert retry_delay(ATTEMPTS, status=503) is None


def test_retry_after_is_honoured_within_bounds() -> None:
    assert retry_delay(1, status=429, retry_after="7") == 7
    assert retry_delay(1, status=503, retry_after="3600") == MAX_DELAY_SECONDS
    assert retry_delay(1, status=503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_signature_verifies_and_binds_body_and_time() -> None:
    body = b'{"id":"x"}'
    header = signature("s3cret-s3cret-s3cret", body, 1_700_000_000)
    assert verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_010)
    assert not verify("s3cret-s3cret-s3cret", header, body + b" ", now=1_700_000_010)
    assert not verify("another-secret-xxxx", header, body, now=1_700_000_010)
    assert not verify("s3cret-s3cret-s3cret", header, body, now=1_700_001_000)  # replayed


def test_webhook_url_without_secret_refuses_to_start(tmp_path: object) -> None:
    env = {"PARLEY_DATA_DIR": str(tmp_path), "NOTIFY_WEBHOOK_URL": "https://push.example/hook"}
    with pytest.raises(ConfigError, match="NOTIFY_WEBHOOK_SECRET"):
        load_settings(env)
    with pytest.raises(ConfigError, match="too short"):
        load_settings({**env, "NOTIFY_WEBHOOK_SECRET": "short"})
    with pytest.raises(ConfigError, match="NOTIFY_WEBHOOK_URL"):
        load_settings({**env, "NOTIFY_WEBHOOK_URL": "ftp://x", "NOTIFY_WEBHOOK_SECRET": "x" * 32})
    with pytest.raises(ConfigError, match="NOTIFY_BATCH_SECONDS"):
        load_settings({**env, "NOTIFY_WEBHOOK_SECRET": "x" * 32, "NOTIFY_BATCH_SECONDS": "-1"})


def test_settings_default_to_off_and_accept_fractional_windows(tmp_path: object) -> None:
    assert load_settings({"PARLEY_DATA_DIR": str(tmp_path)}).notify_webhook_url is None
    settings = load_settings(
        {
            "PARLEY_DATA_DIR": str(tmp_path),
            "NOTIFY_WEBHOOK_URL": "https://push.example/hook",
            "NOTIFY_WEBHOOK_SECRET": "x" * 32,
            "NOTIFY_BATCH_SECONDS": "0.5",
        }
    )
    assert settings.notify_batch_seconds == 0.5
    assert "x" * 32 not in repr(settings)
    assert (
        load_settings(
            {"PARLEY_DATA_DIR": str(tmp_path), "NOTIFY_BATCH_SECONDS": "300ms"}
        ).notify_batch_seconds
        == 0.3
    )


def _message(content: str | None, **fields: object) -> MessageOut:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "conversation_id": uuid.uuid4(),
        "sender_id": uuid.uuid4(),
        "seq": 1,
        "type": MessageType.TEXT,
        "content": content,
        "status": MessageStatus.SENT,
        "server_timestamp": datetime.now(UTC),
        **fields,
    }
    return MessageOut.model_validate(values)


def test_preview_is_short_plain_text_and_never_encrypted_or_held_content() -> None:
    assert rule.preview(_message("  hello\n\n world ")) == "hello world"
    long = rule.preview(_message("word " * 100))
    assert len(long) <= rule.PREVIEW_CHARACTERS and long.endswith("…")
    assert rule.preview(_message('{"v":1,"ct":"c2VjcmV0"}', encrypted=True)) == (
        "New encrypted message"
    )
    assert "secret" not in rule.preview(_message("secret", status=MessageStatus.MODERATED))


@pytest.mark.parametrize(
    ("content", "hit"),
    [
        ("The DEPLOY failed", True),
        ("deploy.", True),
        ("(deploy)", True),
        ("redeploy now", False),
        ("deployment", False),
        ("", False),
    ],
)
def test_keywords_match_whole_words_in_any_case(content: str, hit: bool) -> None:
    assert rule.matches_keyword(content, ["deploy"]) is hit
