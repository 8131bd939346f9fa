"""`parley attachments rotate-keys` on both storage backends: files move to the new primary
key (their headers say so), a run killed midway leaves every file readable and is resumed by
running again, the files then download with only the new key, and a further run is a no-op."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from parley.attachments.sealed import SEGMENT_SIZE, parse_header
from parley.core.crypto import new_key_spec
from tests.attachments.conftest import MAX_FILE_SIZE, FilesServer, S3Endpoint, stored_key
from tests.attachments.helpers import download, uploaded
from tests.conftest import PARLEY, ROOT, start_server
from tests.support import query_sql, register

OLD = new_key_spec("old")
NEW = new_key_spec("new")
SUMMARY = re.compile(
    r"(\d+) rotated, (\d+) encrypted, (\d+) already current, (\d+) missing, (\d+) failed"
)


PROGRESS = re.compile(rb"parley: files \d+/\d+: (\d+) rotated, (\d+) encrypted")


def _sealed_anew(line: bytes) -> bool:
    """A progress line after which at least one file was rotated or encrypted."""
    found = PROGRESS.search(line)
    return found is not None and int(found.group(1)) + int(found.group(2)) >= 1


@dataclass
class Rotation:
    files: FilesServer
    contents: dict[str, bytes]
    legacy: str

    def key_ids(self) -> dict[str, str | None]:
        """Each file's key as its stored header names it (None: stored in clear)."""
        found: dict[str, str | None] = {}
        for attachment_id in self.contents:
            header = parse_header("probe", self.files.read_stored(stored_key(attachment_id)))
            found[attachment_id] = None if header is None else header.key_id
        return found

    def restart(self, keys: str) -> None:
        self.files.server.stop()
        self.files.env["ENCRYPTION_KEYS"] = keys
        self.files.server = start_server(self.files.env)

    def run(self, keys: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PARLEY, "attachments", "rotate-keys"],
            env={**self.files.env, "ENCRYPTION_KEYS": keys},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )

    def kill_after_first_file(self, keys: str) -> None:
        """Start a run and SIGKILL it as soon as it reports its first file sealed anew (the
        database is shared by the run: rows of other tests, whose bytes are elsewhere, come
        first as missing)."""
        process = subprocess.Popen(
            [PARLEY, "attachments", "rotate-keys"],
            env={**self.files.env, "ENCRYPTION_KEYS": keys},
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        )
        assert process.stderr is not None
        line = process.stderr.readline()
        while line and not _sealed_anew(line):
            line = process.stderr.readline()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()
        assert _sealed_anew(line), line

    def rotate(self, keys: str) -> tuple[int, int, int, int, int]:
        done = self.run(keys)
        assert done.returncode == 0, done.stderr[-3000:]
        found = SUMMARY.search(done.stdout)
        assert found is not None, done.stdout
        rotated, encrypted, current, missing, failed = (int(value) for value in found.groups())
        return rotated, encrypted, current, missing, failed

    async def assert_all_served(self) -> None:
        alice = self.files.users["alice"]
        async with httpx.AsyncClient(base_url=self.files.server.url, timeout=60) as http:
            for attachment_id, content in self.contents.items():
                whole = await download(http, alice, attachment_id)
                assert whole.status_code == 200 and whole.content == content
                if len(content) > SEGMENT_SIZE + 10:
                    spec = f"bytes={SEGMENT_SIZE - 10}-{SEGMENT_SIZE + 10}"
                    part = await download(http, alice, attachment_id, Range=spec)
                    assert part.content == content[SEGMENT_SIZE - 10 : SEGMENT_SIZE + 11]


@pytest.fixture
def fresh_bucket(s3: S3Endpoint) -> S3Endpoint:
    """A bucket of its own: the run sees only these files."""
    bucket = f"parley-rotate-{secrets.token_hex(4)}"
    endpoint = S3Endpoint(url=s3.url, bucket=bucket, env={**s3.env, "S3_BUCKET": bucket})
    endpoint.client().create_bucket(Bucket=bucket)
    return endpoint


