"""The process's attachment store, registered in the runtime by the app's lifespan."""

from __future__ import annotations

from parley.attachments.sealed import SealedStorage
from parley.attachments.storage import open_storage
from parley.core import runtime
from parley.core.config import Settings


class AttachmentStore:
    """The configured storage (a folder, or an S3-compatible bucket) for this process, behind
    the encrypting layer: every read and write of attachment bytes goes through `storage`."""

    def __init__(self, storage: SealedStorage) -> None:
        self.storage = storage

    @classmethod
    async def open(cls, settings: Settings) -> AttachmentStore:
        return cls(await open_sealed_storage(settings))

    async def stop(self) -> None:
        await self.storage.close()


async def open_sealed_storage(settings: Settings) -> SealedStorage:
    """The configured store, encrypting under the process's key ring (the CLI's way in)."""
    return SealedStorage(await open_storage(settings))


def store() -> AttachmentStore:
    return runtime.current().component(AttachmentStore)
