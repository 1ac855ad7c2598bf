"""Purge: destroy a version's bytes everywhere, provably, and keep its record.

Three steps, each safe to repeat, so a purge interrupted by a crash is finished by running it
again (jobs retry it):

1. In one transaction: refuse if a hold covers the file or retention forbids it (the refusal is
   recorded), else mark the version ``purging``, which makes it unreadable at once.
2. Delete the bytes from every replica.
3. Check each replica is gone (else the version stays ``purging``); then, in one transaction:
   mark the replicas deleted and the version ``purged``, erase metadata marked personal, append
   the ``file.purged`` event, and issue the signed certificate that names that event's place in
   the chain.

Policies, retention and erasure requests purge thousands of versions at a time, so the steps run
on batches: two transactions and one round of deletions for up to :data:`BATCH` versions. Every
version still gets its own events and certificate, and its own outcome: a version that cannot be
purged (held, retained, a backend failing) does not stop the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Connection, bindparam, select, update

from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.ids import is_id, new_id, utcnow
from datoferum.domain.records import State
from datoferum.errors import DatoferumError, InvalidInput, NotFound, StorageUnavailable
from datoferum.services import plans
from datoferum.services.certificates import (
    CertificateService,
    DeletedReplica,
    DeletionFacts,
    check_cause,
)
from datoferum.services.holds import HoldRecord, HoldService
from datoferum.services.journal import SmallFileJournal
from datoferum.services.plans import PlanItem
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.prepared import Prepared, as_datetime
from datoferum.spine.catalog.schema import Collection, Event, File, Replica, Version
from datoferum.spine.eventlog import NewEvent

#: Versions purged together: two transactions and one round of deletions for the lot.
BATCH = 500


@dataclass(frozen=True)
class PurgeRequest:
    """One version to purge, and in whose name and why."""

    file_id: str
    version: int
    cause: Mapping[str, Any]
    actor: str
    correlation_id: str = ""
    #: Metadata keys to erase besides those marked personal (see :meth:`PurgeService.purge`).
    erase_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class PurgeOutcome:
    file_id: str
    version: int
    outcome: str  # purged | would-purge | held | retained | already-purged | failed
    detail: str
    certificate_id: str | None = None
    holds: tuple[str, ...] = field(default=())
    #: Why a ``failed`` purge failed, to be raised where one version was asked for.
    error: DatoferumError | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "version": self.version,
            "outcome": self.outcome,
            "detail": self.detail,
            "certificate_id": self.certificate_id,
            "holds": list(self.holds),
        }


def _failed(request: PurgeRequest, error: DatoferumError) -> PurgeOutcome:
    return PurgeOutcome(request.file_id, request.version, "failed", error.detail, error=error)


class _Target(NamedTuple):
    """What a purge reads of a version (only these columns: each date column costs a parse)."""

    id: str
    file_id: str
    number: int
    state: str
    size: int
    sha256: str
    user_metadata: str
    personal_keys: str
    retain_until: datetime | None
    retention_mode: str | None
    latest_version: int
    path: str
    collection: str


# The purge's statements, prepared once: building a statement like _TARGETS took ~150 µs per
# call, and SQLAlchemy's rendering of a batch's list of 500 ids in each ``IN`` at every execution
# cost more than the statement itself; a purge runs several per batch.
_TARGETS = Prepared(
    select(
        Version.id, Version.file_id, Version.number, Version.state, Version.size,
        Version.sha256, Version.user_metadata, Version.personal_keys, Version.retain_until,
        Version.retention_mode, File.latest_version, File.path,
        Collection.name.label("collection"),
    )
    .join(File, File.id == Version.file_id)
    .join(Collection, Collection.id == File.collection_id)
    .where(Version.file_id.in_(bindparam("file_ids", expanding=True)))
)  # fmt: skip
_STATES = Prepared(
    select(Version.id, Version.state).where(Version.id.in_(bindparam("vids", expanding=True)))
)
_REPLICAS = Prepared(
    select(Replica.version_id, Replica.backend, Replica.key).where(
        Replica.version_id.in_(bindparam("vids", expanding=True))
    )
)
# A batch's rows change state with one statement per table, not one execution per row: a batch
# of 500 spent more on preparing and running 500 executions than SQLite on the updates.
_IDS: BindParameter[str] = bindparam("ids", expanding=True)
_VERSIONS_STATE = Prepared(
    update(Version).where(Version.id.in_(_IDS)).values(state=bindparam("new_state"))
)
_FILES_STATE = Prepared(update(File).where(File.id.in_(_IDS)).values(state=bindparam("new_state")))
_VERSIONS_PURGED = Prepared(
    update(Version)
    .where(Version.id.in_(_IDS))
    .values(state=State.PURGED, purged_at=bindparam("now"))
)
_REPLICAS_DELETED = Prepared(
    update(Replica).where(Replica.version_id.in_(_IDS)).values(state="deleted")
)
#: Versions whose metadata a purge erases (some of it was personal) are updated one by one.
_VERSION_ERASED = Prepared(
    update(Version)
    .where(Version.id == bindparam("vid"))
    .values(
        state=State.PURGED, purged_at=bindparam("now"), user_metadata=bindparam("kept_metadata")
    )
)


def _set_state(conn: Connection, statement: Prepared, ids: Sequence[str], state: str) -> None:
    if ids:
        statement.run(conn, {"ids": list(ids), "new_state": state})


def _targets(conn: Connection, requests: Sequence[PurgeRequest]) -> dict[tuple[str, int], _Target]:
    """The rows of the versions asked for that exist, by (file id, number)."""
    file_ids = sorted({r.file_id for r in requests if is_id(r.file_id)})
    found: dict[tuple[str, int], _Target] = {}
    for values in _TARGETS.run(conn, {"file_ids": file_ids}) if file_ids else []:
        row = _Target(*values)
        if row.retain_until is not None:
            row = row._replace(retain_until=as_datetime(row.retain_until))
        found[(row.file_id, row.number)] = row
    return found


def _missing(request: PurgeRequest) -> NotFound:
    if not is_id(request.file_id):
        return NotFound(f"there is no file with id {request.file_id!r}")
    return NotFound(f"file {request.file_id} has no version {request.version}")


def _erase_personal(row: _Target, erase_keys: Sequence[str]) -> tuple[list[str], str]:
    """The metadata fields a purge erases (those marked personal, and any the request names),
    and the metadata text that remains."""
    if not erase_keys and row.personal_keys in (None, "", "[]"):
        return [], row.user_metadata  # nothing personal: the text stays as it is
    personal = set(json.loads(row.personal_keys or "[]")) | set(erase_keys)
    metadata = json.loads(row.user_metadata)
    kept = {k: v for k, v in metadata.items() if k not in personal}
    return sorted(personal & metadata.keys()), json.dumps(kept, ensure_ascii=False)


@dataclass
class _Started:
    """A version past step 1: its row and the replicas to delete (then, the deletions)."""

    request: PurgeRequest
    row: _Target
    replicas: list[tuple[str, str]]
    #: Replicas whose deletion returned: backend, key, when; step 3 checks each is gone.
    removed: list[tuple[str, str, datetime]] = field(default_factory=list)
    deleted: list[DeletedReplica] = field(default_factory=list)
    error: DatoferumError | None = None


class PurgeService:
    def __init__(
        self,
        catalog: Catalog,
        backends: Mapping[str, StorageBackend],
        holds: HoldService,
        certificates: CertificateService,
    ) -> None:
        self.catalog = catalog
        self.backends = backends
        self.holds = holds
        self.certificates = certificates

    def interrupted(self, *, policy: str) -> list[PurgeRequest]:
        """Purges of newest versions that ``policy`` started and never finished, each with the
        cause, actor and correlation id its ``file.purge_started`` event recorded, so finishing
        it certifies the purge exactly as it began. (Policies act on newest versions only, and
        those are found through the files' state index.)"""
        found = []
        with self.catalog.reading() as conn:
            files = conn.execute(
                select(File.id, File.latest_version).where(File.state == State.PURGING)
            ).all()
            for file in files:
                started = conn.execute(
                    select(Event.actor, Event.details, Event.correlation_id)
                    .where(
                        Event.file_id == file.id, Event.version == file.latest_version,
                        Event.type == "file.purge_started",
                    )
                    .order_by(Event.seq.desc())
                    .limit(1)
                ).first()  # fmt: skip
                if started is None:
                    continue
                cause = json.loads(started.details).get("cause") or {}
                if cause.get("policy") == policy:
                    found.append(
                        PurgeRequest(
                            file.id, file.latest_version, cause, started.actor,
                            started.correlation_id,
                        )
                    )  # fmt: skip
        return found

    def versions_of(self, file_id: str) -> list[int]:
        with self.catalog.reading() as conn:
            numbers = conn.execute(
                select(Version.number).where(Version.file_id == file_id).order_by(Version.number)
            ).scalars()
            found = list(numbers)
        if not found:
            raise NotFound(f"there is no file with id {file_id!r}")
        return found

    def _refusal(
        self, row: _Target, holds: Sequence[HoldRecord], bypass_governance: bool
    ) -> PurgeOutcome | None:
        if row.state == State.PURGED:
            return PurgeOutcome(row.file_id, row.number, "already-purged", "already purged")
        if holds:
            names = ", ".join(f"{h.id} ({h.owner}: {h.reason})" for h in holds)
            return PurgeOutcome(
                row.file_id, row.number, "held", f"under legal hold: {names}",
                holds=tuple(h.id for h in holds),
            )  # fmt: skip
        until = row.retain_until
        exempt = row.retention_mode != "compliance" and bypass_governance
        if until is not None and until > utcnow() and not exempt:
            return PurgeOutcome(
                row.file_id, row.number, "retained",
                f"under {row.retention_mode or 'governance'} retention until "
                f"{until.isoformat()}Z",
            )  # fmt: skip
        return None

    def _holds(self, conn: Connection, rows: Sequence[_Target]) -> dict[str, list[HoldRecord]]:
        return self.holds.covering(conn, [(row.file_id, row.collection) for row in rows])

    def preview(
        self, file_id: str, number: int, *, bypass_governance: bool = False
    ) -> PurgeOutcome:
        """What a purge would do now, changing nothing."""
        request = PurgeRequest(file_id, number, {}, "")
        with self.catalog.reading() as conn:
            row = _targets(conn, [request]).get((file_id, number))
            if row is None:
                raise _missing(request)
            refusal = self._refusal(row, self._holds(conn, [row])[file_id], bypass_governance)
        return refusal or PurgeOutcome(file_id, number, "would-purge", "would be purged")

    def purge(
        self,
        file_id: str,
        number: int,
        *,
        cause: Mapping[str, Any],
        actor: str,
        correlation_id: str = "",
        bypass_governance: bool = False,
        erase_keys: Sequence[str] = (),
    ) -> PurgeOutcome:
        """Purge one version (or finish an interrupted purge of it); raise if it fails.

        ``erase_keys`` are metadata keys to erase besides those marked personal: an erasure
        request names its subject by a key that capture may not have marked. When given, the
        certificate's cause lists the keys erased, so the proof covers the metadata too.
        """
        request = PurgeRequest(file_id, number, cause, actor, correlation_id, tuple(erase_keys))
        (outcome,) = self.purge_many([request], bypass_governance=bypass_governance)
        if outcome.error is not None:
            raise outcome.error
        return outcome

    def purge_many(
        self, requests: Sequence[PurgeRequest], *, bypass_governance: bool = False
    ) -> list[PurgeOutcome]:
        """Purge many versions, :data:`BATCH` at a time; one outcome per request, in order.

        A version that cannot be purged gets a ``failed`` outcome (with its ``error``) and is
        left as it was, or ``purging`` if its bytes could not all be deleted, for a later purge
        to finish. A version asked for twice is purged once and reported twice.
        """
        unique = list({(r.file_id, r.version): r for r in reversed(requests)}.values())[::-1]
        batches = [unique[first : first + BATCH] for first in range(0, len(unique), BATCH)]
        outcomes: dict[tuple[str, int], PurgeOutcome] = {}
        if len(batches) == 1:
            refused, started = self._start(batches[0], bypass_governance)
            outcomes.update(refused)
            self._destroy(started)
            outcomes.update(self._finish(started, durable=True))
        else:
            outcomes.update(self._pipelined(batches, bypass_governance))
        return [outcomes[(r.file_id, r.version)] for r in requests]

    def _pipelined(
        self, batches: Sequence[Sequence[PurgeRequest]], bypass_governance: bool
    ) -> dict[tuple[str, int], PurgeOutcome]:
        """The batches' steps overlapped: one batch's bytes are deleted (which waits on the
        disk, not the CPU) while the batch before it is certified and the next one started."""
        outcomes: dict[tuple[str, int], PurgeOutcome] = {}
        with ThreadPoolExecutor(1, thread_name_prefix="purge") as deleter:
            pending: tuple[list[_Started], Future[None]] | None = None
            for batch in batches:
                refused, started = self._start(batch, bypass_governance)
                outcomes.update(refused)
                deleting = deleter.submit(self._destroy, started)
                if pending is not None:
                    pending[1].result()
                    # The next batch's first step commits durably, and with it this one.
                    outcomes.update(self._finish(pending[0], durable=False))
                pending = (started, deleting)
            if pending is not None:
                pending[1].result()
                outcomes.update(self._finish(pending[0], durable=True))
        return outcomes

    def _start(
        self, batch: Sequence[PurgeRequest], bypass_governance: bool
    ) -> tuple[dict[tuple[str, int], PurgeOutcome], list[_Started]]:
        """Step 1: the versions that may not be purged, with why; and those to purge now."""
        refused: dict[tuple[str, int], PurgeOutcome] = {}
        started: list[_Started] = []
        events: list[NewEvent] = []
        versions: list[str] = []
        files: list[str] = []
        with self.catalog.writing() as conn:
            rows = _targets(conn, batch)
            found = [rows[(r.file_id, r.version)] for r in batch if (r.file_id, r.version) in rows]
            holds = self._holds(conn, found)
            replicas: dict[str, list[tuple[str, str]]] = {row.id: [] for row in found}
            vids = list(replicas)
            for version_id, backend, key in _REPLICAS.run(conn, {"vids": vids}) if vids else []:
                replicas[version_id].append((backend, key))
            now = utcnow()
            causes: set[int] = set()  # the batch's requests usually share one cause object
            for request in batch:
                key = (request.file_id, request.version)
                row = rows.get(key)
                if row is None:
                    refused[key] = _failed(request, _missing(request))
                    continue
                try:
                    if id(request.cause) not in causes:
                        check_cause(request.cause)
                        causes.add(id(request.cause))
                except InvalidInput as error:
                    refused[key] = _failed(request, error)
                    continue
                if row.state == State.PURGING:  # an earlier attempt stopped half-way: finish it
                    started.append(_Started(request, row, replicas[row.id]))
                    continue
                refusal = self._refusal(row, holds[row.file_id], bypass_governance)
                if refusal is not None:
                    refused[key] = refusal
                    if refusal.outcome != "already-purged":
                        details: dict[str, Any] = {
                            "cause": dict(request.cause), "reason": refusal.detail,
                            "holds": list(refusal.holds),
                        }  # fmt: skip
                        events.append(self._event("file.purge_refused", request, details))
                    continue
                versions.append(row.id)
                if request.version == row.latest_version:
                    files.append(row.file_id)
                bypassed = bool(row.retain_until is not None and row.retain_until > now)
                details = {"cause": dict(request.cause), "governance_bypassed": bypassed}
                events.append(self._event("file.purge_started", request, details))
                started.append(_Started(request, row, replicas[row.id]))
            _set_state(conn, _VERSIONS_STATE, versions, State.PURGING)
            _set_state(conn, _FILES_STATE, files, State.PURGING)
            eventlog.append(conn, events)
            # Bytes still journaled must not outlive the purge, nor be restored after a crash.
            SmallFileJournal.forget(conn, [copy for item in started for copy in item.replicas])
        return refused, started

    @staticmethod
    def _event(kind: str, request: PurgeRequest, details: dict[str, Any]) -> NewEvent:
        return NewEvent(
            kind, request.actor, request.file_id, request.version, details,
            request.correlation_id,
        )  # fmt: skip

    def _destroy(self, started: Sequence[_Started]) -> None:
        """Step 2: delete every replica, one batch per backend, and check each is gone."""
        by_backend: dict[str, list[tuple[_Started, str]]] = {}
        for item in started:
            for backend_name, key in item.replicas:
                by_backend.setdefault(backend_name, []).append((item, key))
        for backend_name, wanted in by_backend.items():
            backend = self.backends.get(backend_name)
            if backend is None:
                error = StorageUnavailable(
                    f"backend {backend_name!r} holding a replica is not configured; the purge "
                    "resumes once it is"
                )
                for item, _key in wanted:
                    item.error = error
                continue
            try:
                backend.delete_many([key for _item, key in wanted])
            except DatoferumError as error:
                for item, _key in wanted:
                    item.error = error
                continue
            when = utcnow()
            for item, key in wanted:
                item.removed.append((backend_name, key, when))

    def _verify(self, started: Sequence[_Started]) -> None:
        """Check that every deleted replica is gone, asking each backend about its whole batch
        at once (remote stores then answer on several connections). This is step 3's, not
        step 2's: step 2 runs beside another batch's step 3, and a check per replica there made
        the two threads trade the GIL hundreds of times a batch, slowing both."""
        wanted: dict[str, list[str]] = {}
        for item in started:
            if item.error is None:
                for backend_name, key, _when in item.removed:
                    wanted.setdefault(backend_name, []).append(key)
        left = {
            (backend_name, key)
            for backend_name, keys in wanted.items()
            for key, stat in zip(keys, self.backends[backend_name].stat_many(keys), strict=True)
            if stat is not None
        }
        for item in started:
            if item.error is not None:
                continue
            for backend_name, key, when in item.removed:
                gone = (backend_name, key) not in left
                item.deleted.append(DeletedReplica(backend_name, key, when, verified=gone))
                if not gone:
                    item.error = StorageUnavailable(
                        f"bytes of version {item.request.version} of {item.request.file_id} are "
                        f"still readable on {backend_name} after deletion; the purge will be "
                        "retried"
                    )

    def _finish(
        self, started: Sequence[_Started], *, durable: bool
    ) -> dict[tuple[str, int], PurgeOutcome]:
        """Step 3: record the purges whose bytes are gone everywhere, with their certificates.

        Without ``durable`` the commit may wait for the next durable one: a crash before then
        leaves these versions ``purging``, which a purge finishes when it runs again, and no
        caller hears an outcome before the last batch's durable commit.
        """
        self._verify(started)
        outcomes: dict[tuple[str, int], PurgeOutcome] = {}
        for item in started:
            if item.error is not None:
                outcomes[(item.request.file_id, item.request.version)] = _failed(
                    item.request, item.error
                )
        done = [item for item in started if item.error is None]
        if not done:
            return outcomes
        now = utcnow()
        with self.catalog.writing(durable=durable) as conn:
            # The rest of each row was read by step 1 and a purging version does not change.
            states = dict(_STATES.run(conn, {"vids": [item.row.id for item in done]}))
            purged: list[str] = []
            erased_rows: list[dict[str, Any]] = []
            files: list[str] = []
            events, facts = [], []
            for item in done:
                request, row = item.request, item.row
                if states[row.id] == State.PURGED:  # another purge finished it meanwhile
                    outcomes[(request.file_id, request.version)] = PurgeOutcome(
                        request.file_id, request.version, "already-purged", "already purged"
                    )
                    continue
                erased, kept_metadata = _erase_personal(row, request.erase_keys)
                purged.append(row.id)
                if kept_metadata != row.user_metadata:
                    erased_rows.append({"vid": row.id, "now": now, "kept_metadata": kept_metadata})
                if request.version == row.latest_version:
                    files.append(request.file_id)
                certificate_id = new_id()
                details = {
                    "cause": dict(request.cause),
                    "replicas": [
                        {"backend": r.backend, "verified": r.verified} for r in item.deleted
                    ],
                    "erased_metadata": erased,
                    "certificate": certificate_id,
                }
                events.append(self._event("file.purged", request, details))
                cause = request.cause
                if request.erase_keys:
                    cause = {**cause, "erased_metadata": erased}
                facts.append((item, row, cause, certificate_id))
            if purged:
                _VERSIONS_PURGED.run(conn, {"ids": purged, "now": now})
                _REPLICAS_DELETED.run(conn, {"ids": purged})
            _VERSION_ERASED.run_many(conn, erased_rows)
            _set_state(conn, _FILES_STATE, files, State.PURGED)
            appended = eventlog.append(conn, events)
            certificates = [
                (
                    DeletionFacts(
                        file_id=item.request.file_id, collection=row.collection, path=row.path,
                        version=item.request.version, sha256=row.sha256, size=row.size,
                        replicas=item.deleted, cause=cause, actor=item.request.actor,
                        purged_at=now, event_seq=event.seq, event_hash=event.hash,
                    ),
                    certificate_id,
                )
                for (item, row, cause, certificate_id), event in zip(facts, appended, strict=True)
            ]  # fmt: skip
            self.certificates.issue_many(conn, certificates)
        for deletion, certificate_id in certificates:
            outcomes[(deletion.file_id, deletion.version)] = PurgeOutcome(
                deletion.file_id, deletion.version, "purged", "purged",
                certificate_id=certificate_id,
            )  # fmt: skip
        return outcomes

    def request(
        self,
        actor: str,
        file_id: str,
        *,
        versions: Sequence[int] | None = None,
        reason: str = "",
        dry_run: bool = False,
        plan_id: str | None = None,
        bypass_governance: bool = False,
        correlation_id: str = "",
    ) -> tuple[str | None, list[PurgeOutcome]]:
        """A direct purge of a file (all versions, or some): previewed as a plan with
        ``dry_run``, then executed from that plan, or executed at once.

        Returns the new plan's id (dry runs only) and one outcome per version.
        """
        cause = {"direct": True, "reason": reason}
        if plan_id is not None:
            with self.catalog.writing() as conn:
                items = plans.take(conn, plan_id, "purge", file_id)
            numbers = [item.version for item in items]
        else:
            known = self.versions_of(file_id)
            numbers = list(versions) if versions else known
            unknown = sorted(set(numbers) - set(known))
            if unknown:
                raise NotFound(f"file {file_id} has no version {unknown[0]}")
        if dry_run:
            outcomes = [
                self.preview(file_id, n, bypass_governance=bypass_governance) for n in numbers
            ]
            items = [
                PlanItem(file_id, o.version, "purge", {"outcome": o.outcome}) for o in outcomes
            ]
            with self.catalog.writing() as conn:
                new_plan = plans.create(conn, "purge", file_id, items, actor)
            return new_plan, outcomes
        outcomes = self.purge_many(
            [PurgeRequest(file_id, n, cause, actor, correlation_id) for n in numbers],
            bypass_governance=bypass_governance,
        )
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return None, outcomes

    def run_job(self, payload: Mapping[str, Any], actor: str) -> PurgeOutcome:
        """The ``purge`` job: one version, in the name of whoever asked for it."""
        try:
            file_id, number = str(payload["file_id"]), int(payload["version"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("a purge job needs 'file_id' and 'version'") from None
        return self.purge(
            file_id, number, cause=payload.get("cause") or {"job": True}, actor=actor,
            correlation_id=str(payload.get("correlation_id", "")),
        )  # fmt: skip
