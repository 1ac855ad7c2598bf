"""Capture: take a stream of bytes in, make it durable, and record it with its events.

The order is what makes a capture safe to interrupt anywhere: bytes are hashed while they are
written to a staged object; when the body ends, lengths and client digests are checked, the object
is committed (fsync, made visible), and only then does one catalog transaction create the version,
its replica and its events. A failure before that transaction removes the object; a crash is
cleaned up by the sweep (``services/sweep.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import NoReturn

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from datoferum.adapters.storage.base import ObjectWriter, StorageBackend
from datoferum.domain.classification import Classification
from datoferum.domain.digests import Hashes
from datoferum.domain.ids import new_id, utcnow
from datoferum.domain.names import check_collection, check_path
from datoferum.domain.policies.facts import FileFacts
from datoferum.domain.records import FileRecord, ReplicaRecord, State, VersionRecord
from datoferum.domain.roles import Principal
from datoferum.domain.sniffing import sniff
from datoferum.errors import DatoferumError, IncompleteBody, PayloadTooLarge, RejectedByPolicy
from datoferum.services import placement
from datoferum.services.journal import SmallFileJournal
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.prepared import Prepared, as_datetime
from datoferum.spine.catalog.schema import Collection, File, Replica, Version
from datoferum.spine.eventlog import NewEvent


@dataclass(frozen=True)
class CaptureRequest:
    collection: str
    path: str
    actor: Principal
    content_type: str = "application/octet-stream"
    metadata: Mapping[str, str] = field(default_factory=dict)
    expected_digests: Mapping[str, bytes] = field(default_factory=dict)
    declared_length: int | None = None
    correlation_id: str = ""


_PARALLEL_HASH_BYTES = 256 * 1024
SNIFF_BYTES = 8 * 1024

# Statements of the capture transaction, built once (it runs for every upload).
_LOCK_FILE = Prepared(
    select(File.id, File.latest_version, File.created_at)
    .where(
        File.collection_id == bindparam("collection_id"), File.path_hash == bindparam("path_hash")
    )
    .with_for_update()
)
_INSERT_FILE = Prepared(insert(File))
_NEW_LATEST = Prepared(
    update(File)
    .where(File.id == bindparam("file_id"))
    .values(
        updated_at=bindparam("now"), latest_version=bindparam("number"),
        state=bindparam("new_state"), size=bindparam("new_size"), sha256=bindparam("new_sha256"),
    )
)  # fmt: skip
_INSERT_VERSION = Prepared(insert(Version))
_INSERT_REPLICA = Prepared(insert(Replica))


def path_hash(path: str) -> str:
    """The fixed-size key that makes (collection, path) unique on every engine."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()


def _metadata_digests(metadata: Mapping[str, str]) -> dict[str, str]:
    # The log keeps hashes, not values: metadata may be personal data that a purge must erase,
    # while the chain must stay intact.
    return {
        key: "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
        for key, value in metadata.items()
    }


