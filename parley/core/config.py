"""Configuration from the environment, with the specification's names and defaults.

Every variable is parsed once at start-up; a bad value raises `ConfigError` naming the
variable, so the process stops before it serves anything.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from parley.core.crypto import KeyRing, KeyRingError, embedded_keys, parse_keys
from parley.core.files import create_once

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
# Fractions are for the short settings (batch windows, timeouts): `1.5h` is more likely a typo
# for `90m` than a wish, and the longer units always took whole numbers.
_FRACTION_UNITS = frozenset({"ms", "s"})
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|k|mb|m|gb|g)?\s*$", re.IGNORECASE)
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_BYTES = {
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
}
MIN_JWT_SECRET_LENGTH = 32


class ConfigError(ValueError):
    """A configuration variable holds a value Parley cannot use."""


def parse_duration_seconds(
    name: str, raw: str, default_unit: str = "s", *, below: float | None = None
) -> float:
    """`7d`, `30s`, `300` (in `default_unit`), `0.5`, `1.5s` (fractions in seconds or ms only)
    -> seconds; with `below`, also less than that many seconds."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}={raw!r} is not a duration (examples: 300, 30s, 7d, 0.5s)")
    text, unit = match.group(1), (match.group(2) or default_unit).lower()
    if "." in text and unit not in _FRACTION_UNITS:
        raise ConfigError(
            f"{name}={raw!r} is not a duration: fractions only in seconds or ms (examples: 90m, "
            "1.5s)"
        )
    seconds = (float(text) if "." in text else int(text)) * _DURATION_SECONDS[unit]
    if seconds <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    if below is not None and seconds >= below:
        raise ConfigError(f"{name}={raw!r} must be greater than zero and less than {below:g} s")
    return seconds


def parse_size_bytes(name: str, raw: str) -> int:
    """`50MB`, `512kb`, `1048576` -> bytes."""
    match = _SIZE.match(raw)
    if not match:
        raise ConfigError(f"{name}={raw!r} is not a size (examples: 50MB, 512KB, 1048576)")
    size = int(match.group(1)) * _SIZE_BYTES[(match.group(2) or "b").lower()]
    if size <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return size


def _env_int(env: dict[str, str], name: str, default: str) -> int:
    """A positive integer setting, `default` when unset or empty."""
    return _positive_int(name, env.get(name) or default)


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return value


