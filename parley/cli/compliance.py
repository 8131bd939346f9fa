"""`parley audit export`, `parley retention run` and `parley users erase`: the compliance
officer's and administrator's commands (docs/api.md: Audit trail, Retention, Erasure)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from parley.accounts.service import find_user_id
from parley.attachments.storage import open_storage
from parley.attachments.store import AttachmentStore
from parley.audit.queries import stream_entries
from parley.cli.settings import settings_or_exit
from parley.core import runtime
from parley.core.cache import open_caches
from parley.core.db import Database, utcnow
from parley.core.errors import AppError
from parley.privacy.erase import erase_user
from parley.retention.lease import Lease
from parley.retention.run import LEASE_NAME, LeaseLost, RetentionSummary, run_once


def _iso_time(raw: str) -> datetime:
    """An ISO-8601 time for a command-line option (naive means UTC)."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO-8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _audit_export(args: argparse.Namespace) -> None:
    settings = settings_or_exit()
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
    settings = settings_or_exit()

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
    settings = settings_or_exit()
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
        # The user's cached entries live in REDIS_CACHE_URL's Redis when it is set.
        cache_redis = (
            Redis.from_url(settings.redis_cache_url, password=settings.redis_password)
            if settings.redis_cache_url
            else None
        )
        cache, store = open_caches(settings, redis, cache_redis)
        state = runtime.Runtime(
            settings=settings,
            db=db,
            cache=cache,
            store=store,
            publisher=_NoSockets(),
            redis=redis,
            cache_redis=cache_redis,
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
            for client in (redis, cache_redis):
                if client is not None:
                    await client.aclose()

    try:
        asyncio.run(erase())
    except AppError as error:
        raise SystemExit(f"parley: {error.message}") from None
    print(f"parley: erased {args.username}")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `audit export`, `retention run` and `users erase`."""
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
