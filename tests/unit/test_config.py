"""Pure tests of parley.core.config: value parsers, URL normalising and the defaults."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from parley.core.config import (
    ConfigError,
    load_settings,
    normalize_database_url,
    parse_duration_seconds,
    parse_size_bytes,
)
from parley.core.crypto import new_key_spec

# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("7d", 604800),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1w", 604800),
        ("300", 300),
        ("1500ms", 1.5),
        (" 10S ", 10),
        ("0.5", 0.5),
        ("1.5s", 1.5),
        ("2.5ms", 0.0025),
    ],
)
def test_parse_duration_seconds(raw: str, seconds: float) -> None:
    assert parse_duration_seconds("X", raw) == seconds


def test_parse_duration_uses_default_unit_without_suffix() -> None:
    assert parse_duration_seconds("X", "1500", default_unit="ms") == 1.5


def test_parse_duration_suffix_overrides_default_unit() -> None:
    assert parse_duration_seconds("X", "2s", default_unit="ms") == 2


@pytest.mark.parametrize("raw", ["soon", "", "-5", "1.5h", "7 days", "d"])
def test_parse_duration_rejects_non_durations(raw: str) -> None:
    with pytest.raises(ConfigError, match="JWT_EXPIRES_IN"):
        parse_duration_seconds("JWT_EXPIRES_IN", raw)


def test_parse_duration_rejects_a_value_past_its_bound() -> None:
    with pytest.raises(ConfigError, match="NOTIFY_BATCH_SECONDS"):
        parse_duration_seconds("NOTIFY_BATCH_SECONDS", "1d", below=86400)
    assert parse_duration_seconds("NOTIFY_BATCH_SECONDS", "23h", below=86400) == 82800


def test_parse_duration_rejects_zero() -> None:
    with pytest.raises(ConfigError, match="CACHE_TTL"):
        parse_duration_seconds("CACHE_TTL", "0s")


# --- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ("50MB", 50 * 1024 * 1024),
        ("50mb", 50 * 1024 * 1024),
        ("512KB", 512 * 1024),
        ("1g", 1024**3),
        ("1048576", 1048576),
        ("10b", 10),
    ],
)
def test_parse_size_bytes(raw: str, size: int) -> None:
    assert parse_size_bytes("MAX_FILE_SIZE", raw) == size


@pytest.mark.parametrize("raw", ["lots", "", "0", "-1MB", "1.5MB", "5TB"])
def test_parse_size_rejects_bad_sizes(raw: str) -> None:
    with pytest.raises(ConfigError, match="MAX_FILE_SIZE"):
        parse_size_bytes("MAX_FILE_SIZE", raw)


# --- database URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///data/parley.db", "sqlite+aiosqlite:///data/parley.db"),
        ("sqlite:////abs/parley.db", "sqlite+aiosqlite:////abs/parley.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("  postgresql://u@h/db  ", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_normalize_database_url(raw: str, normalized: str) -> None:
    assert normalize_database_url(raw) == normalized


@pytest.mark.parametrize("raw", ["mysql://x/y", "http://h/db", "sqlite://relative.db", "nonsense"])
def test_normalize_database_url_rejects_other_engines(raw: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        normalize_database_url(raw)


# --- load_settings ----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An otherwise empty environment in embedded mode."""
    return {"PARLEY_DATA_DIR": str(tmp_path)}


def test_default_jwt_expires_in_is_seven_days(env: dict[str, str]) -> None:
    assert load_settings(environ=env).jwt_expires_in_seconds == 7 * 86400


def test_default_cache_ttl_is_300_seconds(env: dict[str, str]) -> None:
    assert load_settings(environ=env).cache_ttl_seconds == 300


def test_default_max_message_length_is_10000(env: dict[str, str]) -> None:
    assert load_settings(environ=env).max_message_length == 10000


def test_default_rate_limit_is_60_messages(env: dict[str, str]) -> None:
    assert load_settings(environ=env).rate_limit_messages == 60


def test_default_max_file_size_is_50mb(env: dict[str, str]) -> None:
    assert load_settings(environ=env).max_file_size_bytes == 50 * 1024 * 1024