class CaptureService:
    def __init__(
        self,
        catalog: Catalog,
        storage: StorageBackend,
        hash_executor: Executor,
        *,
        max_bytes: int,
        journal: SmallFileJournal | None = None,
        placed: Callable[[str | None, set[str]], bool] = lambda _policy, _backends: True,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.max_bytes = max_bytes
        #: Uploads up to this size are made durable by the small-file journal (-1: none are).
        self.journal = journal
        self.journal_bytes = (
            journal.max_bytes if journal is not None and journal.applies(storage) else -1
        )
        #: Whether a copy on the ingest backend alone satisfies a storage policy; if not, the
        #: new version is ``placing`` and a placement job makes the rest.
        self.placed = placed
        self._hash_executor = hash_executor
        self._collections: dict[str, str] = {}
        #: Capture-mode policies; set once the policy engine is built.
        self.classifier: Callable[[FileFacts], Classification] | None = None

    def start(self, request: CaptureRequest) -> Capture:
        """Check the request before any byte is read; raises on a bad name or a too-large body."""
        check_collection(request.collection)
        check_path(request.path)
        if request.declared_length is not None and request.declared_length > self.max_bytes:
            raise PayloadTooLarge(
                f"the body is {request.declared_length} bytes; this server accepts at most "
                f"{self.max_bytes} bytes per file (DATOFERUM_MAX_UPLOAD_BYTES)",
                limit=self.max_bytes,
            )
        return Capture(self, request)

    # -- catalog side ------------------------------------------------------------------------

    def _collection_id(
        self, conn: Connection, name: str, actor: Principal, correlation: str
    ) -> str:
        """The collection's id, creating the collection on its first upload. Only ids read back
        from the catalog are cached: a collection created in a transaction that then rolls back
        (a deadlock victim, run again) must not be remembered."""
        cached = self._collections.get(name)
        if cached is not None:
            return cached
        found = conn.execute(select(Collection.id).where(Collection.name == name)).scalar()
        if found is not None:
            self._collections[name] = found
            return str(found)
        # A concurrent first upload to the same collection makes this insert fail; the capture
        # transaction then runs again (see ``record``) and finds the collection.
        created = new_id()
        conn.execute(insert(Collection).values(id=created, name=name, created_at=utcnow()))
        eventlog.append(
            conn,
            [
                NewEvent(
                    "collection.created", actor.subject, details={"collection": name},
                    correlation_id=correlation,
                )
            ],
        )  # fmt: skip
        return created

    def existing_file_id(self, collection: str, path: str) -> str | None:
        with self.catalog.reading() as conn:
            return conn.execute(
                select(File.id)
                .join(Collection, Collection.id == File.collection_id)
                .where(Collection.name == collection, File.path_hash == path_hash(path))
            ).scalar()

    def classify(self, request: CaptureRequest, head: bytes, size: int) -> Classification:
        """Judge the arriving file by the capture-mode policies (nothing stored yet)."""
        sniffed = sniff(head, request.content_type)
        if self.classifier is None:
            return Classification(sniffed_type=sniffed)
        facts = FileFacts(
            collection=request.collection, path=request.path, content_type=sniffed,
            declared_content_type=request.content_type, size=size, metadata=request.metadata,
            captured_at=utcnow(), source=request.actor.subject, state=State.CAPTURED,
        )  # fmt: skip
        decided = self.classifier(facts)
        decided.sniffed_type = sniffed
        return decided

    def record(
        self,
        request: CaptureRequest,
        version_id: str,
        size: int,
        sha256: str,
        decided: Classification,
        journaled: bytes | None = None,
    ) -> FileRecord:
        """Create the version, its replica and its events in one transaction (run again if a
        concurrent upload won a race for the same new path, or the database chose it as a
        deadlock victim). ``journaled``: the bytes, when the small-file journal keeps them."""
        return self.catalog.transact(
            lambda conn: self._record(conn, request, version_id, size, sha256, decided, journaled),
            also_retry=(IntegrityError,),
        )

    def _record(
        self,
        conn: Connection,
        request: CaptureRequest,
        version_id: str,
        size: int,
        sha256: str,
        decided: Classification,
        journaled: bytes | None,
    ) -> FileRecord:
        now = utcnow()
        actor = request.actor
        placed = self.placed(decided.storage_policy, {self.storage.name})
        state = State.STORED if placed else State.PLACING
        collection_id = self._collection_id(conn, request.collection, actor, request.correlation_id)
        hashed_path = path_hash(request.path)
        found = _LOCK_FILE.run(conn, {"collection_id": collection_id, "path_hash": hashed_path})
        if not found:
            file_id, number, created_at = new_id(), 1, now
            _INSERT_FILE.run(
                conn,
                {
                    "id": file_id, "collection_id": collection_id, "path": request.path,
                    "path_hash": hashed_path, "created_at": now, "updated_at": now,
                    "latest_version": 1, "state": state, "size": size, "sha256": sha256,
                },
            )  # fmt: skip
        else:
            file_id, latest, created = found[0]
            number, created_at = latest + 1, as_datetime(created)
            _NEW_LATEST.run(
                conn,
                {
                    "file_id": file_id, "now": now, "number": number, "new_state": state,
                    "new_size": size, "new_sha256": sha256,
                },
            )  # fmt: skip
        metadata = dict(request.metadata)
        _INSERT_VERSION.run(
            conn,
            {
                "id": version_id, "file_id": file_id, "number": number, "state": state,
                "size": size, "sha256": sha256, "content_type": request.content_type,
                "user_metadata": json.dumps(metadata, ensure_ascii=False), "created_at": now,
                "created_by": actor.subject, **decided.version_columns(),
            },
        )  # fmt: skip
        _INSERT_REPLICA.run(
            conn,
            {
                "version_id": version_id, "backend": self.storage.name, "key": version_id,
                "state": "present", "created_at": now,
            },
        )  # fmt: skip
        if journaled is not None and self.journal is not None:
            self.journal.add(conn, self.storage.name, version_id, journaled)
        captured = {
            "collection": request.collection, "path": request.path, "size": size,
            "sha256": sha256, "content_type": request.content_type,
            "metadata": _metadata_digests(metadata),
            "verified_digests": sorted({"sha256", *request.expected_digests}),
        }  # fmt: skip
        steps = [
            NewEvent("file.captured", actor.subject, file_id, number, captured,
                     request.correlation_id),
            NewEvent("file.stored", actor.subject, file_id, number,
                     {"backend": self.storage.name, "key": version_id},
                     request.correlation_id),
        ]  # fmt: skip
        if decided.applied:
            steps.insert(
                1,
                NewEvent("file.classified", actor.subject, file_id, number,
                         decided.as_details(), request.correlation_id),
            )  # fmt: skip
        eventlog.append(conn, steps)
        if not placed:
            placement.request(conn, version_id, actor.subject, request.correlation_id)
        version = VersionRecord(
            version_id, number, state, size, sha256, request.content_type, metadata, now,
            actor.subject, (ReplicaRecord(self.storage.name, version_id, "present"),),
            decided.lifecycle(),
        )  # fmt: skip
        return FileRecord(
            file_id, request.collection, request.path, created_at, now, number, version
        )

    def record_failure(self, request: CaptureRequest, kind: str, reason: str, size: int) -> None:
        """Put a failed or abandoned capture on the record (on the file's timeline if it exists)."""
        file_id = self.existing_file_id(request.collection, request.path)
        with self.catalog.writing() as conn:
            eventlog.append(
                conn,
                [
                    NewEvent(
                        kind, request.actor.subject, file_id, None,
                        {"collection": request.collection, "path": request.path,
                         "reason": reason, "received_bytes": size},
                        request.correlation_id,
                    )
                ],
            )  # fmt: skip


class Capture:
    """One upload in progress. ``write`` and ``finish`` block: call them from a worker thread."""

    def __init__(self, service: CaptureService, request: CaptureRequest) -> None:
        self.service = service
        self.request = request
        self.version_id = new_id()
        self.received = 0
        self._hashes = Hashes(request.expected_digests)
        self._writer: ObjectWriter = service.storage.open_writer(self.version_id)
        self._done = False
        self._head = b""  # the first bytes, for sniffing the content type
        #: The whole body while it is small enough for the journal to keep (else None).
        self._small: bytearray | None = bytearray() if service.journal_bytes >= 0 else None

    def write(self, data: bytes) -> None:
        """Hash ``data`` while writing it; large batches are hashed on the hashing pool so the
        two overlap, small ones inline (handing them over would cost more than hashing)."""
        if self.received + len(data) > self.service.max_bytes:
            self._fail(
                PayloadTooLarge(
                    f"the body exceeds {self.service.max_bytes} bytes, the most this server "
                    "accepts per file (DATOFERUM_MAX_UPLOAD_BYTES); nothing was stored",
                    limit=self.service.max_bytes,
                )
            )
        if len(data) < _PARALLEL_HASH_BYTES:
            self._hashes.update(data)
            self._writer.write(data)
        else:
            hashing = self.service._hash_executor.submit(self._hashes.update, data)
            try:
                self._writer.write(data)
            finally:
                hashing.result()
        if len(self._head) < SNIFF_BYTES:
            self._head += data[: SNIFF_BYTES - len(self._head)]
        if self._small is not None:
            if len(self._small) + len(data) <= self.service.journal_bytes:
                self._small += data
            else:
                self._small = None
        self.received += len(data)

    def finish(self, tail: bytes = b"") -> FileRecord:
        """Write ``tail``, check length and digests, commit the bytes, then the catalog."""
        try:
            if tail:
                self.write(tail)
            declared = self.request.declared_length
            if declared is not None and declared != self.received:
                raise IncompleteBody(
                    f"Content-Length announced {declared} bytes but {self.received} arrived; "
                    "nothing was stored"
                )
            self._hashes.verify()
            decided = self.service.classify(self.request, self._head, self.received)
            if decided.rejected is not None:
                raise RejectedByPolicy(
                    f"the upload was refused: {decided.rejected}; nothing was stored"
                )
            journaled = None if self._small is None else bytes(self._small)
            self._writer.commit(flush=journaled is None)
            record = self.service.record(
                self.request, self.version_id, self.received, self._hashes.sha256().hex(),
                decided, journaled,
            )  # fmt: skip
        except DatoferumError as error:
            self._fail(error)
        except BaseException:
            self._writer.abort()
            self._done = True
            raise
        self._done = True
        self._writer.release()
        return record

    def abort(self, reason: str, received: int | None = None) -> None:
        """Drop everything written so far and put the abandoned attempt on the record.

        ``received`` is what arrived from the network, which may exceed what was written.
        """
        if self._done:
            return
        self._done = True
        self._writer.abort()
        self.service.record_failure(
            self.request, "capture.aborted", reason, max(received or 0, self.received)
        )

    def _fail(self, error: DatoferumError) -> NoReturn:
        if self._done:  # already cleaned up and recorded where it was first raised
            raise error
        self._done = True
        self._writer.abort()
        if not error.transient:
            self.service.record_failure(
                self.request, "capture.rejected", error.detail, self.received
            )
        raise error
