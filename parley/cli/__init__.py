"""The `parley` command: `serve` (migrate, then serve), `migrate`, `attachments cleanup`
(the orphan upload sweep, once), `attachments rotate-keys` (files sealed again under the
primary key), `analytics` (a conversation's figures as a table), `audit export` (the trail as
JSON lines), `retention run` (one retention run), `rotate-keys` (re-encrypt under the primary
key), `keys new` (print a fresh key) and `users erase` (GDPR erasure by an administrator)."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import math
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import uvicorn
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from parley.analytics import figures as analytics_figures
from parley.analytics import queries as analytics_queries
from parley.analytics.render import as_table
from parley.attachments.actions.cleanup import remove_orphans
from parley.attachments.storage import open_storage
from parley.cli import compliance, keys
from parley.cli.settings import settings_or_exit
from parley.core import metrics
from parley.core.config import Settings
from parley.core.db import Database, utcnow
from parley.core.errors import AppError
from parley.main import create_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
WORKER_HEALTHCHECK_SECONDS = 30


def run_migrations(settings: Settings, revision: str = "head") -> None:
    """Apply pending Alembic migrations to the configured database."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["key_ring"] = settings.key_ring
    with _one_migration_at_a_time(settings):
        command.upgrade(config, revision)


@contextmanager
def _one_migration_at_a_time(settings: Settings) -> Iterator[None]:
    """On SQLite, processes migrating one file (two servers, or `parley migrate` beside a
    server, started at once) take turns on a lock file beside it. Each migration is its own
    transaction there (migrations/env.py) and a process reads the revision only once: without
    turns, a second process taking the write lock between two of the first one's migrations
    would apply the same ones again and fail (or give up waiting behind a long one). The later
    one then finds the schema at head. PostgreSQL takes an advisory lock instead
    (migrations/env.py)."""
    database = make_url(settings.database_url).database if settings.is_sqlite else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _serve(args: argparse.Namespace) -> None:
    settings = settings_or_exit()
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
        # The whole graceful shutdown fits in SHUTDOWN_GRACE: the app's drain runs first and
        # sets this to what it left (core/shutdown.py); this value bounds the requests in
        # flight when uvicorn shuts down without it.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )


def _migrate(args: argparse.Namespace) -> None:
    settings = settings_or_exit()
    run_migrations(settings, args.revision)
    print(f"parley: database at revision {args.revision}")


def _attachments_cleanup(_args: argparse.Namespace) -> None:
    settings = settings_or_exit()

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


def _analytics(args: argparse.Namespace) -> None:
    settings = settings_or_exit()

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
    rotate_keys.set_defaults(handler=keys.attachments_rotate_keys)
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
    compliance.add_commands(commands)
    keys.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
