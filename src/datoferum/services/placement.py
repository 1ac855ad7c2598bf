"""Placement: make a version's copies match its storage policy, recording every step.

Uploads land on the ingest backend. When the version's storage policy asks for more (``safe:
[local, hdfs]``) or for somewhere else (``archive: [s3]``), the version is ``placing`` and a
``placement`` job makes the missing copies, each streamed from a present copy, hashed on the way
and compared with the version's sha256 before it counts, then removes the copies the policy does
not name; the version is ``stored`` once its copies are exactly the policy's. A transition
(a policy or retention action that changes the storage policy) queues the same job.

A copy is recorded in the same transaction that re-checks the version's state, so a purge that
started meanwhile never misses it: either the purge sees the new replica and deletes it, or the
placement sees the purge and deletes the copy it just made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from datoferum.adapters.storage import Backends
from datoferum.adapters.storage.base import ObjectWriter, StorageBackend
from datoferum.domain.ids import utcnow
from datoferum.domain.records import State
from datoferum.domain.storage_layout import Copy
from datoferum.errors import Conflict, NotFound, StorageUnavailable
from datoferum.services.worker import JobContext
from datoferum.spine import eventlog, jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Collection, File, Job, Replica, Version
from datoferum.spine.eventlog import NewEvent
from datoferum.spine.jobs import JobRecord, JobState, NewJob

JOB = "placement"
#: Attempts before a placement gives up. Its failures are almost all a backend out of reach (an
#: HDFS NameNode restarting, S3 down), and the version waits `placing` meanwhile: with the
#: queue's backoff (capped at ten minutes) this keeps trying for about a day, where the queue's
#: default of five attempts gave up after some 15 seconds and left the version unplaced for good.
ATTEMPTS = 200


@dataclass(frozen=True)
class Target:
    """The version being placed, and where its bytes are."""

    id: str
    file_id: str
    number: int
    latest: int
    state: str
    size: int
    sha256: str
    storage_policy: str | None
    collection: str
    path: str
    replicas: dict[str, tuple[str, str]]  # backend -> (key, replica state)

    def present(self) -> dict[str, str]:
        return {b: key for b, (key, state) in self.replicas.items() if state == "present"}


class VersionGone(Conflict):
    """The version started being purged while a copy was made: the copy must not stay."""


def request(conn: Connection, version_id: str, actor: str, correlation_id: str = "") -> JobRecord:
    """Queue the placement of a version, inside the caller's transaction."""
    payload = {"version_id": version_id, "correlation_id": correlation_id}
    return jobs.enqueue(conn, NewJob(JOB, payload, max_attempts=ATTEMPTS), actor)


def move(conn: Connection, version_id: str, storage_policy: str, actor: str) -> JobRecord:
    """Give a version a new storage policy: it is ``placing`` until a placement job (queued
    here, in the caller's transaction) has made its copies match."""
    row = conn.execute(
        select(Version.file_id, Version.number, File.latest_version)
        .join(File, File.id == Version.file_id)
        .where(Version.id == version_id)
    ).one()  # fmt: skip
    conn.execute(
        update(Version)
        .where(Version.id == version_id)
        .values(storage_policy=storage_policy, state=State.PLACING)
    )
    if row.number == row.latest_version:
        conn.execute(update(File).where(File.id == row.file_id).values(state=State.PLACING))
    return request(conn, version_id, actor)


def _target(conn: Connection, version_id: str, *, lock: bool = False) -> Target:
    query = (
        select(
            Version.id, Version.file_id, Version.number, Version.state, Version.size,
            Version.sha256, Version.storage_policy, File.latest_version, File.path,
            Collection.name.label("collection"),
        )
        .join(File, File.id == Version.file_id)
        .join(Collection, Collection.id == File.collection_id)
        .where(Version.id == version_id)
    )  # fmt: skip
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"there is no version with id {version_id!r}")
    replicas = {
        r.backend: (r.key, r.state)
        for r in conn.execute(
            select(Replica.backend, Replica.key, Replica.state).where(
                Replica.version_id == version_id
            )
        )
    }
    return Target(
        row.id, row.file_id, row.number, row.latest_version, row.state, row.size, row.sha256,
        row.storage_policy, row.collection, row.path, replicas,
    )  # fmt: skip


