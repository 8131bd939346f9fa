"""The process's attachment store, registered in the runtime by the app's lifespan."""

from __future__ import annotations

from parley.attachments.storage import Storage, open_storage
from parley.core import runtime
from parley.core.config import Settings


class AttachmentStore:
    """The configured storage (a folder, or an S3-compatible bucket) for this process."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @classmethod
    async def open(cls, settings: Settings) -> AttachmentStore:
        return cls(await open_storage(settings))

    async def stop(self) -> None:
        await self.storage.close()


def store() -> AttachmentStore:
    return runtime.current().component(AttachmentStore)
