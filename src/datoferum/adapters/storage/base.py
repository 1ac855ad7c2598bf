"""The storage backend interface: what the carrier needs from any place that holds bytes.

A write is *staged* under a key chosen by the caller. ``commit`` makes the bytes durable and
visible under the key but keeps a staging marker; the caller records the object in the catalog
and then calls ``release``. A crash at any point leaves either nothing visible, or a staging marker
that ``abandoned()`` reports so the sweep can finish or undo the write by asking the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectStat:
    key: str
    size: int


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the basics; callers and tests select on these."""

    local_paths: bool = False  # ``local_path`` gives a path the server may send directly


class ObjectWriter(Protocol):
    """One staged write. Not thread-safe: one caller writes, in order."""

    key: str

    def write(self, data: bytes) -> None: ...

    def commit(self, *, flush: bool = True) -> None:
        """Make the bytes durable and visible under ``key`` (the staging marker stays).

        ``flush=False`` allows a backend that implements :class:`DeferredFlush` to make them only
        visible: the caller has made them durable elsewhere (the small-file journal) and flushes
        them later. Other backends are durable at every commit and may ignore it."""

    def release(self) -> None:
        """Drop the staging marker once the catalog knows the object."""

    def abort(self) -> None:
        """Remove everything this write created, committed or not. Safe to call twice."""


class StorageBackend(Protocol):
    """A place that holds bytes under opaque keys."""

    name: str
    capabilities: Capabilities

    def key_for(self, collection: str, path: str, version_id: str, number: int) -> str:
        """The key a version's bytes get on this backend. Stores that people browse with their
        own tools (HDFS, S3) use readable keys like ``<collection>/<path>/v<number>``; the local
        disk uses the version id, spread over pre-made shard directories."""
        ...

    def open_writer(self, key: str) -> ObjectWriter: ...

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[offset, offset+length)`` in bounded chunks."""
        ...

    def stat(self, key: str) -> ObjectStat | None: ...

    def stat_many(self, keys: Sequence[str]) -> list[ObjectStat | None]:
        """``stat`` of every key, in order. A purge checks a whole batch of deleted objects;
        a backend answers a batch with fewer round trips than one call per key."""
        ...

    def delete(self, key: str) -> bool:
        """Delete the object; True if it existed."""
        ...

    def delete_many(self, keys: Sequence[str]) -> list[bool]:
        """Delete the objects, durably by the time it returns; for each, True if it existed.
        Purges delete in batches, and a backend can do a batch much faster than one by one."""
        ...

    def object_keys(self) -> Iterator[str]:
        """The key of every committed object (never staging areas), for dark-data reports;
        listed lazily, page by page."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A local file holding the object, if the backend has one (for zero-copy sends)."""
        ...

    def abandoned(self) -> Iterator[str]:
        """Keys of staged writes that no live writer holds (left by a crash or a kill)."""
        ...

    def forget_staging(self, key: str) -> None:
        """Remove the staging marker of an abandoned write whose object the catalog knows."""
        ...

    def check(self) -> None:
        """Raise :class:`~datoferum.errors.StorageUnavailable` if the backend cannot be written."""
        ...

    def close(self) -> None:
        """Release connections and background threads; the backend is not used after."""
        ...


@runtime_checkable
class DeferredFlush(Protocol):
    """A backend whose commits can skip the flush to disk, for objects whose bytes the caller
    keeps durable elsewhere until :meth:`flush_objects` has run (local disk: a small upload then
    costs one flush, the catalog's, instead of three)."""

    durable: bool

    def flush_objects(self, keys: Sequence[str]) -> None:
        """Make the objects committed without a flush durable (those deleted since are skipped)."""
        ...

    def restore(self, key: str, data: bytes) -> None:
        """Make the object ``key`` hold exactly ``data``, durably: after a crash, an object
        committed without a flush may be missing, empty or torn."""
        ...