@pytest.fixture(params=["local", "s3"])
def rotation_env(
    request: pytest.FixtureRequest, backend_env: dict[str, str]
) -> Iterator[tuple[dict[str, str], S3Endpoint | None]]:
    env = {
        **backend_env,
        "MAX_FILE_SIZE": str(MAX_FILE_SIZE),
        "PARLEY_DATA_DIR": tempfile.mkdtemp(prefix="parley-rotate-"),
        "ENCRYPTION_KEYS": OLD,
    }
    s3: S3Endpoint | None = None
    if request.param == "s3":
        s3 = request.getfixturevalue("fresh_bucket")
        env.update(s3.env)
    yield env, s3
    shutil.rmtree(env["PARLEY_DATA_DIR"], ignore_errors=True)


@pytest.fixture
async def rotation(
    rotation_env: tuple[dict[str, str], S3Endpoint | None],
) -> AsyncIterator[Rotation]:
    """A server sealing under `old`, with a dozen files of 2 MB, a small one and one stored
    in clear (as before encryption existed)."""
    env, s3 = rotation_env
    server = start_server(env)
    files = FilesServer(server=server, env=env, backend="s3" if s3 else "local", s3=s3)
    contents: dict[str, bytes] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            alice = files.users["alice"] = await register(http, "alice")
            for number in range(12):
                content = os.urandom(2_000_000 + number)
                contents[(await uploaded(http, alice, content, f"f{number}.bin"))["id"]] = content
            small = b"a small one"
            contents[(await uploaded(http, alice, small, "small.txt"))["id"]] = small
            clear = os.urandom(SEGMENT_SIZE * 2)
            legacy = (await uploaded(http, alice, clear, "legacy.bin"))["id"]
            files.write_stored(stored_key(legacy), clear)
            contents[legacy] = clear
        yield Rotation(files=files, contents=contents, legacy=legacy)
    finally:
        files.server.stop()


async def _rotations_audited(env: dict[str, str]) -> int:
    rows = await query_sql(
        env, "SELECT count(*) FROM audit_log WHERE action = 'attachments.keys_rotated'"
    )
    return int(rows[0][0])


async def test_rotation_killed_midway_then_resumed_moves_every_file_to_the_new_key(
    rotation: Rotation,
) -> None:
    env = rotation.files.env
    audited = await _rotations_audited(env)
    assert set(rotation.key_ids().values()) == {"old", None}
    both = f"{NEW},{OLD}"
    rotation.kill_after_first_file(both)
    halfway = rotation.key_ids()
    assert "new" in halfway.values() and "old" in halfway.values()
    # Mid-rotation, every file is whole and readable with both keys in the ring.
    rotation.restart(both)
    await rotation.assert_all_served()

    rotated, encrypted, current, _, failed = rotation.rotate(both)
    assert failed == 0 and encrypted + rotated >= 1 and current >= 1
    assert set(rotation.key_ids().values()) == {"new"}
    for attachment_id in rotation.contents:
        assert b"\x89PFE" in rotation.files.read_stored(stored_key(attachment_id))[:8]

    # Done: a further run changes nothing (other rows of a shared database have their bytes
    # elsewhere: missing here).
    rotated, encrypted, current, _, failed = rotation.rotate(both)
    assert (rotated, encrypted, current, failed) == (0, 0, len(rotation.contents), 0)
    # The two runs that finished; the killed one wrote nothing.
    assert await _rotations_audited(env) == audited + 2

    # The old key can go.
    rotation.restart(NEW)
    await rotation.assert_all_served()


async def test_files_under_a_key_the_ring_lacks_are_reported_and_kept(
    rotation: Rotation,
) -> None:
    done = rotation.run(NEW)
    assert done.returncode == 1
    found = SUMMARY.search(done.stdout)
    assert found is not None and int(found.group(5)) == len(rotation.contents) - 1
    keys = rotation.key_ids()
    assert keys[rotation.legacy] == "new"  # a file in clear needs no old key
    assert {key for id_, key in keys.items() if id_ != rotation.legacy} == {"old"}
    # Served with the old key still in the ring; without it, refused, never garbage.
    rotation.restart(f"{NEW},{OLD}")
    await rotation.assert_all_served()
    rotation.restart(NEW)
    alice = rotation.files.users["alice"]
    some = next(id_ for id_ in rotation.contents if id_ != rotation.legacy)
    async with httpx.AsyncClient(base_url=rotation.files.server.url, timeout=60) as http:
        response = await download(http, alice, some)
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "ATTACHMENT_UNREADABLE"
