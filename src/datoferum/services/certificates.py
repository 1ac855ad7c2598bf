"""Signed deletion certificates: issued when a version is purged, kept, and served.

A certificate states, under the server's Ed25519 signature, which bytes (sha256, size) of which
file version were deleted from which replicas, when, by whom and why, and which ``file.purged``
event of the hash chain records it. Anyone holding the server's public key can check it offline
(:func:`verify`), long after the catalog has forgotten the file: that is its purpose, so
certificates are never tied to the file's rows and outlive them.

:meth:`CertificateService.issue` runs inside the purge's own transaction, after the purge has
appended its ``file.purged`` event: the tombstone, the event and the certificate commit together
or not at all, and a certificate can only name a chain position that really holds its purge.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from datoferum.adapters.signing import Signer
from datoferum.domain import merkle
from datoferum.domain.canonical import canonical_json
from datoferum.domain.certificates import ALGORITHM, FORMAT, batch_message, verify
from datoferum.domain.ids import is_id, isoformat, new_id, utcnow
from datoferum.errors import InvalidInput, NotFound
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.prepared import Prepared
from datoferum.spine.catalog.schema import Certificate, Event

__all__ = [
    "CertificateRecord",
    "CertificateService",
    "DeletedReplica",
    "DeletionFacts",
    "verify",
]

PURGE_EVENT = "file.purged"

# Built once, as issuing runs inside every purge.
_EVENTS = Prepared(
    select(Event.seq, Event.type, Event.file_id, Event.version, Event.hash).where(
        Event.seq.in_(bindparam("seqs", expanding=True))
    )
)
_INSERT = Prepared(insert(Certificate))


@dataclass(frozen=True)
class DeletedReplica:
    """One copy of the bytes that was deleted; ``verified`` if the backend no longer has it."""

    backend: str
    key: str
    deleted_at: datetime
    verified: bool


@dataclass(frozen=True)
class DeletionFacts:
    """Everything a certificate states, as the purge established it."""

    file_id: str
    collection: str
    path: str
    version: int
    sha256: str
    size: int
    replicas: Sequence[DeletedReplica]
    #: Why: e.g. {"policy": "raw-video", "policy_version": 3}, {"request": "erasure:<id>"}.
    cause: Mapping[str, Any]
    #: Who is responsible, e.g. "token:abc123" or "policy:raw-video".
    actor: str
    purged_at: datetime
    #: The ``file.purged`` event this certificate belongs to.
    event_seq: int
    event_hash: str


@dataclass(frozen=True)
class CertificateRecord:
    id: str
    file_id: str
    version: int
    document: dict[str, Any]
    signature: str
    key_id: str
    created_at: datetime
    #: Position and audit path in the batch the signature covers (None: signed alone).
    batch: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The exportable certificate: all :func:`verify` needs besides the public key."""
        exported = {
            "certificate": self.document,
            "signature": self.signature,
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
        }
        if self.batch is not None:
            exported["batch"] = self.batch
        return exported


def _utc(moment: datetime) -> datetime:
    """Naive UTC (the catalog's convention); an aware time is converted, not misread."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_sha256(value: str) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def check_cause(cause: Mapping[str, Any]) -> None:
    if not isinstance(cause, Mapping) or not cause:
        raise InvalidInput("a deletion certificate needs a cause (policy, request or reason)")
    try:
        # allow_nan=False: NaN would make the document invalid JSON for every other verifier.
        json.dumps(dict(cause), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"the cause of a deletion must be plain JSON: {error}") from None


def _check(facts: DeletionFacts, *, cause_checked: bool = False) -> None:
    """Refuse facts that would make a wrong certificate: once signed it cannot be taken back."""
    problems = []
    if not is_id(facts.file_id):
        problems.append(f"file id {facts.file_id!r} is not an id")
    if not facts.collection or not facts.path:
        problems.append("collection and path must be given")
    if isinstance(facts.version, bool) or facts.version < 1:
        problems.append(f"version must be 1 or more, got {facts.version!r}")
    if not _is_sha256(facts.sha256):
        problems.append(f"sha256 {facts.sha256!r} is not 64 lowercase hex digits")
    if isinstance(facts.size, bool) or facts.size < 0:
        problems.append(f"size must be 0 or more, got {facts.size!r}")
    if not facts.actor:
        problems.append("the actor must be given")
    if facts.event_seq < 1 or not _is_sha256(facts.event_hash):
        problems.append("event_seq and event_hash must name an event of the chain")
    problems += [
        f"replica {number} needs a backend and a key"
        for number, replica in enumerate(facts.replicas, start=1)
        if not replica.backend or not replica.key
    ]
    if problems:
        raise InvalidInput("cannot certify this deletion: " + "; ".join(problems))
    if not cause_checked:
        check_cause(facts.cause)


def _check_chain(conn: Connection, batch: Sequence[DeletionFacts]) -> None:
    """Each named event must exist, be that version's purge, and have the hash given."""
    seqs = [f.event_seq for f in batch]
    found = {row[0]: row[1:] for row in _EVENTS.run(conn, {"seqs": seqs})} if seqs else {}
    for facts in batch:
        row = found.get(facts.event_seq)
        if row is None:
            raise InvalidInput(f"cannot certify: the event log has no event {facts.event_seq}")
        kind, file_id, version, hashed = row
        if hashed != facts.event_hash:
            raise InvalidInput(
                f"cannot certify: event {facts.event_seq} has hash {hashed}, not {facts.event_hash}"
            )
        if (
            kind != PURGE_EVENT
            or file_id != facts.file_id
            or (version is not None and version != facts.version)
        ):
            raise InvalidInput(
                f"cannot certify: event {facts.event_seq} is {kind!r} of {file_id} version "
                f"{version}, not the {PURGE_EVENT} of {facts.file_id} version {facts.version}"
            )


