"""The `parley` command: `serve` (migrate, then serve), `migrate`, `attachments cleanup`
(the orphan upload sweep, once), `attachments rotate-keys` (files sealed again under the
primary key), `analytics` (a conversation's figures as a table), `audit export` (the trail as
JSON lines), `retention run` (one retention run), `rotate-keys` (re-encrypt under the primary
key), `keys new` (print a fresh key) and `users erase` (GDPR erasure by an administrator)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import uvicorn
from alembic import command
from alembic.config import Config
from redis.asyncio import Redis
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from parley.accounts.service import find_user_id
from parley.analytics import figures as analytics_figures
from parley.analytics import queries as analytics_queries
from parley.analytics.render import as_table
from parley.attachments.actions.cleanup import remove_orphans
from parley.attachments.actions.rotate import FileRotation, rotate_file_keys
from parley.attachments.storage import open_storage
from parley.attachments.store import AttachmentStore, open_sealed_storage
from parley.audit.queries import stream_entries
from parley.core import audit, metrics, rotation, runtime
from parley.core.cache import MemoryCache, RedisCache
from parley.core.config import ConfigError, Settings, load_settings
from parley.core.crypto import KeyRing, KeyRingError, install_key_ring, new_key_spec, parse_keys
from parley.core.db import Base, Database, utcnow
from parley.core.errors import AppError
from parley.main import create_app
from parley.models import import_all_models
from parley.privacy.erase import erase_user
from parley.retention.lease import Lease
from parley.retention.run import LEASE_NAME, LeaseLost, RetentionSummary, run_once

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_HEALTHCHECK_SECONDS = 30


def _settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"parley: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.key_ring is not None:
        install_key_ring(settings.key_ring)
    return settings


def run_migrations(settings: Settings, revision: str = "head") -> None:
    """Apply pending Alembic migrations to the configured database."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["key_ring"] = settings.key_ring
    command.upgrade(config, revision)


