"""Access: find the bytes of a version, and put every read on the file's record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.records import FileRecord, ReplicaRecord, State
from datoferum.domain.roles import Principal
from datoferum.errors import NotFound, StorageUnavailable
from datoferum.services.files import find_file
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.eventlog import NewEvent


class AccessService:
    def __init__(self, catalog: Catalog, backends: Mapping[str, StorageBackend]) -> None:
        self.catalog = catalog
        self.backends = backends

    def locate(self, collection: str, path: str, version: int | None = None) -> FileRecord:
        """The file with ``current`` set to the requested version; raises if it is not readable."""
        with self.catalog.reading() as conn:
            record = find_file(conn, collection, path, version=version)
        if record.current.state not in State.READABLE:
            raise NotFound(
                f"version {record.current.number} of {collection}/{path} is {record.current.state} "
                "and its bytes can no longer be read"
            )
        return record

    def _replica(self, record: FileRecord) -> tuple[StorageBackend, ReplicaRecord]:
        for replica in record.current.replicas:
            backend = self.backends.get(replica.backend)
            if backend is not None and replica.state == "present":
                return backend, replica
        raise StorageUnavailable(
            f"no configured storage backend holds version {record.current.number} of "
            f"{record.collection}/{record.path}"
        )

    def local_path(self, record: FileRecord) -> Path | None:
        backend, replica = self._replica(record)
        return backend.local_path(replica.key) if backend.capabilities.local_paths else None

    def read(self, record: FileRecord, offset: int, length: int) -> Iterator[bytes]:
        backend, replica = self._replica(record)
        return backend.read(replica.key, offset, length)

    def record_read(
        self,
        actor: Principal,
        record: FileRecord,
        byte_range: tuple[int, int] | None,
        correlation_id: str,
    ) -> None:
        """Log a read before its bytes leave, so even an interrupted download is on record."""
        details: dict[str, object] = {"bytes": record.current.size}
        if byte_range is not None:
            details = {
                "range": [byte_range[0], byte_range[1]],
                "bytes": byte_range[1] - byte_range[0] + 1,
            }
        with self.catalog.writing() as conn:
            eventlog.append(
                conn,
                [
                    NewEvent(
                        "file.read", actor.subject, record.id, record.current.number, details,
                        correlation_id,
                    )
                ],
            )  # fmt: skip