def test_default_ws_max_connections_is_10000(env: dict[str, str]) -> None:
    assert load_settings(environ=env).ws_max_connections == 10000


def test_default_ws_heartbeat_interval_is_30000_ms(env: dict[str, str]) -> None:
    assert load_settings(environ=env).ws_heartbeat_interval_ms == 30000


def test_ws_heartbeat_interval_number_is_milliseconds(env: dict[str, str]) -> None:
    env["WS_HEARTBEAT_INTERVAL"] = "5000"
    assert load_settings(environ=env).ws_heartbeat_interval_ms == 5000


def test_ws_heartbeat_interval_accepts_seconds_suffix(env: dict[str, str]) -> None:
    env["WS_HEARTBEAT_INTERVAL"] = "10s"
    assert load_settings(environ=env).ws_heartbeat_interval_ms == 10000


def test_default_database_is_sqlite_in_data_dir(env: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings(environ=env)
    assert settings.is_sqlite
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'parley.db'}"
    assert settings.redis_url is None


def test_values_from_environment_override_defaults(env: dict[str, str]) -> None:
    env.update(JWT_EXPIRES_IN="1h", CACHE_TTL="60", MAX_FILE_SIZE="1MB", MAX_MESSAGE_LENGTH="500")
    settings = load_settings(environ=env)
    assert settings.jwt_expires_in_seconds == 3600
    assert settings.cache_ttl_seconds == 60
    assert settings.max_file_size_bytes == 1024 * 1024
    assert settings.max_message_length == 500


def test_empty_variable_means_default(env: dict[str, str]) -> None:
    env.update(CACHE_TTL="", MAX_MESSAGE_LENGTH="")
    settings = load_settings(environ=env)
    assert settings.cache_ttl_seconds == 300
    assert settings.max_message_length == 10000


def test_postgres_url_is_normalized(env: dict[str, str]) -> None:
    env.update(
        DATABASE_URL="postgresql://u@h/db", JWT_SECRET="k" * 32, ENCRYPTION_KEYS=new_key_spec()
    )
    settings = load_settings(environ=env)
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_MESSAGE_LENGTH", "abc"),
        ("MAX_MESSAGE_LENGTH", "0"),
        ("CACHE_TTL", "-5"),
        ("MAX_FILE_SIZE", "lots"),
        ("JWT_EXPIRES_IN", "soon"),
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://x"),
        ("REDIS_CACHE_URL", "http://x"),
        ("REDIS_CACHE_URL", "redis://cache:6379/0"),  # without REDIS_URL
        ("WS_MAX_CONNECTIONS", "0"),
        ("RATE_LIMIT_MESSAGES", "-1"),
        ("LOG_LEVEL", "LOUD"),
        ("PARLEY_SQL_COUNT_HEADER", "maybe"),
        ("METRICS_PORT", "metrics"),
        ("METRICS_PORT", "70000"),
    ],
)
def test_bad_value_raises_config_error_naming_variable(
    env: dict[str, str], variable: str, value: str
) -> None:
    env[variable] = value
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ=env)


def test_postgres_requires_jwt_secret(env: dict[str, str]) -> None:
    env["DATABASE_URL"] = "postgresql://u@h/db"
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings(environ=env)


def test_short_jwt_secret_is_refused(env: dict[str, str]) -> None:
    env["JWT_SECRET"] = "k" * 31
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings(environ=env)


def test_given_jwt_secret_is_used(env: dict[str, str], tmp_path: Path) -> None:
    env["JWT_SECRET"] = "k" * 32
    assert load_settings(environ=env).jwt_secret == "k" * 32
    assert not (tmp_path / "jwt_secret").exists()


def test_embedded_secret_is_generated_private(env: dict[str, str], tmp_path: Path) -> None:
    secret = load_settings(environ=env).jwt_secret
    secret_file = tmp_path / "jwt_secret"
    assert secret_file.read_text() == secret
    assert len(secret) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_embedded_secret_is_reused(env: dict[str, str]) -> None:
    assert load_settings(environ=env).jwt_secret == load_settings(environ=env).jwt_secret


