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
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
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
    __table_args__ = (UniqueConstraint("file_id", "number"),)

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
