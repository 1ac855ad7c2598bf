"""The small-file journal: one flush per small upload instead of three.

Made durable the plain way, a 4 KiB upload to the local disk costs three flushes in a row: its
file, its directory, then the catalog commit that records it. Most of a small upload's time went
there. Instead, the bytes of an upload up to ``small_file_journal_bytes`` ride in the catalog
transaction that records the version (a :class:`~datoferum.spine.catalog.schema.JournaledObject`
row), so that commit's single flush makes both durable; the file is written and linked into
place without a flush. A background loop then flushes the storage writes in batches (one
``syncfs`` for hundreds of files) and deletes the rows.

After a crash, files written without a flush may be missing, empty or torn; :meth:`recover` runs
before the server takes requests and rewrites every object that still has a row from the bytes
in the catalog. A version purged meanwhile has no row left (the purge deletes it before it
deletes the bytes), so a purged object is never brought back.

The same pattern as a database's write-ahead log for small writes: the bytes are written twice,
once to a sequential log that is flushed anyway, and reach their home lazily.

Each row names the machine that wrote the file, and only processes on that machine flush it:
servers sharing one catalog and a network file system must not drop rows for writes still
sitting in another machine's page cache. Recovery may take any row, because it rewrites the
object from the catalog and flushes it itself.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Mapping
from itertools import groupby

from sqlalchemy import Connection, delete, insert, select, tuple_

from datoferum.adapters.storage.base import DeferredFlush, StorageBackend
from datoferum.domain.ids import utcnow
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.prepared import Prepared
from datoferum.spine.catalog.schema import JournaledObject, Replica

log = logging.getLogger(__name__)

#: Rows flushed together: one storage flush and one catalog transaction for the lot.
FLUSH_BATCH = 1000
#: Rows restored together after a crash; each holds up to a mebibyte, so memory stays bounded.
RECOVER_BATCH = 32

_ADD = Prepared(insert(JournaledObject))
_ANY = select(JournaledObject.key).limit(1)


class SmallFileJournal:
    def __init__(
        self, catalog: Catalog, backends: Mapping[str, StorageBackend], *, max_bytes: int
    ) -> None:
        self.catalog = catalog
        self.backends = backends
        #: Largest upload journaled (0: none).
        self.max_bytes = max_bytes
        self.host = socket.gethostname()[:255]

    def applies(self, backend: StorageBackend) -> bool:
        """Whether small uploads to ``backend`` are made durable by the journal."""
        return (
            self.max_bytes > 0
            and isinstance(backend, DeferredFlush)
            and backend.durable  # a backend that never flushes gains nothing
        )

    def add(self, conn: Connection, backend: str, key: str, data: bytes) -> None:
        """Keep ``data`` in the transaction that records the object (before its commit)."""
        _ADD.run(
            conn,
            {"backend": backend, "key": key, "data": data, "host": self.host,
             "created_at": utcnow()},
        )  # fmt: skip

    @staticmethod
    def forget(conn: Connection, copies: Iterable[tuple[str, str]]) -> None:
        """Drop the rows of objects about to be deleted (a purge), so nothing restores them.

        Rows live about a second, so the table is nearly always empty: one probe then spares a
        purge batch the delete of hundreds of keys. Safe within the purge's transaction: a
        version it purges was committed, and its row with it, before the purge read it."""
        if conn.execute(_ANY).first() is None:
            return
        by_backend: dict[str, list[str]] = {}
        for backend, key in copies:
            by_backend.setdefault(backend, []).append(key)
        for backend, keys in by_backend.items():
            for start in range(0, len(keys), FLUSH_BATCH):
                conn.execute(
                    delete(JournaledObject).where(
                        JournaledObject.backend == backend,
                        JournaledObject.key.in_(keys[start : start + FLUSH_BATCH]),
                    )
                )

    def _deferring(self) -> dict[str, DeferredFlush]:
        return {n: b for n, b in self.backends.items() if isinstance(b, DeferredFlush)}

    def flush(self) -> int:
        """Flush the storage writes this machine journaled, then drop their rows; how many."""
        backends = self._deferring()
        done = 0
        while True:
            with self.catalog.reading() as conn:
                rows = conn.execute(
                    select(JournaledObject.backend, JournaledObject.key)
                    .where(
                        JournaledObject.backend.in_(sorted(backends)),
                        JournaledObject.host == self.host,
                    )
                    .order_by(JournaledObject.backend, JournaledObject.key)
                    .limit(FLUSH_BATCH)
                ).all()
            for name, group in groupby(rows, key=lambda row: row.backend):
                keys = [row.key for row in group]
                backends[name].flush_objects(keys)
                with self.catalog.writing() as conn:
                    self.forget(conn, [(name, key) for key in keys])
            done += len(rows)
            if len(rows) < FLUSH_BATCH:
                return done

    def recover(self) -> int:
        """Restore every journaled object whose copy the catalog still counts as present, then
        drop the rows; how many were restored. Run before any request is served. Rows of a
        storage missing from the configuration are kept (and reported) for when it is back."""
        backends = self._deferring()
        restored = 0
        after = ("", "")
        while True:
            with self.catalog.reading() as conn:
                rows = conn.execute(
                    select(
                        JournaledObject.backend, JournaledObject.key, JournaledObject.data,
                        Replica.state,
                    )
                    .outerjoin(
                        Replica,
                        (Replica.backend == JournaledObject.backend)
                        & (Replica.key == JournaledObject.key),
                    )
                    .where(tuple_(JournaledObject.backend, JournaledObject.key) > after)
                    .order_by(JournaledObject.backend, JournaledObject.key)
                    .limit(RECOVER_BATCH)
                ).all()  # fmt: skip
            if not rows:
                return restored
            done = []
            for row in rows:
                backend = backends.get(row.backend)
                if backend is None:
                    log.warning(
                        "journaled object %s belongs to storage %r, which is not configured "
                        "(or cannot defer flushes); kept until it is", row.key, row.backend,
                    )  # fmt: skip
                    continue
                if row.state == "present":
                    backend.restore(row.key, row.data)
                    restored += 1
                done.append((row.backend, row.key))
            with self.catalog.writing() as conn:
                self.forget(conn, done)
            after = (rows[-1].backend, rows[-1].key)
