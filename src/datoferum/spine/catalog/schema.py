"""Catalog tables.

Portable to SQLite, MariaDB and PostgreSQL: every string has a length, times are naive UTC with
microseconds, and long paths are made unique through a fixed-size hash (a 1 KiB utf8mb4 path
exceeds MariaDB's index key limit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID = String(32)
HASH = String(64)
#: 64-bit everywhere; on SQLite plain INTEGER, so the key is the rowid itself (one B-tree fewer).
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Naive UTC datetime with microsecond precision on every engine."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class File(Base):
    """A path in a collection; its bytes live in versions. Latest-version fields are denormalized
    so listings need no join over versions."""

    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("collection_id", "path_hash"),
        Index(None, "collection_id", "id"),
        Index(None, "state", "id"),
        Index(None, "updated_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    collection_id: Mapped[str] = mapped_column(ID, ForeignKey("collections.id"))
    path: Mapped[str] = mapped_column(String(1024))
    path_hash: Mapped[str] = mapped_column(HASH)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    latest_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(HASH)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("file_id", "number"), Index(None, "retain_until"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    file_id: Mapped[str] = mapped_column(ID, ForeignKey("files.id"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(HASH)
    content_type: Mapped[str] = mapped_column(String(255))
    user_metadata: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    sniffed_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tags: Mapped[str] = mapped_column(Text, server_default="{}")
    personal_keys: Mapped[str] = mapped_column(Text, server_default="[]")
    storage_policy: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    retention_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    retention_cause: Mapped[str | None] = mapped_column(String(255), nullable=True)
    expiry_action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The storage policy an ``expiry_action`` of ``transition`` moves the version to.
    expiry_policy: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Replica(Base):
    """Where a version's bytes are: one row per backend copy."""

    __tablename__ = "replicas"
    __table_args__ = (UniqueConstraint("backend", "key"), Index(None, "version_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[str] = mapped_column(ID, ForeignKey("versions.id"))
    backend: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Event(Base):
    """One lifecycle step. Append-only; ``hash`` covers ``prev_hash`` and the canonical event."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "file_id", "seq"),)

    seq: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(ID)
    time: Mapped[datetime] = mapped_column(UtcDateTime)
    file_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text)
    correlation_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(HASH)
    hash: Mapped[str] = mapped_column(HASH)


class ChainHead(Base):
    """The single row naming the newest event. Appenders lock it, which serializes the chain
    across processes on every engine, and verification compares the chain's end against it."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(HASH)


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(HASH, unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Signal(Base):
    """A named signal an outside process sent about a file (also an event)."""

    __tablename__ = "signals"
    __table_args__ = (Index(None, "file_id", "name"), Index(None, "name", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(ID, ForeignKey("files.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(255))


class Policy(Base):
    """Every version of every policy; the newest active version is the one that runs."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(1024))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class Hold(Base):
    """A legal hold on a file, a collection or a saved query; released holds stay on record."""

    __tablename__ = "holds"
    __table_args__ = (Index(None, "scope", "target"), Index(None, "released_at"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(255))
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(Base):
    """The work queue. Workers claim rows (``SKIP LOCKED`` where the engine has it) under a lease
    they renew with heartbeats; an expired lease makes the job claimable again."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(None, "state", "run_at"),
        UniqueConstraint("idempotency_key"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    progress_done: Mapped[int] = mapped_column(BigInteger)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Schedule(Base):
    """When each scheduled policy runs next (one row per policy with a cron schedule)."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    cron: Mapped[str] = mapped_column(String(128))
    next_run_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Plan(Base):
    """A dry run's exact list of (file, version, action): executing the plan acts on these only."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    items: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    executed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ErasureRequest(Base):
    """A data subject's erasure request: its preview plan and, once executed, its job.

    The subject is kept only as ``sha256(key + "\\n" + value)``: the request must not become
    one more copy of the personal data it exists to erase.
    """

    __tablename__ = "erasure_requests"
    __table_args__ = (UniqueConstraint("plan_id"), Index(None, "subject_hash"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    subject_hash: Mapped[str] = mapped_column(HASH)
    subject_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    plan_id: Mapped[str] = mapped_column(ID)
    preview_counts: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    executed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    executed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Certificate(Base):
    """A signed deletion certificate (the document is canonical JSON; the Ed25519 signature
    covers it, or the Merkle root of its batch)."""

    __tablename__ = "certificates"
    __table_args__ = (Index(None, "file_id", "version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    file_id: Mapped[str] = mapped_column(ID)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: JSON {"index", "size", "path"} of a certificate signed in a batch; NULL if signed alone.
    proof: Mapped[str | None] = mapped_column(Text, nullable=True)


class Link(Base):
    """A "pick and go" download link; only the SHA-256 of its secret is kept."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("secret_hash"), Index(None, "file_id"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(HASH)
    file_id: Mapped[str] = mapped_column(ID, ForeignKey("files.id"))
    version: Mapped[int] = mapped_column(Integer)
    max_picks: Mapped[int] = mapped_column(Integer)
    picks: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    purge_after_last_pick: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebhookSubscription(Base):
    """Where to send which events. ``after_seq`` is the event log's head when the subscription
    was made: it receives only later events, so a new receiver is not flooded with history."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(255))
    event_types: Mapped[str] = mapped_column(Text)
    collection: Mapped[str | None] = mapped_column(String(63), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean)
    after_seq: Mapped[int] = mapped_column(SEQUENCE)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class WebhookDelivery(Base):
    """One event to one subscriber; retried with backoff, ``dead`` after the last attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_seq"),
        Index(None, "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ID, ForeignKey("webhook_subscriptions.id"))
    event_seq: Mapped[int] = mapped_column(SEQUENCE)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Cursor(Base):
    """How far a consumer of the event log has read (e.g. the webhook dispatcher)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(SEQUENCE)


class LakePartition(Base):
    """One Parquet object of the lake: rows of one dataset partition from one source.

    ``source_key`` names the input whose contribution the object is (``file:<file id>`` for a
    captured file, ``storage-cost:<day>`` for Datoferum's own cost): normalizing that input again
    replaces every object of its key in one transaction, so the lake never holds its rows twice.
    The file and version that produced the object are its lineage.
    """

    __tablename__ = "lake_partitions"
    __table_args__ = (Index(None, "dataset"), Index(None, "source_key"), Index(None, "file_id"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    #: Hive-style partition path, e.g. ``provider=aws/billing_period=2024-03``.
    partition_path: Mapped[str] = mapped_column(String(255))
    #: The object's place in the lake's key space: ``<dataset>/<partition>/part-<id>.parquet``.
    path: Mapped[str] = mapped_column(String(512))
    source_key: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    version_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    backend: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(1024))
    row_count: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(HASH)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(255))


#: Up to a mebibyte: MariaDB's plain BLOB stops at 64 KiB.
SMALL_OBJECT = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


class JournaledObject(Base):
    """The bytes of a small object whose storage write is not yet flushed to disk.

    A small upload is made durable by the catalog commit that records it (one flush) instead of
    an fsync of its file and directory too; the storage write is flushed later, in batches, and
    the row deleted. After a crash, rows still here restore their objects (see
    ``services/journal.py``).
    """

    __tablename__ = "journaled_objects"

    backend: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    data: Mapped[bytes] = mapped_column(SMALL_OBJECT)
    #: The machine whose page cache holds the unflushed write: only it can flush it.
    host: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
