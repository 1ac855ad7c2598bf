"""What the catalog says about files, as plain records the interfaces can render."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from datoferum.domain.ids import isoformat


class State:
    """Lifecycle states of a version (see docs/architecture.md for the full life)."""

    RECEIVING = "receiving"
    CAPTURED = "captured"
    CLASSIFIED = "classified"
    #: Readable from at least one copy; copies are being made or moved to fit the storage policy.
    PLACING = "placing"
    STORED = "stored"
    HELD = "held"
    PURGING = "purging"
    PURGED = "purged"

    ALL = (RECEIVING, CAPTURED, CLASSIFIED, PLACING, STORED, HELD, PURGING, PURGED)
    READABLE = frozenset({PLACING, STORED, HELD})
    #: Versions policies and retention act on: kept, not on their way out.
    LIVE = (PLACING, STORED)


@dataclass(frozen=True)
class ReplicaRecord:
    backend: str
    key: str
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "state": self.state}


@dataclass(frozen=True)
class Lifecycle:
    """What classification and policies decided about a version."""

    sniffed_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    personal_keys: tuple[str, ...] = ()
    storage_policy: str | None = None
    retain_until: datetime | None = None
    retention_mode: str | None = None
    expiry_action: str | None = None
    purged_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sniffed_type": self.sniffed_type,
            "tags": self.tags,
            "personal_keys": list(self.personal_keys),
            "storage_policy": self.storage_policy,
            "retention": None
            if self.retain_until is None
            else {
                "until": isoformat(self.retain_until),
                "mode": self.retention_mode,
                "then": self.expiry_action,
            },
            "purged_at": isoformat(self.purged_at) if self.purged_at else None,
        }


@dataclass(frozen=True)
class VersionRecord:
    id: str
    number: int
    state: str
    size: int
    sha256: str
    content_type: str
    metadata: dict[str, str]
    created_at: datetime
    created_by: str
    replicas: tuple[ReplicaRecord, ...] = ()
    lifecycle: Lifecycle = field(default_factory=lambda: Lifecycle())

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.lifecycle.as_dict(),
            "version": self.number,
            "version_id": self.id,
            "state": self.state,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "metadata": self.metadata,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "replicas": [replica.as_dict() for replica in self.replicas],
        }


@dataclass(frozen=True)
class FileRecord:
    """A file and, in ``current``, the version a plain GET serves (the newest unless asked)."""

    id: str
    collection: str
    path: str
    created_at: datetime
    updated_at: datetime
    latest_version: int
    current: VersionRecord
    versions: tuple[VersionRecord, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "collection": self.collection,
            "path": self.path,
            "version": self.current.number,
            "latest_version": self.latest_version,
            "size": self.current.size,
            "sha256": self.current.sha256,
            "state": self.current.state,
            "content_type": self.current.content_type,
            "metadata": self.current.metadata,
            **self.current.lifecycle.as_dict(),
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
        }
        if self.versions:
            body["versions"] = [version.as_dict() for version in self.versions]
        return body


@dataclass(frozen=True)
class FileSummary:
    """One row of a listing (latest version only, no join over versions)."""

    id: str
    collection: str
    path: str
    latest_version: int
    state: str
    size: int
    sha256: str
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            "path": self.path,
            "version": self.latest_version,
            "state": self.state,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
        }
