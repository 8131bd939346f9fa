"""`parley rotate-keys`, `parley keys new` and `parley attachments rotate-keys`: the
encryption keys' commands (docs/api.md, Encryption at rest)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from parley.attachments.actions.rotate import FileRotation, rotate_file_keys
from parley.attachments.store import open_sealed_storage
from parley.cli.settings import settings_or_exit
from parley.core import audit, rotation
from parley.core.config import Settings
from parley.core.crypto import KeyRing, KeyRingError, new_key_spec, parse_keys
from parley.core.db import Base, Database
from parley.models import import_all_models


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


def attachments_rotate_keys(_args: argparse.Namespace) -> None:
    settings = settings_or_exit()
    _report_file_rotation(asyncio.run(_rotate_files(settings)))


def _rotate_keys(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise SystemExit("parley: --batch-size must be at least 1")
    settings = settings_or_exit()
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


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `rotate-keys` and `keys new`."""
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