def _fraction(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not 0 < value <= 1:
        raise ConfigError(f"{name}={raw!r} must be greater than 0 and at most 1")
    return value


GC_POLICIES = ("freeze", "python")


def _port(name: str, raw: str) -> int | None:
    """A TCP port, or None when unset."""
    if not raw.strip():
        return None
    port = _positive_int(name, raw)
    if port > 65535:
        raise ConfigError(f"{name}={raw!r} is not a port (1-65535)")
    return port


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of: {', '.join(choices)}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def _networks(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated IPs or CIDRs, each checked (`10.0.0.0/8, 127.0.0.1`)."""
    entries = tuple(item.strip() for item in raw.split(",") if item.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"{name}: {entry!r} is not an IP address or CIDR") from None
    return entries


_SEARCH_LANGUAGE = re.compile(r"[a-z][a-z0-9_]{0,62}")


def search_language(env: dict[str, str]) -> str:
    """`SEARCH_LANGUAGE`: a PostgreSQL text search configuration name (`simple`, `english`,
    `german`, ...). Read by migration 0008 too, which builds the index with it: a name, never
    SQL, so it can be written into the column's expression safely."""
    raw = env.get("SEARCH_LANGUAGE") or "simple"
    name = raw.strip().lower()
    if not _SEARCH_LANGUAGE.fullmatch(name):
        raise ConfigError(
            f"SEARCH_LANGUAGE={raw!r} is not a text search configuration name "
            "(examples: simple, english, german)"
        )
    return name


def normalize_database_url(raw: str) -> str:
    """Accept the usual spellings and pick the async driver for each engine."""
    url = raw.strip()
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        return url
    raise ConfigError(
        f"DATABASE_URL={raw!r} is not supported: use postgresql://user:pass@host/db "
        "or sqlite:///path/to/file.db"
    )


@dataclass(frozen=True)
class S3Settings:
    """Where attachments live when an S3-compatible store is configured (all five set)."""

    endpoint_url: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str


_S3_VARIABLES = (
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
)


def _s3(env: dict[str, str]) -> S3Settings | None:
    """All five S3_* variables, or none (attachments then live under PARLEY_DATA_DIR)."""
    values = [(env.get(name) or "").strip() for name in _S3_VARIABLES]
    if not any(values):
        return None
    missing = [name for name, value in zip(_S3_VARIABLES, values, strict=True) if not value]
    if missing:
        raise ConfigError(f"S3 storage needs all of {', '.join(_S3_VARIABLES)}: set {missing[0]}")
    if not values[0].startswith(("http://", "https://")):
        raise ConfigError(f"S3_ENDPOINT_URL={values[0]!r} must start with http:// or https://")
    return S3Settings(*values)


# The web client's build in a source checkout: web/dist beside the `parley` package.
DEFAULT_WEB_DIST_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"


@dataclass(frozen=True)
class Settings:
    """Everything Parley reads from the environment, already parsed."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    # An optional second Redis for the pure cache keys (docs/deployment.md, Redis
    # configuration): it may evict (allkeys-lru), REDIS_URL's keys must not.
    redis_cache_url: str | None
    redis_password: str | None
    redis_key_prefix: str
    jwt_secret: str
    jwt_expires_in_seconds: int
    cache_ttl_seconds: int
    max_message_length: int
    rate_limit_messages: int
    rate_limit_messages_per_hour: int
    max_file_size_bytes: int
    ws_max_connections: int
    ws_heartbeat_interval_ms: int
    log_level: str
    db_pool_size: int
    redis_pool_size: int
    sql_count_header: bool
    gc_policy: str
    typing_timeout_seconds: float
    moderation_flag_threshold: float
    moderation_hold_threshold: float
    ws_compression: bool
    presence_ttl_seconds: float
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    rate_limit_reports_per_hour: int = 20
    rate_limit_edits: int = 30
    rate_limit_reactions: int = 60
    max_message_versions: int = 50
    max_reaction_emoji_per_message: int = 50
    max_reactions_per_user_per_message: int = 10
    event_max_bytes: int = 262_144
    auth_rate_limit_per_account: int = 10
    auth_rate_limit_per_address: int = 60
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    ws_max_connections_per_user: int = 20
    ws_connect_timeout_seconds: float = 5.0
    idempotency_key_ttl_seconds: float = 86400.0
    sqlite_readers: int = 4
    metrics_token: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    send_backlog_budget_seconds: float = 0.05
    send_admission_wait_seconds: float = 1.5
    notify_webhook_url: str | None = None
    notify_webhook_secret: str | None = field(default=None, repr=False)
    notify_batch_seconds: float = 3.0
    link_previews: bool = True
    preview_allow_private: bool = False
    preview_allow_networks: tuple[str, ...] = field(default_factory=tuple)
    preview_timeout_seconds: float = 5.0
    rate_limit_uploads_per_hour: int = 10
    rate_limit_exports_per_hour: int = 5
    export_ttl_seconds: float = 86400.0
    orphan_upload_seconds: float = 86400.0
    s3: S3Settings | None = None
    search_language: str = "simple"
    key_ring: KeyRing | None = field(default=None, repr=False)
    # None: messages are kept forever (unless a conversation sets settings.retentionDays).
    retention_days: int | None = None
    retention_interval_seconds: float = 3600.0
    password_hash_profile: str = "RFC_9106_LOW_MEMORY"
    web_dist_dir: Path = DEFAULT_WEB_DIST_DIR
    # A streaming replica of the primary for history, search, analytics and export reads
    # (core/replica.py), used while it is at most `database_read_max_lag_seconds` behind.
    database_read_url: str | None = None
    database_read_max_lag_seconds: float = 1.0
    shutdown_grace_seconds: float = 25.0
    shutdown_reconnect_spread_seconds: float = 5.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _jwt_secret(env: dict[str, str], data_dir: Path, embedded: bool) -> str:
    raw = env.get("JWT_SECRET")
    if raw is not None and raw != "":
        if len(raw) < MIN_JWT_SECRET_LENGTH:
            raise ConfigError(
                f"JWT_SECRET is too short ({len(raw)} characters): use at least "
                f"{MIN_JWT_SECRET_LENGTH} random characters"
            )
        return raw
    if not embedded:
        raise ConfigError(
            "JWT_SECRET is not set: it is required with a PostgreSQL DATABASE_URL, so every "
            "instance signs and checks tokens with the same key"
        )
    # Embedded mode: one secret per data directory, made once and kept beside the database.
    secret_file = data_dir / "jwt_secret"
    if secret_file.exists():
        return secret_file.read_text().strip()
    return create_once(secret_file, secrets.token_urlsafe(48))


def _key_ring(env: dict[str, str], data_dir: Path, embedded: bool) -> KeyRing:
    """ENCRYPTION_KEYS, required with PostgreSQL (every instance must read what the others
    wrote); embedded mode without it uses one key made once into the data directory."""
    raw = (env.get("ENCRYPTION_KEYS") or "").strip()
    if not raw:
        if not embedded:
            raise ConfigError(
                "ENCRYPTION_KEYS is not set: it is required with a PostgreSQL DATABASE_URL "
                "(keyid:base64-of-32-bytes; `parley keys new` prints one)"
            )
        raw = embedded_keys(data_dir)
    try:
        return KeyRing.from_pairs(parse_keys(raw))
    except KeyRingError as error:
        raise ConfigError(str(error)) from None


MIN_WEBHOOK_SECRET_LENGTH = 16
# argon2-cffi's named parameter sets (`argon2.profiles`). CHEAPEST exists for test suites,
# which register thousands of users: never for real accounts.
PASSWORD_HASH_PROFILES = ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST")


def _password_hash_profile(raw: str) -> str:
    name = raw.strip().upper() or PASSWORD_HASH_PROFILES[0]
    if name not in PASSWORD_HASH_PROFILES:
        raise ConfigError(
            f"PASSWORD_HASH_PROFILE={raw!r} must be one of {', '.join(PASSWORD_HASH_PROFILES)}"
        )
    return name


# The longest retention a setting may name (about 100 years), global or per conversation.
MAX_RETENTION_DAYS = 36500


def _retention_days(raw: str) -> int | None:
    """RETENTION_DAYS: unset or empty keeps messages forever; else 1..MAX_RETENTION_DAYS."""
    if not raw.strip():
        return None
    days = _positive_int("RETENTION_DAYS", raw)
    if days > MAX_RETENTION_DAYS:
        raise ConfigError(f"RETENTION_DAYS={raw!r} must be at most {MAX_RETENTION_DAYS}")
    return days


def _webhook(env: dict[str, str]) -> tuple[str | None, str | None]:
    """NOTIFY_WEBHOOK_URL (http or https) and its signing secret, required with it: an
    unsigned push could be forged by anyone who learns the receiver's address."""
    url = (env.get("NOTIFY_WEBHOOK_URL") or "").strip() or None
    secret = env.get("NOTIFY_WEBHOOK_SECRET") or None
    if url is None:
        return None, None
    if not re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE):
        raise ConfigError(f"NOTIFY_WEBHOOK_URL={url!r} must be an http:// or https:// URL")
    if secret is None:
        raise ConfigError(
            "NOTIFY_WEBHOOK_SECRET is not set: it is required with NOTIFY_WEBHOOK_URL (every "
            "notification is signed with it so the receiver can tell it came from Parley)"
        )
    if len(secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise ConfigError(
            f"NOTIFY_WEBHOOK_SECRET is too short ({len(secret)} characters): use at least "
            f"{MIN_WEBHOOK_SECRET_LENGTH} random characters"
        )
    return url, secret


def _read_url(env: dict[str, str], database_url: str) -> str | None:
    """DATABASE_READ_URL: a PostgreSQL streaming replica of DATABASE_URL's primary, or None."""
    raw = (env.get("DATABASE_READ_URL") or "").strip()
    if not raw:
        return None
    # Never echo the URL back: it may carry a password.
    if database_url.startswith("sqlite"):
        raise ConfigError(
            "DATABASE_READ_URL is set but DATABASE_URL is SQLite: read replicas need a "
            "PostgreSQL primary (unset DATABASE_READ_URL, or use a postgresql:// DATABASE_URL)"
        )
    try:
        url = normalize_database_url(raw)
    except ConfigError:
        url = ""
    if not url.startswith("postgresql"):
        raise ConfigError(
            "DATABASE_READ_URL must be a PostgreSQL URL (postgresql://user:pass@host/db): a "
            "streaming replica of the primary"
        )
    return url


def _shutdown(env: dict[str, str]) -> tuple[float, float]:
    """SHUTDOWN_GRACE and SHUTDOWN_RECONNECT_SPREAD: the spread is spent inside the grace
    period (docs/deployment.md, Graceful shutdown), so it may take at most half of it."""
    grace = parse_duration_seconds("SHUTDOWN_GRACE", env.get("SHUTDOWN_GRACE") or "25s")
    spread = parse_duration_seconds(
        "SHUTDOWN_RECONNECT_SPREAD", env.get("SHUTDOWN_RECONNECT_SPREAD") or "5s"
    )
    if spread > grace / 2:
        raise ConfigError(
            f"SHUTDOWN_RECONNECT_SPREAD={spread:g}s must be at most half of "
            f"SHUTDOWN_GRACE={grace:g}s (the sockets are moved within the grace period)"
        )
    return grace, spread


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and check the environment; raise `ConfigError` naming the first bad variable."""
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env.get("PARLEY_DATA_DIR") or "./data").resolve()
    raw_database_url = env.get("DATABASE_URL", "")
    if raw_database_url:
        database_url = normalize_database_url(raw_database_url)
    else:
        database_url = f"sqlite+aiosqlite:///{data_dir / 'parley.db'}"
    embedded = database_url.startswith("sqlite")
    if embedded:
        data_dir.mkdir(parents=True, exist_ok=True)

    redis_url = env.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL={redis_url!r} must start with redis://, rediss:// or unix://")
    redis_cache_url = env.get("REDIS_CACHE_URL") or None
    if redis_cache_url and not redis_cache_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"REDIS_CACHE_URL={redis_cache_url!r} must start with redis://, rediss:// or unix://"
        )
    if redis_cache_url and not redis_url:
        raise ConfigError("REDIS_CACHE_URL needs REDIS_URL (the Redis whose keys must stay)")

    log_level = (env.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"LOG_LEVEL={log_level!r} must be DEBUG, INFO, WARNING or ERROR")

    flag_threshold = _fraction(
        "MODERATION_FLAG_THRESHOLD", env.get("MODERATION_FLAG_THRESHOLD") or "0.5"
    )
    hold_threshold = _fraction(
        "MODERATION_HOLD_THRESHOLD", env.get("MODERATION_HOLD_THRESHOLD") or "0.8"
    )
    if hold_threshold < flag_threshold:
        raise ConfigError(
            f"MODERATION_HOLD_THRESHOLD={hold_threshold} must not be below "
            f"MODERATION_FLAG_THRESHOLD={flag_threshold}"
        )

    notify_webhook_url, notify_webhook_secret = _webhook(env)

    shutdown_grace, reconnect_spread = _shutdown(env)

    cors = tuple(
        origin.strip() for origin in (env.get("CORS_ORIGINS") or "").split(",") if origin.strip()
    )

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_cache_url=redis_cache_url,
        redis_password=env.get("REDIS_PASSWORD") or None,
        redis_key_prefix=env.get("REDIS_KEY_PREFIX") or "parley:",
        jwt_secret=_jwt_secret(env, data_dir, embedded),
        jwt_expires_in_seconds=int(
            parse_duration_seconds("JWT_EXPIRES_IN", env.get("JWT_EXPIRES_IN") or "7d")
        ),
        cache_ttl_seconds=int(parse_duration_seconds("CACHE_TTL", env.get("CACHE_TTL") or "300")),
        max_message_length=_env_int(env, "MAX_MESSAGE_LENGTH", "10000"),
        rate_limit_messages=_env_int(env, "RATE_LIMIT_MESSAGES", "60"),
        rate_limit_messages_per_hour=_env_int(env, "RATE_LIMIT_MESSAGES_PER_HOUR", "1000"),
        max_file_size_bytes=parse_size_bytes("MAX_FILE_SIZE", env.get("MAX_FILE_SIZE") or "50MB"),
        ws_max_connections=_env_int(env, "WS_MAX_CONNECTIONS", "10000"),
        ws_heartbeat_interval_ms=int(
            parse_duration_seconds(
                "WS_HEARTBEAT_INTERVAL", env.get("WS_HEARTBEAT_INTERVAL") or "30000", "ms"
            )
            * 1000
        ),
        log_level=log_level,
        db_pool_size=_env_int(env, "DB_POOL_SIZE", "10"),
        redis_pool_size=_env_int(env, "REDIS_POOL_SIZE", "50"),
        sql_count_header=_bool("PARLEY_SQL_COUNT_HEADER", env.get("PARLEY_SQL_COUNT_HEADER", "")),
        gc_policy=_choice("PARLEY_GC_POLICY", env.get("PARLEY_GC_POLICY") or "freeze", GC_POLICIES),
        ws_compression=_bool("WS_COMPRESSION", env.get("WS_COMPRESSION", "")),
        presence_ttl_seconds=parse_duration_seconds(
            "PRESENCE_TTL", env.get("PRESENCE_TTL") or "30s"
        ),
        typing_timeout_seconds=parse_duration_seconds(
            "TYPING_TIMEOUT", env.get("TYPING_TIMEOUT") or "5s"
        ),
        moderation_flag_threshold=flag_threshold,
        moderation_hold_threshold=hold_threshold,
        cors_origins=cors,
        rate_limit_reports_per_hour=_env_int(env, "RATE_LIMIT_REPORTS_PER_HOUR", "20"),
        rate_limit_edits=_env_int(env, "RATE_LIMIT_EDITS", "30"),
        rate_limit_reactions=_env_int(env, "RATE_LIMIT_REACTIONS", "60"),
        max_message_versions=_env_int(env, "MAX_MESSAGE_VERSIONS", "50"),
        max_reaction_emoji_per_message=_env_int(env, "MAX_REACTION_EMOJI_PER_MESSAGE", "50"),
        max_reactions_per_user_per_message=_env_int(
            env, "MAX_REACTIONS_PER_USER_PER_MESSAGE", "10"
        ),
        event_max_bytes=parse_size_bytes("EVENT_MAX_SIZE", env.get("EVENT_MAX_SIZE") or "256KB"),
        auth_rate_limit_per_account=_env_int(env, "AUTH_RATE_LIMIT_PER_ACCOUNT", "10"),
        auth_rate_limit_per_address=_env_int(env, "AUTH_RATE_LIMIT_PER_ADDRESS", "60"),
        trusted_proxies=_networks("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES") or ""),
        ws_max_connections_per_user=_env_int(env, "WS_MAX_CONNECTIONS_PER_USER", "20"),
        ws_connect_timeout_seconds=parse_duration_seconds(
            "WS_CONNECT_TIMEOUT", env.get("WS_CONNECT_TIMEOUT") or "5s"
        ),
        idempotency_key_ttl_seconds=parse_duration_seconds(
            "IDEMPOTENCY_KEY_TTL", env.get("IDEMPOTENCY_KEY_TTL") or "24h"
        ),
        sqlite_readers=_env_int(env, "SQLITE_READERS", "4"),
        metrics_token=env.get("METRICS_TOKEN") or None,
        metrics_port=_port("METRICS_PORT", env.get("METRICS_PORT") or ""),
        metrics_host=(env.get("METRICS_HOST") or "127.0.0.1").strip(),
        send_backlog_budget_seconds=parse_duration_seconds(
            "SEND_BACKLOG_BUDGET", env.get("SEND_BACKLOG_BUDGET") or "50", "ms"
        ),
        send_admission_wait_seconds=parse_duration_seconds(
            "SEND_ADMISSION_WAIT", env.get("SEND_ADMISSION_WAIT") or "1500", "ms"
        ),
        notify_webhook_url=notify_webhook_url,
        notify_webhook_secret=notify_webhook_secret,
        notify_batch_seconds=parse_duration_seconds(
            "NOTIFY_BATCH_SECONDS", env.get("NOTIFY_BATCH_SECONDS") or "3", below=86400
        ),
        link_previews=_bool("LINK_PREVIEWS", env.get("LINK_PREVIEWS") or "true"),
        preview_allow_private=_bool("PREVIEW_ALLOW_PRIVATE", env.get("PREVIEW_ALLOW_PRIVATE", "")),
        preview_allow_networks=_networks(
            "PREVIEW_ALLOW_NETWORKS", env.get("PREVIEW_ALLOW_NETWORKS") or ""
        ),
        preview_timeout_seconds=parse_duration_seconds(
            "PREVIEW_TIMEOUT", env.get("PREVIEW_TIMEOUT") or "5s"
        ),
        rate_limit_uploads_per_hour=_env_int(env, "RATE_LIMIT_UPLOADS_PER_HOUR", "10"),
        rate_limit_exports_per_hour=_env_int(env, "RATE_LIMIT_EXPORTS_PER_HOUR", "5"),
        export_ttl_seconds=parse_duration_seconds(
            "EXPORT_TTL_HOURS", env.get("EXPORT_TTL_HOURS") or "24", "h"
        ),
        orphan_upload_seconds=parse_duration_seconds(
            "ORPHAN_UPLOAD_HOURS", env.get("ORPHAN_UPLOAD_HOURS") or "24", "h"
        ),
        s3=_s3(env),
        search_language=search_language(env),
        key_ring=_key_ring(env, data_dir, embedded),
        retention_days=_retention_days(env.get("RETENTION_DAYS") or ""),
        retention_interval_seconds=parse_duration_seconds(
            "RETENTION_INTERVAL", env.get("RETENTION_INTERVAL") or "1h"
        ),
        password_hash_profile=_password_hash_profile(env.get("PASSWORD_HASH_PROFILE") or ""),
        web_dist_dir=Path(env.get("WEB_DIST_DIR") or DEFAULT_WEB_DIST_DIR).resolve(),
        database_read_url=_read_url(env, database_url),
        database_read_max_lag_seconds=parse_duration_seconds(
            "DATABASE_READ_MAX_LAG", env.get("DATABASE_READ_MAX_LAG") or "1s"
        ),
        shutdown_grace_seconds=shutdown_grace,
        shutdown_reconnect_spread_seconds=reconnect_spread,
    )
