"""Storage backends, built from settings."""

from __future__ import annotations

from datoferum.adapters.storage.base import StorageBackend
from datoferum.adapters.storage.local import LocalDiskBackend
from datoferum.config import Settings


def build_storage(settings: Settings) -> StorageBackend:
    """The backend new uploads go to. Only the local disk exists on the embedded defaults."""
    return LocalDiskBackend(settings.local_storage_root, durable=settings.durability == "full")