def _serve(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    if args.workers > 1 and (settings.is_sqlite or not settings.redis_url):
        print(
            "parley: configuration error: --workers above 1 needs a PostgreSQL DATABASE_URL and "
            "REDIS_URL (SQLite has one writer; the in-process cache is not shared)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if settings.metrics_port is not None and settings.metrics_port == args.port:
        print(
            f"parley: configuration error: METRICS_PORT={settings.metrics_port} is the port "
            "the API serves on: pick another one, or unset it to serve /metrics with the API",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if not args.no_migrate:
        run_migrations(settings)
    with _metrics_of_workers(args.workers):
        metrics_server = (
            metrics.serve_on_port(
                settings.metrics_host, settings.metrics_port, settings.metrics_token
            )
            if settings.metrics_port is not None
            else None
        )
        try:
            _run_uvicorn(args, settings)
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()


@contextmanager
def _metrics_of_workers(workers: int) -> Iterator[None]:
    """With several workers, a fresh PROMETHEUS_MULTIPROC_DIR for this start (the workers
    inherit it; stale files from an earlier run would add old counts), removed at exit."""
    if workers == 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="parley-metrics-")
    os.environ[metrics.MULTIPROC_DIR_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(metrics.MULTIPROC_DIR_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _run_uvicorn(args: argparse.Namespace, settings: Settings) -> None:
    # Several workers: each process builds its app from the same environment.
    app: object = create_app(settings) if args.workers == 1 else "parley.main:create_app"
    uvicorn.run(
        app,  # type: ignore[arg-type]
        factory=args.workers > 1,
        workers=args.workers,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        # Off by default: compressing per recipient costs more CPU than fan-out (design.md).
        ws_per_message_deflate=settings.ws_compression,
        access_log=False,
        log_config=None,
        # X-Forwarded-For / -Proto are believed only from TRUSTED_PROXIES: with uvicorn's
        # default (127.0.0.1 trusted), any local client could pick its own address and slip
        # past the per-address login limits.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        server_header=False,
        # With --workers, uvicorn replaces a worker that does not answer its health ping in
        # time; a new worker answers only once its imports are done, which on a busy host
        # took longer than uvicorn's 5 s, so workers were replaced before they could start.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        # Longer than clients' and load balancers' idle keep-alive (httpx 5 s, nginx 60 s), so
        # the server never closes a connection a client is about to reuse.
        timeout_keep_alive=75,
    )


def _migrate(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    run_migrations(settings, args.revision)
    print(f"parley: database at revision {args.revision}")


def _attachments_cleanup(_args: argparse.Namespace) -> None:
    settings = _settings_or_exit()

    async def sweep() -> int:
        db = Database(settings)
        storage = await open_storage(settings)
        try:
            return await remove_orphans(
                db, storage, older_than_seconds=settings.orphan_upload_seconds
            )
        finally:
            await storage.close()
            await db.dispose()

    removed = asyncio.run(sweep())
    print(f"parley: removed {removed} orphan uploads")


def _show_file_rotation(run: FileRotation) -> None:
    # One line per file: a log an operator can follow (and a test can read) as it goes.
    print(
        f"parley: files {run.checked}/{run.total}: {run.rotated} rotated, "
        f"{run.encrypted} encrypted, {run.current} current, {run.missing} missing, "
        f"{run.failed} failed",
        file=sys.stderr,
        flush=True,
    )


async def _rotate_files(settings: Settings) -> FileRotation:
    """Attachment files sealed again under the primary key (resumable, audited)."""
    db = Database(settings)
    storage = await open_sealed_storage(settings)
    try:
        return await rotate_file_keys(db, storage, progress=_show_file_rotation)
    finally:
        await storage.close()
        await db.dispose()


def _report_file_rotation(run: FileRotation) -> None:
    print(
        f"parley: attachment files under key {run.primary_key_id}: {run.rotated} rotated, "
        f"{run.encrypted} encrypted, {run.current} already current, {run.missing} missing, "
        f"{run.failed} failed"
    )
    if run.failed:
        raise SystemExit(1)


def _attachments_rotate_keys(_args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    _report_file_rotation(asyncio.run(_rotate_files(settings)))


def _analytics(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()

    async def read() -> str:
        db = Database(settings)
        try:
            start, end = analytics_figures.period(args.start, args.end, today=utcnow().date())
            async with db.sessions() as session:
                found = await analytics_queries.compute_if_exists(
                    session, conversation_id=args.conversation_id, start=start, end=end
                )
            if found is None:
                raise SystemExit(f"parley: no conversation {args.conversation_id}")
            return as_table(found)
        finally:
            await db.dispose()

    try:
        print(asyncio.run(read()))
    except AppError as error:
        raise SystemExit(f"parley: {error.message}") from None


def _iso_time(raw: str) -> datetime:
    """An ISO-8601 time for a command-line option (naive means UTC)."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO-8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _audit_export(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    if args.until is not None and args.until <= args.since:
        raise SystemExit("parley: --until must be after --since")

    async def export() -> int:
        db = Database(settings)
        written = 0
        try:
            async for entry in stream_entries(db, since=args.since, until=args.until):
                sys.stdout.write(entry.model_dump_json(by_alias=True) + "\n")
                written += 1
        finally:
            await db.dispose()
        sys.stdout.flush()
        return written

    written = asyncio.run(export())
    print(f"parley: exported {written} audit entries", file=sys.stderr)


def _retention_run(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()

    async def run() -> RetentionSummary:
        db = Database(settings)
        storage = await open_storage(settings)
        deadline = time.monotonic() + args.wait
        try:
            while True:
                lease = Lease(db, LEASE_NAME, ttl_seconds=args.lease_seconds)
                summary = await run_once(
                    db,
                    storage,
                    now=args.now or utcnow(),
                    global_days=settings.retention_days,
                    lease=lease,
                )
                if summary.ran or time.monotonic() >= deadline:
                    return summary
                await asyncio.sleep(0.2)
        finally:
            await storage.close()
            await db.dispose()

    try:
        summary = asyncio.run(run())
    except LeaseLost:
        raise SystemExit("parley: the retention lease was lost; another process goes on") from None
    print(
        json.dumps(
            {
                "ran": summary.ran,
                "conversations": summary.conversations,
                "messages": summary.messages,
                "versions": summary.versions,
                "reactions": summary.reactions,
                "files": summary.files,
            }
        )
    )
    if not summary.ran:
        print("parley: another process is running retention; nothing done", file=sys.stderr)
        raise SystemExit(3)


def _rotate_keys(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise SystemExit("parley: --batch-size must be at least 1")
    settings = _settings_or_exit()
    assert settings.key_ring is not None
    ring = settings.key_ring
    import_all_models()
    steps = rotation.column_steps(Base.metadata)

    async def run() -> dict[str, int]:
        db = Database(settings)
        try:
            with _rotation_progress() as (on_start, on_progress):
                done = await rotation.rotate(
                    db.sessions,
                    ring,
                    steps,
                    batch_size=args.batch_size,
                    on_start=on_start,
                    on_progress=on_progress,
                )
            async with db.unit_of_work() as session:
                audit.record(
                    session,
                    actor_id=None,
                    action=audit.AuditAction.KEYS_ROTATED,
                    details={
                        "primaryKeyId": ring.primary_id,
                        "batchSize": args.batch_size,
                        "rewritten": done,
                    },
                )
            return done
        finally:
            await db.dispose()

    done = asyncio.run(run())
    print(
        f"parley: every encrypted column value is under key {ring.primary_id!r} "
        f"({sum(done.values())} rewritten)"
    )
    _report_file_rotation(asyncio.run(_rotate_files(settings)))


@contextmanager
def _rotation_progress() -> Iterator[
    tuple[Callable[[str, int], None], Callable[[str, int, int], None]]
]:
    """A rich progress bar on a terminal; plain lines (one per batch) otherwise."""
    if not sys.stdout.isatty():

        def start_line(name: str, total: int) -> None:
            print(f"rotate-keys: {name}: {total} to re-encrypt", flush=True)

        def progress_line(name: str, count: int, total: int) -> None:
            print(f"rotate-keys: {name}: {count}/{total}", flush=True)

        yield start_line, progress_line
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def start(name: str, total: int) -> None:
            tasks[name] = bar.add_task(name, total=total)

        def advance(name: str, count: int, total: int) -> None:
            bar.update(tasks[name], completed=min(count, total))

        yield start, advance


def _keys_new(args: argparse.Namespace) -> None:
    spec = new_key_spec(args.key_id)
    try:
        KeyRing.from_pairs(parse_keys(spec))  # checks the id
    except KeyRingError as error:
        raise SystemExit(f"parley: {error}") from None
    print(spec)


class _NoSockets:
    """The CLI has no sockets: events it would send are dropped (see `_users_erase`)."""

    async def emit(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        rooms: list[str],
        except_rooms: list[str] | None = None,
    ) -> None:
        return None


def _users_erase(args: argparse.Namespace) -> None:
    """Erase a user as an administrator: the same action as DELETE /users/me, without the
    password. With Redis, every instance refuses the user's tokens at once (the cached token
    generation is dropped in the shared cache); open sockets go when they next reconnect."""
    settings = _settings_or_exit()
    if not args.yes:
        answer = input(f"Erase the account {args.username!r} and its personal data? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            raise SystemExit("parley: nothing erased")

    async def erase() -> None:
        db = Database(settings)
        redis = (
            Redis.from_url(settings.redis_url, password=settings.redis_password)
            if settings.redis_url
            else None
        )
        cache = RedisCache(redis, settings.redis_key_prefix) if redis else MemoryCache()
        state = runtime.Runtime(
            settings=settings, db=db, cache=cache, publisher=_NoSockets(), redis=redis
        )
        runtime.install(state)
        attachments = await AttachmentStore.open(settings)
        state.register(attachments)
        try:
            async with db.unit_of_work() as session:
                user_id = await find_user_id(session, username=args.username)
                await erase_user(session, user_id=user_id, by_administrator=True)
        finally:
            await attachments.stop()
            await db.dispose()
            if redis is not None:
                await redis.aclose()

    try:
        asyncio.run(erase())
    except AppError as error:
        raise SystemExit(f"parley: {error.message}") from None
    print(f"parley: erased {args.username}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley messaging service. Configuration comes from the environment "
        "(DATABASE_URL, REDIS_URL, JWT_SECRET, PARLEY_DATA_DIR, ...; see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="apply pending migrations, then serve HTTP and Socket.IO",
        description="Apply pending migrations, then serve the API on HOST:PORT.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; more need PostgreSQL and Redis)",
    )
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not apply migrations before serving"
    )
    serve.set_defaults(handler=_serve)
    migrate = commands.add_parser(
        "migrate",
        help="apply pending migrations and exit",
        description="Apply pending Alembic migrations to DATABASE_URL and exit.",
    )
    migrate.add_argument("--revision", default="head", help="target revision (default head)")
    migrate.set_defaults(handler=_migrate)
    attachments = commands.add_parser("attachments", help="attachment maintenance")
    attachment_commands = attachments.add_subparsers(dest="attachments_command", required=True)
    cleanup = attachment_commands.add_parser(
        "cleanup",
        help="remove uploads no message carries, older than ORPHAN_UPLOAD_HOURS",
        description="Remove orphan uploads (rows and bytes) once; the server also does it "
        "in the background.",
    )
    cleanup.set_defaults(handler=_attachments_cleanup)
    rotate_keys = attachment_commands.add_parser(
        "rotate-keys",
        help="seal every attachment file again under the first ENCRYPTION_KEYS key",
        description="Re-encrypt, one at a time, the attachment files sealed under an older "
        "key (and seal files stored in clear before encryption). Safe to stop and run again: "
        "files already under the first key are skipped. Exits 1 if a file could not be "
        "read (logged by id); keep the old keys until a run reports 0 failed.",
    )
    rotate_keys.set_defaults(handler=_attachments_rotate_keys)
    analytics = commands.add_parser(
        "analytics",
        help="print a conversation's analytics as a table",
        description="Messages and active members per UTC day, first-response median, read "
        "rate, top reactions and hashtags (as GET /conversations/{id}/analytics).",
    )
    analytics.add_argument("conversation_id", type=uuid.UUID, metavar="CONVERSATION_ID")
    analytics.add_argument(
        "--from", dest="start", type=date.fromisoformat, help="first UTC day (YYYY-MM-DD)"
    )
    analytics.add_argument(
        "--to", dest="end", type=date.fromisoformat, help="last UTC day (default today)"
    )
    analytics.set_defaults(handler=_analytics)
    audit_parser = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export",
        help="print audit entries as JSON lines (oldest first)",
        description="Every audit entry created at or after --since (and before --until), one "
        "JSON object per line with the field names of GET /audit, read in pages.",
    )
    export.add_argument("--since", type=_iso_time, required=True, help="ISO-8601 time (naive: UTC)")
    export.add_argument("--until", type=_iso_time, help="ISO-8601 time, exclusive (default: now)")
    export.set_defaults(handler=_audit_export)
    retention = commands.add_parser("retention", help="message retention")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    retention_run = retention_commands.add_parser(
        "run",
        help="delete messages past RETENTION_DAYS / settings.retentionDays once",
        description="One retention run (the server also runs it every RETENTION_INTERVAL), "
        "under the same lease as the servers: exit status 3 when another process held it for "
        "all of --wait. Prints a JSON summary of what was removed.",
    )
    retention_run.add_argument(
        "--now", type=_iso_time, help="evaluate retention as of this ISO-8601 time (default now)"
    )
    retention_run.add_argument(
        "--wait",
        type=float,
        default=10.0,
        help="seconds to wait for the lease when another process holds it (default 10)",
    )
    retention_run.add_argument(
        "--lease-seconds",
        type=float,
        default=300.0,
        help=argparse.SUPPRESS,  # tests: a short lease
    )
    retention_run.set_defaults(handler=_retention_run)
    rotate_keys = commands.add_parser(
        "rotate-keys",
        help="re-encrypt what is not under the first key of ENCRYPTION_KEYS",
        description="Re-encrypt every stored value written under an older key (or still in "
        "clear) with the first key of ENCRYPTION_KEYS, in batches, each its own transaction, "
        "then the attachment files (as `parley attachments rotate-keys`). Safe to interrupt "
        "and run again: a re-run does what is left. Audited (keys.rotated, "
        "attachments.keys_rotated).",
    )
    rotate_keys.add_argument(
        "--batch-size",
        type=int,
        default=rotation.DEFAULT_BATCH_SIZE,
        help=f"rows per transaction (default {rotation.DEFAULT_BATCH_SIZE})",
    )
    rotate_keys.set_defaults(handler=_rotate_keys)
    keys = commands.add_parser("keys", help="encryption keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_new = key_commands.add_parser(
        "new",
        help="print a fresh keyid:base64 entry for ENCRYPTION_KEYS",
        description="Print a new random 32-byte key as keyid:base64 (nothing is stored).",
    )
    keys_new.add_argument("--id", dest="key_id", default="k1", help="key id (default k1)")
    keys_new.set_defaults(handler=_keys_new)
    users = commands.add_parser("users", help="user administration")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    erase = user_commands.add_parser(
        "erase",
        help="erase a user's account and personal data (GDPR), as DELETE /users/me does",
        description="Erase USERNAME: profile, sessions, uploads, the content of their "
        "messages (kept as tombstones), reactions, mentions; owned conversations pass on. "
        "Irreversible.",
    )
    erase.add_argument("username", metavar="USERNAME")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(handler=_users_erase)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