def test_embedded_secrets_differ_between_data_dirs(tmp_path: Path) -> None:
    first = load_settings(environ={"PARLEY_DATA_DIR": str(tmp_path / "a")}).jwt_secret
    second = load_settings(environ={"PARLEY_DATA_DIR": str(tmp_path / "b")}).jwt_secret
    assert first != second


def test_rate_limit_and_moderation_defaults(env: dict[str, str]) -> None:
    settings = load_settings(environ=env)
    assert (settings.rate_limit_messages, settings.rate_limit_messages_per_hour) == (60, 1000)
    assert (settings.moderation_flag_threshold, settings.moderation_hold_threshold) == (0.5, 0.8)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("RATE_LIMIT_MESSAGES_PER_HOUR", "0"),
        ("RATE_LIMIT_MESSAGES_PER_HOUR", "lots"),
        ("MODERATION_FLAG_THRESHOLD", "0"),
        ("MODERATION_FLAG_THRESHOLD", "1.5"),
        ("MODERATION_HOLD_THRESHOLD", "high"),
    ],
)
def test_bad_limits_and_thresholds_name_the_variable(
    env: dict[str, str], name: str, raw: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={**env, name: raw})


def test_hold_threshold_may_not_be_below_flag_threshold(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="MODERATION_HOLD_THRESHOLD"):
        load_settings(
            environ={**env, "MODERATION_FLAG_THRESHOLD": "0.7", "MODERATION_HOLD_THRESHOLD": "0.6"}
        )


def test_report_rate_limit_defaults_to_20_and_names_its_variable(env: dict[str, str]) -> None:
    assert load_settings(environ=env).rate_limit_reports_per_hour == 20
    assert (
        load_settings(
            environ={**env, "RATE_LIMIT_REPORTS_PER_HOUR": "3"}
        ).rate_limit_reports_per_hour
        == 3
    )
    with pytest.raises(ConfigError, match="RATE_LIMIT_REPORTS_PER_HOUR"):
        load_settings(environ={**env, "RATE_LIMIT_REPORTS_PER_HOUR": "0"})


def test_metrics_are_open_on_the_api_by_default(env: dict[str, str]) -> None:
    settings = load_settings(environ=env)
    assert (settings.metrics_token, settings.metrics_port, settings.metrics_host) == (
        None,
        None,
        "127.0.0.1",
    )


def test_metrics_settings_from_environment(env: dict[str, str]) -> None:
    env.update(METRICS_TOKEN="scrape-me", METRICS_PORT="9464", METRICS_HOST="0.0.0.0")
    settings = load_settings(environ=env)
    assert (settings.metrics_token, settings.metrics_port, settings.metrics_host) == (
        "scrape-me",
        9464,
        "0.0.0.0",
    )


# --- link previews ----------------------------------------------------------------------------


def test_link_previews_default_on_with_the_address_check(env: dict[str, str]) -> None:
    settings = load_settings(env)
    assert settings.link_previews is True
    assert settings.preview_allow_private is False
    assert settings.preview_allow_networks == ()
    assert settings.preview_timeout_seconds == 5


def test_link_previews_settings_from_the_environment(env: dict[str, str]) -> None:
    settings = load_settings(
        {
            **env,
            "LINK_PREVIEWS": "false",
            "PREVIEW_ALLOW_PRIVATE": "true",
            "PREVIEW_ALLOW_NETWORKS": "10.1.0.0/16, 127.0.0.2",
            "PREVIEW_TIMEOUT": "2s",
        }
    )
    assert settings.link_previews is False
    assert settings.preview_allow_private is True
    assert settings.preview_allow_networks == ("10.1.0.0/16", "127.0.0.2")
    assert settings.preview_timeout_seconds == 2


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("LINK_PREVIEWS", "maybe"),
        ("PREVIEW_ALLOW_PRIVATE", "sure"),
        ("PREVIEW_ALLOW_NETWORKS", "intranet"),
        ("PREVIEW_TIMEOUT", "soon"),
    ],
)
def test_bad_link_preview_settings_name_the_variable(
    env: dict[str, str], name: str, raw: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({**env, name: raw})


def test_password_hash_profile_defaults_to_rfc_9106_low_memory(env: dict[str, str]) -> None:
    assert load_settings(env).password_hash_profile == "RFC_9106_LOW_MEMORY"
    chosen = load_settings({**env, "PASSWORD_HASH_PROFILE": "rfc_9106_high_memory"})
    assert chosen.password_hash_profile == "RFC_9106_HIGH_MEMORY"


def test_an_unknown_password_hash_profile_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="PASSWORD_HASH_PROFILE"):
        load_settings({**env, "PASSWORD_HASH_PROFILE": "PRE_21_2"})