class PlacementService:
    def __init__(self, catalog: Catalog, backends: Backends) -> None:
        self.catalog = catalog
        self.backends = backends
        self.layout = backends.layout

    def satisfied(self, storage_policy: str | None, backends: set[str]) -> bool:
        """True if copies on exactly ``backends`` are what the policy asks for."""
        policy = self.layout.policies.get(storage_policy or self.layout.default)
        return policy is not None and set(policy.backends) == backends

    def requeue_stuck(self, actor: str) -> int:
        """Queue placement again for ``placing`` versions no live job is placing (their job
        ran out of attempts in a long outage); returns how many."""
        with self.catalog.writing() as conn:
            live = {
                json.loads(payload).get("version_id")
                for payload in conn.execute(
                    select(Job.payload).where(
                        Job.kind == JOB, Job.state.in_((JobState.QUEUED, JobState.RUNNING))
                    )
                ).scalars()
            }
            stuck = [
                version_id
                for version_id in conn.execute(
                    select(Version.id).where(Version.state == State.PLACING)
                ).scalars()
                if version_id not in live
            ]
            for version_id in stuck:
                request(conn, version_id, actor)
        return len(stuck)

    def run_job(self, context: JobContext) -> dict[str, Any]:
        payload = context.payload
        return self.place(
            str(payload.get("version_id", "")), context.actor,
            str(payload.get("correlation_id", "")),
        )  # fmt: skip

    def place(self, version_id: str, actor: str, correlation_id: str = "") -> dict[str, Any]:
        """Copy what is missing, remove what is extra, then mark the version ``stored``."""
        with self.catalog.reading() as conn:
            target = _target(conn, version_id)
        if target.state not in (State.PLACING, State.STORED):
            return {"version_id": version_id, "outcome": "skipped", "state": target.state}
        policy = self.layout.policy(target.storage_policy)
        copied = []
        try:
            for copy in policy.copies:
                if copy.backend not in target.present():
                    self._copy(target, copy, actor, correlation_id)
                    copied.append(copy.describe())
        except VersionGone as gone:  # a purge began: nothing more to place
            return {"version_id": version_id, "outcome": "skipped", "state": gone.detail}
        with self.catalog.reading() as conn:
            target = _target(conn, version_id)
        # Copies the policy does not name, and removals a crash interrupted.
        removed = [
            self._remove(target, backend, key, actor, correlation_id)
            for backend, (key, state) in sorted(target.replicas.items())
            if state == "removing" or (state == "present" and backend not in policy.backends)
        ]
        self.catalog.transact(lambda conn: self._settle(conn, version_id, actor, correlation_id))
        return {
            "version_id": version_id, "outcome": "placed", "policy": policy.name,
            "copied": copied, "removed": removed,
        }  # fmt: skip

    def _source(self, target: Target, avoid: str | None = None) -> tuple[str, str]:
        """A present copy to read from (not ``avoid``); local disks first, as the cheapest."""
        present = [(b, k) for b, k in target.present().items() if b in self.backends and b != avoid]
        if not present:
            raise StorageUnavailable(
                f"no configured backend holds a good copy of version {target.number} of "
                f"{target.collection}/{target.path} to copy from"
            )
        present.sort(key=lambda item: not self.backends[item[0]].capabilities.local_paths)
        return present[0]

    def _write(
        self, target: Target, backend: StorageBackend, key: str, avoid: str | None = None
    ) -> tuple[ObjectWriter, str]:
        """Stream a good copy's bytes to ``key`` on ``backend``, checking them against the
        version's sha256 before committing; returns the committed writer (to be released once
        the catalog knows the copy) and the backend the bytes came from."""
        source_name, source_key = self._source(target, avoid)
        writer = backend.open_writer(key)
        try:
            digest = hashlib.sha256()
            for chunk in self.backends[source_name].read(source_key):
                digest.update(chunk)
                writer.write(chunk)
            if digest.hexdigest() != target.sha256:
                raise StorageUnavailable(
                    f"the copy of version {target.number} of {target.collection}/{target.path} "
                    f"on {source_name} does not match its sha256; a scrub will repair it"
                )
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        return writer, source_name

    def _copy(self, target: Target, copy: Copy, actor: str, correlation_id: str) -> None:
        backend = self.backends.for_copy(copy)
        key = backend.key_for(target.collection, target.path, target.id, target.number)
        writer, source_name = self._write(target, backend, key)
        details = {"backend": copy.backend, "key": key, "from": source_name,
                   "options": dict(copy.options)}  # fmt: skip
        try:
            self.catalog.transact(
                lambda conn: self._record_copy(
                    conn, target, copy.backend, key, "replica.created", actor, details,
                    correlation_id,
                )
            )  # fmt: skip
        except BaseException:
            writer.abort()
            raise
        writer.release()

    def repair(self, version_id: str, backend_name: str, actor: str) -> dict[str, Any]:
        """Rewrite the copy on ``backend_name`` from a good copy elsewhere (after a scrub found
        it corrupt or missing), under its own key; the replica is in service again after."""
        with self.catalog.reading() as conn:
            target = _target(conn, version_id)
        key, _state = target.replicas[backend_name]
        policy = self.layout.policies.get(target.storage_policy or self.layout.default)
        copies = {c.backend: c for c in policy.copies} if policy else {}
        backend = self.backends.for_copy(copies.get(backend_name, Copy(backend_name)))
        backend.delete(key)  # what is left of the bad copy
        writer, source_name = self._write(target, backend, key, avoid=backend_name)
        details = {"backend": backend_name, "key": key, "from": source_name}
        try:
            self.catalog.transact(
                lambda conn: self._record_copy(
                    conn, target, backend_name, key, "replica.repaired", actor, details, ""
                )
            )
        except BaseException:
            writer.abort()
            raise
        writer.release()
        return details

    def _record_copy(
        self,
        conn: Connection,
        target: Target,
        backend: str,
        key: str,
        kind: str,
        actor: str,
        details: dict[str, Any],
        correlation_id: str,
    ) -> None:
        current = _target(conn, target.id, lock=True)
        if current.state not in (State.PLACING, State.STORED):
            raise VersionGone(f"version {target.number} of {target.file_id} is {current.state}")
        values = {"key": key, "state": "present", "created_at": utcnow()}
        if backend in current.replicas:  # an earlier copy there was removed: reuse its row
            conn.execute(
                update(Replica)
                .where(Replica.version_id == target.id, Replica.backend == backend)
                .values(**values)
            )
        else:
            conn.execute(insert(Replica).values(version_id=target.id, backend=backend, **values))
        event = NewEvent(kind, actor, target.file_id, target.number, details, correlation_id)
        eventlog.append(conn, [event])

    def _remove(
        self, target: Target, backend_name: str, key: str, actor: str, correlation_id: str
    ) -> str:
        """Take a copy the policy no longer names out of service, then delete its bytes."""

        def mark(conn: Connection, state: str) -> None:
            conn.execute(
                update(Replica)
                .where(Replica.version_id == target.id, Replica.backend == backend_name)
                .values(state=state)
            )

        self.catalog.transact(lambda conn: mark(conn, "removing"))
        backend = self.backends.get(backend_name)
        if backend is None:
            raise StorageUnavailable(f"backend {backend_name!r} is no longer configured")
        backend.delete(key)
        if backend.stat(key) is not None:
            raise StorageUnavailable(f"the copy on {backend_name} is still there after deletion")

        def removed(conn: Connection) -> None:
            mark(conn, "removed")
            details = {"backend": backend_name, "key": key, "reason": "not in storage policy"}
            eventlog.append(
                conn,
                [NewEvent("replica.removed", actor, target.file_id, target.number, details,
                          correlation_id)],
            )  # fmt: skip

        self.catalog.transact(removed)
        return backend_name

    def _settle(self, conn: Connection, version_id: str, actor: str, correlation_id: str) -> None:
        target = _target(conn, version_id, lock=True)
        if target.state not in (State.PLACING, State.STORED):
            return
        policy = self.layout.policy(target.storage_policy)
        if set(target.present()) != set(policy.backends):
            raise StorageUnavailable("the copies changed while they were placed; trying again")
        if target.state == State.PLACING:
            conn.execute(update(Version).where(Version.id == version_id).values(state=State.STORED))
            if target.number == target.latest:
                conn.execute(
                    update(File).where(File.id == target.file_id).values(state=State.STORED)
                )
        details = {"policy": policy.name, "copies": [c.describe() for c in policy.copies]}
        eventlog.append(
            conn,
            [NewEvent("file.placed", actor, target.file_id, target.number, details,
                      correlation_id)],
        )  # fmt: skip
