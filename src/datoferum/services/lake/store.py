"""Writing the lake: partitioned Parquet objects on a storage backend, registered in the catalog.

A write never shows anything half done. Rows are first written to local Parquet files (one per
partition, row groups of up to :data:`ROW_GROUP_ROWS`), then each file is streamed to the storage
backend through its staged-write protocol, committed, read back and compared with the sha256
taken on the way in. Only then does one catalog transaction register the new objects, remove the
registration of the objects the same source produced before (so normalizing an input again
replaces its rows instead of adding them twice) and append the caller's events. Replaced objects
are deleted after that commit; staging markers are released after it too, so a crash at any
point leaves either nothing visible or objects the sweep finishes or removes by asking the
catalog (``services/sweep.py`` knows ``lake_partitions``).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, delete, insert, select

from datoferum.adapters.storage.base import ObjectWriter, StorageBackend
from datoferum.domain.ids import new_id, utcnow
from datoferum.errors import DatoferumError, StorageUnavailable
from datoferum.services.focus import parquet
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import File, LakePartition
from datoferum.spine.eventlog import NewEvent

log = logging.getLogger(__name__)

#: Rows of one partition gathered before a Parquet row group is written.
ROW_GROUP_ROWS = 65_536
_CHUNK = 1 << 20
#: The collection name under which backends with readable keys (HDFS, S3) file lake objects.
KEY_SPACE = "lake"


def partition_path(keys: Mapping[str, str]) -> str:
    """Hive-style ``k=v/k=v``, in the order the source gave the keys."""
    return "/".join(f"{name}={value}" for name, value in keys.items())


@dataclass(frozen=True)
class Lineage:
    """What produced a set of objects: ``key`` identifies the input whose contribution they
    are; the file and version, when the input is a captured file."""

    key: str
    source: str
    file_id: str | None = None
    version_id: str | None = None
    version: int | None = None


@dataclass
class Part:
    """One object written (and verified) on the backend, not yet registered."""

    id: str
    dataset: str
    partition: str
    path: str
    key: str
    rows: int
    size: int
    sha256: str
    writer: ObjectWriter

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "rows": self.rows, "bytes": self.size}


@dataclass
class _Pending:
    """A local Parquet file being filled with one partition's rows."""

    file: Path
    writer: pq.ParquetWriter
    batches: list[pa.RecordBatch] = field(default_factory=list)
    buffered: int = 0
    rows: int = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.buffered += batch.num_rows
        self.rows += batch.num_rows
        if self.buffered >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.batches:
            table = pa.Table.from_batches(self.batches, schema=self.writer.schema)
            self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            self.batches, self.buffered = [], 0


@dataclass(frozen=True)
class Registered:
    """The outcome of a registration: the objects now in the lake, and those they replaced."""

    parts: list[Part]
    replaced: list[dict[str, Any]]


