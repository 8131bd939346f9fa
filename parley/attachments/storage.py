"""Where attachment bytes live, behind one small interface: a folder under PARLEY_DATA_DIR
(the embedded default) or any S3-compatible store (S3, MinIO, Ceph...) when the S3_* settings
are given, so several instances share the files.

Both stream: `put` consumes an async iterator of chunks and holds at most one part in memory
(S3: a multipart upload of PART_SIZE parts); `get` yields chunks of a byte range. A `put` that
fails for any reason (the upload went over MAX_FILE_SIZE, the client went away) leaves nothing
behind: the local temporary file is removed, the S3 multipart upload aborted.

These hold ciphertext: attachment bytes are read and written through `sealed.SealedStorage`
(`store().storage`, or `store.open_sealed_storage` outside the app), which encrypts on the
way in and decrypts on the way out. A raw `Storage` is fit only for deleting.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

import anyio
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from parley.core.config import S3Settings, Settings

READ_CHUNK = 256 * 1024
# Local writes are gathered to this size: one thread hop per MiB, not per network chunk.
WRITE_CHUNK = 1024 * 1024
# S3 parts (at least 5 MiB but the last): what an upload holds in memory at most.
PART_SIZE = 8 * 1024 * 1024


class ObjectMissing(LookupError):
    """A file's bytes are not in storage although its row says they are (lost on disk or in
    the bucket): raised by `get` before its first chunk."""


class Storage(Protocol):
    """Bytes by key; keys are made by the server (`attachments/<id>`), never by clients."""

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        """Store the chunks under `key`; on any error raised by `chunks`, keep nothing."""

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes from `start` to `end` (inclusive; None: to the end)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error (sweeps may race)."""

    async def exists(self, key: str) -> bool: ...

    async def close(self) -> None: ...


class LocalStorage:
    """Files under one folder; written to a temporary name and renamed when complete."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key leaves the storage folder")
        return path

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per write: two writers of one key (key rotation run twice at
        # once) never mix their bytes; the last rename wins with a whole file.
        partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
        try:
            async with await anyio.open_file(partial, "wb") as handle:
                pending: list[bytes] = []
                gathered = 0
                async for chunk in chunks:
                    pending.append(chunk)
                    gathered += len(chunk)
                    if gathered >= WRITE_CHUNK:
                        await handle.write(b"".join(pending))
                        pending, gathered = [], 0
                if pending:
                    await handle.write(b"".join(pending))
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        try:
            opened = await anyio.open_file(self._path(key), "rb")
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        async with opened as handle:
            await handle.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await handle.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def close(self) -> None:
        return None


class S3Storage:
    """An S3-compatible bucket through aiobotocore (botocore signs; one client per process)."""

    def __init__(self, settings: S3Settings) -> None:
        self._settings = settings
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def start(self) -> None:
        session = get_session()
        self._client = await self._stack.enter_async_context(
            session.create_client(
                "s3",
                endpoint_url=self._settings.endpoint_url,
                region_name=self._settings.region,
                aws_access_key_id=self._settings.access_key_id,
                aws_secret_access_key=self._settings.secret_access_key,
                # Path-style addressing: what MinIO, Ceph and most self-hosted stores expect.
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
            )
        )

    async def close(self) -> None:
        await self._stack.aclose()

    @property
    def bucket(self) -> str:
        return self._settings.bucket

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= PART_SIZE:
                    if upload_id is None:
                        created = await self._client.create_multipart_upload(
                            Bucket=self.bucket, Key=key
                        )
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            if upload_id is None:
                # Small files: one request.
                await self._client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
                return
            if buffer:
                parts.append(await self._upload_part(key, upload_id, len(parts) + 1, buffer))
            await self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload_id
                    )
            raise

    async def _upload_part(
        self, key: str, upload_id: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        answer = await self._client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(data)
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = await self._client.get_object(Bucket=self.bucket, Key=key, **extra)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(key) from None
            if code == "InvalidRange":
                # A range starting past the end (an empty object, or one cut short): no
                # bytes, as a local read past the end gives.
                return
            raise
        body = answer["Body"]
        try:
            while chunk := await body.read(READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def exists(self, key: str) -> bool:
        try:
            await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


async def open_storage(settings: Settings) -> Storage:
    """The configured store, ready to use: S3 when the S3_* settings are given, else the
    `attachments` folder under PARLEY_DATA_DIR."""
    if settings.s3 is not None:
        s3 = S3Storage(settings.s3)
        await s3.start()
        return s3
    return LocalStorage(settings.data_dir / "attachments")
