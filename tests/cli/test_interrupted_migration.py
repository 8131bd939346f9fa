"""A first migration killed part-way (Ctrl-C of `make run`, an OOM kill, a container stop)
leaves the embedded database at a revision it went through, and the next start finishes it.

Each case runs `parley migrate` on a fresh data directory, watches the SQLite file from outside
and SIGKILLs the process once the schema holds at least N objects (so at a different point of
the run each case), then migrates again: that must reach head with exactly the schema of an
uninterrupted migration. When SQLite's DDL was committed statement by statement outside the
migration's transaction, the second run failed with "table ... already exists".
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import BACKEND, PARLEY, ROOT

# Embedded mode whatever the run's backend: the SQLite run covers it, the PostgreSQL run
# would repeat the same half a minute.
pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="embedded mode: the SQLite run")

TIMEOUT = 120
# Objects in sqlite_master when the kill is sent (91 at head). 0: as soon as the file can be
# read, before or during the first migration. 10, 53, 67 fall inside migrations 0001, 0007
# and 0009 (42, 51-56 and 65-70 objects), where the old statement-by-statement commits were
# seen part-way; with whole migrations the count jumps past them at a migration's commit and
# the kill lands in one of the next. None is near the end, so the kill comes before head.
KILL_POINTS = (0, 10, 53, 67)
# Between two reads of the file's schema while waiting for a kill point.
POLL_SECONDS = 0.005

Schema = list[tuple[str, str, str, str | None]]
_CONSTRAINT = ("CONSTRAINT ", "FOREIGN KEY", "PRIMARY KEY", "UNIQUE", "CHECK")


def _env(data_dir: Path) -> dict[str, str]:
    """Embedded mode (SQLite in the data directory), whatever backend the run tests."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ENCRYPTION_KEYS"}
    }
    env.update(PARLEY_DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    return env


def _migrate(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PARLEY, "migrate"],
        env=_env(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _schema(database: Path) -> Schema:
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    return [
        (str(kind), str(name), str(table), _constraints_sorted(sql))
        for kind, name, table, sql in rows
    ]


def _constraints_sorted(sql: str | None) -> str | None:
    """The statement with its table constraints in a fixed order: batch mode writes the
    copy of a table with its foreign keys in set order, which differs from run to run."""
    if sql is None:
        return None
    lines = [line.strip().removesuffix(",") for line in sql.splitlines()]
    constraints = sorted(line for line in lines if line.startswith(_CONSTRAINT))
    return "\n".join([line for line in lines if not line.startswith(_CONSTRAINT)] + constraints)


def _revision(database: Path) -> str | None:
    """The revision in alembic_version (None when there is no table or no row yet). A read
    and write connection, like the next `parley migrate`: it rolls back what the killed
    process left in SQLite's journal, where a read-only one could not."""
    with closing(sqlite3.connect(database)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else str(row[0])


def _objects(database: Path) -> int | None:
    """How many objects the committed schema holds, read without writing; None while the
    file does not exist yet or a commit holds it."""
    try:
        with closing(
            sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0)
        ) as connection:
            return int(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.OperationalError:
        return None


def _kill_once_schema_holds(process: subprocess.Popen[str], database: Path, objects: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while process.poll() is None:
        found = _objects(database)
        if found is not None and found >= objects:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=TIMEOUT)
            return
        assert time.monotonic() < deadline, "the migration never reached the kill point"
        time.sleep(POLL_SECONDS)
    pytest.fail(f"migrate exited ({process.returncode}) before the kill point")


@pytest.fixture(scope="module")
def clean_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Schema]]:
    """Revision and schema of a migration to head that nothing interrupted."""
    data_dir = tmp_path_factory.mktemp("clean")
    result = _migrate(data_dir)
    assert result.returncode == 0, result.stderr
    database = data_dir / "parley.db"
    head = _revision(database)
    assert head is not None
    yield head, _schema(database)


@pytest.mark.parametrize("objects", KILL_POINTS)
def test_migration_killed_part_way_is_finished_by_the_next_run(
    tmp_path: Path, clean_schema: tuple[str, Schema], objects: int
) -> None:
    head, schema = clean_schema
    database = tmp_path / "parley.db"
    process = subprocess.Popen(
        [PARLEY, "migrate"],
        env=_env(tmp_path),
        cwd=ROOT,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _kill_once_schema_holds(process, database, objects)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL
    assert _revision(database) != head  # killed while migrating, not after

    again = _migrate(tmp_path)

    assert again.returncode == 0, again.stderr
    assert _revision(database) == head
    assert _schema(database) == schema
