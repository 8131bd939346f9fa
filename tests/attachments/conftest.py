"""Attachment servers: the app with a small MAX_FILE_SIZE on each storage backend (a folder
under PARLEY_DATA_DIR, and an S3-compatible bucket served by moto's standalone server on
loopback), on the run's database backend."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, start_server
from tests.ports import answers, serve_on_free_port
from tests.support import Server, User, register

MAX_FILE_SIZE = 12 * 1024 * 1024  # over one S3 part (8 MiB): the 413 aborts a multipart upload
MOTO_SERVER = BIN / "moto_server"


@dataclass
class S3Endpoint:
    url: str
    bucket: str
    env: dict[str, str]

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def keys(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]

    def unfinished_uploads(self) -> list[str]:
        listed = self.client().list_multipart_uploads(Bucket=self.bucket)
        return [item["Key"] for item in listed.get("Uploads", [])]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Endpoint]:
    """moto's S3 server on a free loopback port, with a fresh bucket; stopped afterwards."""
    command = [str(MOTO_SERVER)] if MOTO_SERVER.exists() else ["moto_server"]
    moto = serve_on_free_port(
        "moto",
        lambda port, log: subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        ),
        answers,
        timeout=30,
    )
    url = moto.url
    bucket = f"parley-{secrets.token_hex(4)}"
    endpoint = S3Endpoint(
        url=url,
        bucket=bucket,
        env={
            "S3_ENDPOINT_URL": url,
            "S3_BUCKET": bucket,
            "S3_ACCESS_KEY_ID": "test",
            "S3_SECRET_ACCESS_KEY": "test",
            "S3_REGION": "us-east-1",
        },
    )
    endpoint.client().create_bucket(Bucket=bucket)
    yield endpoint
    moto.stop()
    os.unlink(moto.log_path)


@dataclass
class FilesServer:
    """A running server, its environment, and where its bytes go."""

    server: Server
    env: dict[str, str]
    backend: str
    s3: S3Endpoint | None
    users: dict[str, User] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return Path(self.env["PARLEY_DATA_DIR"]) / "attachments"

    def stored_keys(self) -> list[str]:
        """Every object in storage (files under the folder, or the bucket's keys)."""
        if self.s3 is not None:
            return self.s3.keys()
        if not self.folder.exists():
            return []
        return sorted(
            str(path.relative_to(self.folder)) for path in self.folder.rglob("*") if path.is_file()
        )

    def remove_stored(self, key: str) -> None:
        """Lose a file's bytes behind the server's back (a disk or bucket accident)."""
        if self.s3 is not None:
            self.s3.client().delete_object(Bucket=self.s3.bucket, Key=key)
        else:
            (self.folder / key).unlink()

    def read_stored(self, key: str) -> bytes:
        """The object as storage holds it (ciphertext, for files sealed at rest)."""
        if self.s3 is not None:
            answer = self.s3.client().get_object(Bucket=self.s3.bucket, Key=key)
            return bytes(answer["Body"].read())
        return (self.folder / key).read_bytes()

    def write_stored(self, key: str, data: bytes) -> None:
        """Replace the object behind the server's back (tampering, or a file from before
        encryption)."""
        if self.s3 is not None:
            self.s3.client().put_object(Bucket=self.s3.bucket, Key=key, Body=data)
        else:
            (self.folder / key).write_bytes(data)

    def partial_uploads(self) -> list[str]:
        if self.s3 is not None:
            return self.s3.unfinished_uploads()
        return [key for key in self.stored_keys() if key.endswith(".part")]


def stored_key(attachment_id: str) -> str:
    """Where the server keeps an attachment's bytes (attachments/actions/upload.py)."""
    hexed = uuid.UUID(attachment_id).hex
    return f"{hexed[:2]}/{hexed}"


def _files_server(
    backend_env: dict[str, str], backend: str, s3: S3Endpoint | None, **extra: str
) -> tuple[Server, dict[str, str]]:
    # A data folder of its own: its files only (and, on SQLite, its own database).
    env = {
        **backend_env,
        "MAX_FILE_SIZE": str(MAX_FILE_SIZE),
        "PARLEY_DATA_DIR": tempfile.mkdtemp(prefix="parley-files-"),
        **extra,
    }
    if s3 is not None:
        env.update(s3.env)
    return start_server(env), env


async def _running(
    backend_env: dict[str, str], backend: str, s3: S3Endpoint | None
) -> AsyncIterator[FilesServer]:
    server, env = _files_server(backend_env, backend, s3)
    running = FilesServer(server=server, env=env, backend=backend, s3=s3)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for name in ("alice", "bob", "carol", "mallory"):
            running.users[name] = await register(http, name)
    yield running
    server.stop()
    shutil.rmtree(env["PARLEY_DATA_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
async def local_files(backend_env: dict[str, str]) -> AsyncIterator[FilesServer]:
    """Files in a folder under PARLEY_DATA_DIR (the default)."""
    async for running in _running(backend_env, "local", None):
        yield running


@pytest.fixture(scope="session")
async def s3_files(backend_env: dict[str, str], s3: S3Endpoint) -> AsyncIterator[FilesServer]:
    """Files in a bucket of moto's S3 server."""
    async for running in _running(backend_env, "s3", s3):
        yield running


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest) -> FilesServer:
    """Each storage backend in turn (the tests of what storage does)."""
    return request.getfixturevalue(f"{request.param}_files")  # type: ignore[no-any-return]


@pytest.fixture
async def http(files: FilesServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=files.server.url, timeout=60) as client:
        yield client


@pytest.fixture
def start_files_server(backend_env: dict[str, str]) -> Iterator[Any]:
    """Start an extra server (the local folder backend) with settings of its own."""
    started: list[tuple[Server, dict[str, str]]] = []

    def _start(**extra: str) -> Server:
        server, env = _files_server(backend_env, "local", None, **extra)
        started.append((server, env))
        return server

    yield _start
    for server, env in started:
        server.stop()
        shutil.rmtree(env["PARLEY_DATA_DIR"], ignore_errors=True)