class LakeStore:
    """Writes and registers lake objects on one backend (the ingest backend)."""

    def __init__(self, catalog: Catalog, backend: StorageBackend, work: Path) -> None:
        self.catalog = catalog
        self.backend = backend
        self.work = work

    def stage(
        self,
        dataset: str,
        batches: Iterable[tuple[Mapping[str, str], pa.RecordBatch]],
        on_rows: Callable[[int], None] | None = None,
    ) -> list[Part]:
        """Write the rows to verified objects on the backend, one per partition. On any failure
        everything written so far is removed and the error is raised."""
        self.work.mkdir(parents=True, exist_ok=True)
        parts: list[Part] = []
        with tempfile.TemporaryDirectory(dir=self.work, prefix="stage-") as scratch:
            pending: dict[str, _Pending] = {}
            try:
                done = 0
                for keys, batch in batches:
                    partition = partition_path(keys)
                    target = pending.get(partition)
                    if target is None:
                        file = Path(scratch) / f"{len(pending)}.parquet"
                        writer = parquet.writer(file, batch)
                        target = pending[partition] = _Pending(file, writer)
                    if not batch.schema.equals(target.writer.schema):
                        raise DatoferumError(
                            f"the source changed its columns within partition {partition}"
                        )
                    target.add(batch)
                    done += batch.num_rows
                    if on_rows is not None:
                        on_rows(done)
                for target in pending.values():
                    target.flush()
                    target.writer.close()
                for partition, target in pending.items():
                    parts.append(self._upload(dataset, partition, target))
            except BaseException:
                for target in pending.values():
                    target.writer.close()
                self.discard(parts)
                raise
        return parts

    def _upload(self, dataset: str, partition: str, pending: _Pending) -> Part:
        part_id = new_id()
        path = f"{dataset}/{partition}/part-{part_id}.parquet"
        key = self.backend.key_for(KEY_SPACE, path, part_id, 1)
        writer = self.backend.open_writer(key)
        digest = hashlib.sha256()
        size = 0
        try:
            with pending.file.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    writer.write(chunk)
            writer.commit()
            sha256 = digest.hexdigest()
            self._verify(key, size, sha256)
        except BaseException:
            writer.abort()
            raise
        return Part(part_id, dataset, partition, path, key, pending.rows, size, sha256, writer)

    def _verify(self, key: str, size: int, sha256: str) -> None:
        """Read the committed object back: the backend must hold exactly what was sent."""
        digest = hashlib.sha256()
        read = 0
        for chunk in self.backend.read(key):
            digest.update(chunk)
            read += len(chunk)
        if read != size or digest.hexdigest() != sha256:
            raise StorageUnavailable(
                f"lake object {key} on {self.backend.name} does not read back as written "
                f"({read} of {size} bytes, sha256 {'differs' if read == size else 'unchecked'})"
            )

    def discard(self, parts: Sequence[Part]) -> None:
        """Remove staged, unregistered objects (after a failure)."""
        for part in parts:
            part.writer.abort()

    def register(
        self,
        parts: Sequence[Part],
        lineage: Lineage,
        actor: str,
        events: Callable[[list[dict[str, Any]]], list[NewEvent]],
    ) -> Registered:
        """Make ``parts`` the lake's objects for ``lineage.key``, replacing earlier ones, and
        append ``events(replaced)`` in the same transaction; then release and clean up."""
        now = utcnow()
        try:
            with self.catalog.writing() as conn:
                if lineage.file_id is not None:  # two normalizations of a file take turns
                    conn.execute(
                        select(File.id).where(File.id == lineage.file_id).with_for_update()
                    )
                replaced = _replace(conn, lineage.key)
                if parts:
                    conn.execute(
                        insert(LakePartition),
                        [_row(part, lineage, self.backend.name, actor, now) for part in parts],
                    )
                eventlog.append(conn, events(replaced))
        except BaseException:
            self.discard(parts)
            raise
        for part in parts:
            part.writer.release()
        self._delete(replaced)
        return Registered(list(parts), replaced)

    def remove(
        self, key: str, events: Callable[[list[dict[str, Any]]], list[NewEvent]]
    ) -> list[dict[str, Any]]:
        """Take every object of source ``key`` out of the lake."""
        with self.catalog.writing() as conn:
            replaced = _replace(conn, key)
            eventlog.append(conn, events(replaced))
        self._delete(replaced)
        return replaced

    def _delete(self, objects: Sequence[dict[str, Any]]) -> None:
        for item in objects:
            try:
                self.backend.delete(item["storage_key"])
            except DatoferumError as error:  # left for the dark-data report
                log.warning("could not delete replaced lake object %s: %s", item["path"], error)


def _replace(conn: Connection, source_key: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            LakePartition.id, LakePartition.path, LakePartition.storage_key,
            LakePartition.row_count,
        ).where(LakePartition.source_key == source_key)
    ).all()  # fmt: skip
    if rows:
        conn.execute(delete(LakePartition).where(LakePartition.source_key == source_key))
    return [
        {"id": r.id, "path": r.path, "storage_key": r.storage_key, "rows": r.row_count}
        for r in rows
    ]


def _row(part: Part, lineage: Lineage, backend: str, actor: str, now: Any) -> dict[str, Any]:
    return {
        "id": part.id, "dataset": part.dataset, "partition_path": part.partition,
        "path": part.path, "source_key": lineage.key, "source": lineage.source,
        "file_id": lineage.file_id, "version_id": lineage.version_id,
        "version": lineage.version, "backend": backend, "storage_key": part.key,
        "row_count": part.rows, "size": part.size, "sha256": part.sha256, "created_at": now,
        "created_by": actor,
    }  # fmt: skip