def _document(
    certificate_id: str, issued_at: datetime, issuer: str, facts: DeletionFacts
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": certificate_id,
        "issued_at": isoformat(issued_at),
        "issuer": issuer,
        "file": {"id": facts.file_id, "collection": facts.collection, "path": facts.path},
        "version": facts.version,
        "sha256": facts.sha256,
        "size": facts.size,
        "replicas": [
            {
                "backend": replica.backend,
                "key": replica.key,
                "deleted_at": isoformat(_utc(replica.deleted_at)),
                "verified": bool(replica.verified),
            }
            for replica in facts.replicas
        ],
        "cause": dict(facts.cause),
        "actor": facts.actor,
        "purged_at": isoformat(_utc(facts.purged_at)),
        "chain": {"seq": facts.event_seq, "hash": facts.event_hash},
    }


def _record(row: Any) -> CertificateRecord:
    return CertificateRecord(
        row.id, row.file_id, row.version, json.loads(row.document), row.signature, row.key_id,
        row.created_at, json.loads(row.proof) if row.proof else None,
    )  # fmt: skip


def _proof_text(index: int, size: int, hashes: Sequence[str]) -> str:
    """``canonical_json`` of a proof, written out: a batch stores hundreds of them, and the
    values (integers, hex digits) need no escaping."""
    path = ",".join(f'"{node}"' for node in hashes)
    return f'{{"index":{index},"path":[{path}],"size":{size}}}'


class CertificateService:
    def __init__(self, catalog: Catalog, signer: Signer) -> None:
        self.catalog = catalog
        self.signer = signer

    def issue(
        self, conn: Connection, facts: DeletionFacts, certificate_id: str | None = None
    ) -> CertificateRecord:
        """Sign and store the certificate of one purge, inside the caller's transaction."""
        (record,) = self.issue_many(conn, [(facts, certificate_id or new_id())])
        return record

    def issue_many(
        self, conn: Connection, batch: Sequence[tuple[DeletionFacts, str]]
    ) -> list[CertificateRecord]:
        """Sign and store the certificates of a batch of purges, inside the caller's transaction.

        Each comes with its id, so the purge can name the certificate in its ``file.purged``
        event before the certificate exists. The stored document is the exact text certified
        (its hash is a leaf of the tree whose root is signed).
        Nothing is stored unless every certificate of the batch can be issued.
        """
        checked: set[int] = set()  # a batch's purges usually share one cause: check it once
        for facts, certificate_id in batch:
            if not is_id(certificate_id):
                raise InvalidInput(f"certificate id {certificate_id!r} is not 32 hex digits")
            _check(facts, cause_checked=id(facts.cause) in checked)
            checked.add(id(facts.cause))
        _check_chain(conn, [facts for facts, _ in batch])
        if not batch:
            return []
        now = utcnow()
        issuer = self.signer.key_id
        documents = [_document(cid, now, issuer, facts) for facts, cid in batch]
        texts = [canonical_json(document) for document in documents]
        # One signature for the batch, over the root of the Merkle tree of its documents: an
        # Ed25519 signature per document cost more than the rest of a purge's work for a file.
        root, paths = merkle.tree([merkle.leaf_hash(text.encode("utf-8")) for text in texts])
        signed = self.signer.sign(batch_message(len(batch), root))
        signature = base64.b64encode(signed).decode("ascii")
        records, rows = [], []
        for index, ((facts, certificate_id), document, text, path) in enumerate(
            zip(batch, documents, texts, paths, strict=True)
        ):
            hashes = [node.hex() for node in path]
            proof = {"index": index, "size": len(batch), "path": hashes}
            records.append(
                CertificateRecord(
                    certificate_id, facts.file_id, facts.version, document, signature,
                    self.signer.key_id, now, proof,
                )
            )  # fmt: skip
            rows.append(
                {
                    "id": certificate_id, "file_id": facts.file_id, "version": facts.version,
                    "document": text, "signature": signature, "key_id": self.signer.key_id,
                    "created_at": now, "proof": _proof_text(index, len(batch), hashes),
                }
            )  # fmt: skip
        if records:
            # A faulty signer (or a key id computed another way) must fail the purge here, not
            # surface years later when an auditor checks a certificate. Such faults are not
            # random, so checking one certificate of a batch finds them; checking every one
            # would cost more than twice the signing.
            verify(records[0].as_dict(), self.signer.public_key_pem())
        _INSERT.run_many(conn, rows)
        return records

    def get(self, certificate_id: str) -> CertificateRecord:
        if not is_id(certificate_id):
            raise NotFound(
                f"there is no certificate with id {certificate_id!r} (ids are 32 hex digits)"
            )
        with self.catalog.reading() as conn:
            row = conn.execute(
                select(Certificate.__table__).where(Certificate.id == certificate_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"there is no certificate with id {certificate_id}")
        return _record(row)

    def for_file(self, file_id: str) -> list[CertificateRecord]:
        """A file's certificates, by version then issue time. Certificates outlive the file's
        record, so an id the catalog no longer knows may still have some."""
        if not is_id(file_id):
            raise NotFound(f"there is no file with id {file_id!r} (ids are 32 hex digits)")
        with self.catalog.reading() as conn:
            rows = conn.execute(
                select(Certificate.__table__)
                .where(Certificate.file_id == file_id)
                .order_by(Certificate.version, Certificate.created_at, Certificate.id)
            ).all()
        return [_record(row) for row in rows]