def test_web_client_build_defaults_to_web_dist_of_the_checkout(env: dict[str, str]) -> None:
    checkout = Path(__file__).resolve().parents[2]
    assert load_settings(env).web_dist_dir == checkout / "web" / "dist"


def test_web_dist_dir_names_another_build(env: dict[str, str], tmp_path: Path) -> None:
    chosen = load_settings({**env, "WEB_DIST_DIR": str(tmp_path / "client")})
    assert chosen.web_dist_dir == (tmp_path / "client").resolve()


# --- read replica -----------------------------------------------------------------------------


def _postgres(env: dict[str, str], **more: str) -> dict[str, str]:
    return {
        **env,
        "DATABASE_URL": "postgresql://u@primary/db",
        "JWT_SECRET": "k" * 32,
        "ENCRYPTION_KEYS": new_key_spec(),
        **more,
    }


def test_no_read_replica_by_default(env: dict[str, str]) -> None:
    settings = load_settings(environ=_postgres(env))
    assert settings.database_read_url is None
    assert settings.database_read_max_lag_seconds == 1.0


def test_read_replica_url_and_lag_bound_from_the_environment(env: dict[str, str]) -> None:
    settings = load_settings(
        environ=_postgres(
            env, DATABASE_READ_URL="postgres://u@replica/db", DATABASE_READ_MAX_LAG="250ms"
        )
    )
    assert settings.database_read_url == "postgresql+asyncpg://u@replica/db"
    assert settings.database_read_max_lag_seconds == 0.25


def test_read_replica_needs_a_postgresql_primary(env: dict[str, str]) -> None:
    env["DATABASE_READ_URL"] = "postgresql://u:secret@replica/db"
    with pytest.raises(ConfigError, match="DATABASE_READ_URL") as raised:
        load_settings(environ=env)
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_READ_URL", "sqlite:///replica.db"),
        ("DATABASE_READ_URL", "mysql://u@replica/db"),
        ("DATABASE_READ_MAX_LAG", "soon"),
        ("DATABASE_READ_MAX_LAG", "0"),
    ],
)
def test_bad_read_replica_settings_name_the_variable(
    env: dict[str, str], variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ=_postgres(env, **{variable: value}))


def test_shutdown_grace_defaults_below_kubernetes_30_seconds(env: dict[str, str]) -> None:
    settings = load_settings(env)
    assert settings.shutdown_grace_seconds == 25
    assert settings.shutdown_reconnect_spread_seconds == 5
    chosen = load_settings({**env, "SHUTDOWN_GRACE": "50s", "SHUTDOWN_RECONNECT_SPREAD": "20"})
    assert (chosen.shutdown_grace_seconds, chosen.shutdown_reconnect_spread_seconds) == (50, 20)


@pytest.mark.parametrize("value", ["0", "soon", "-1s"])
def test_a_bad_shutdown_grace_is_refused(env: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigError, match="SHUTDOWN_GRACE"):
        load_settings({**env, "SHUTDOWN_GRACE": value})


def test_a_reconnect_spread_over_half_the_grace_period_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="SHUTDOWN_RECONNECT_SPREAD"):
        load_settings({**env, "SHUTDOWN_GRACE": "10s", "SHUTDOWN_RECONNECT_SPREAD": "6s"})
