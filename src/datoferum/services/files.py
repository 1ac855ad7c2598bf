"""Reading the catalog: file records, versions and filtered, cursor-paginated listings."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from datoferum.domain.ids import is_id
from datoferum.domain.names import check_collection
from datoferum.domain.records import (
    FileRecord,
    FileSummary,
    Lifecycle,
    ReplicaRecord,
    State,
    VersionRecord,
)
from datoferum.errors import InvalidInput, NotFound
from datoferum.services.capture import path_hash
from datoferum.services.listing import Column, Slice, Window, sql_window
from datoferum.spine.catalog.schema import Collection, File, Replica, Version

MAX_PAGE = 1000


@dataclass(frozen=True)
class FileQuery:
    collection: str | None = None
    prefix: str | None = None
    state: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class Page:
    items: Sequence[FileSummary]
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": [item.as_dict() for item in self.items], "next_cursor": self.next_cursor}


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        after = None
    if not isinstance(after, str) or not is_id(after):
        raise InvalidInput("the cursor is not one this server issued: start again without it")
    return after


def _version(row: Any, replicas: Sequence[ReplicaRecord] = ()) -> VersionRecord:
    lifecycle = Lifecycle(
        row.sniffed_type, json.loads(row.tags), tuple(json.loads(row.personal_keys)),
        row.storage_policy, row.retain_until, row.retention_mode, row.expiry_action, row.purged_at,
    )  # fmt: skip
    return VersionRecord(
        row.id, row.number, row.state, row.size, row.sha256, row.content_type,
        json.loads(row.user_metadata), row.created_at, row.created_by, tuple(replicas), lifecycle,
    )  # fmt: skip


def _replicas(conn: Connection, version_ids: Sequence[str]) -> dict[str, list[ReplicaRecord]]:
    found: dict[str, list[ReplicaRecord]] = {vid: [] for vid in version_ids}
    rows = conn.execute(
        select(Replica.version_id, Replica.backend, Replica.key, Replica.state).where(
            Replica.version_id.in_(version_ids)
        )
    )
    for row in rows:
        found[row.version_id].append(ReplicaRecord(row.backend, row.key, row.state))
    return found


def get_file(
    conn: Connection, file_id: str, *, with_versions: bool = True, version: int | None = None
) -> FileRecord:
    """The record of one file, with every version (newest first) and ``current`` set to
    ``version`` (default newest)."""
    if not is_id(file_id):
        raise NotFound(f"there is no file with id {file_id!r} (ids are 32 hex digits)")
    found = conn.execute(
        select(File.__table__, Collection.name)
        .join(Collection, Collection.id == File.collection_id)
        .where(File.id == file_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"there is no file with id {file_id}")
    return _with_versions(conn, found, number=version, all_versions=with_versions)


def find_file(
    conn: Connection, collection: str, path: str, *, version: int | None = None
) -> FileRecord:
    """The file at ``collection/path``, with ``current`` set to ``version`` (default newest)."""
    found = conn.execute(
        select(File.__table__, Collection.name)
        .join(Collection, Collection.id == File.collection_id)
        .where(Collection.name == collection, File.path_hash == path_hash(path))
    ).one_or_none()
    if found is None:
        raise NotFound(f"there is no file {path!r} in collection {collection!r}")
    return _with_versions(conn, found, number=version, all_versions=False)


def _with_versions(
    conn: Connection, file: Any, *, number: int | None, all_versions: bool
) -> FileRecord:
    """``file`` is a files row joined with its collection's ``name``."""
    collection = file.name
    wanted = file.latest_version if number is None else number
    query = select(Version.__table__).where(Version.file_id == file.id)
    if not all_versions:
        query = query.where(Version.number == wanted)
    versions = conn.execute(query.order_by(Version.number.desc())).all()
    replicas = _replicas(conn, [v.id for v in versions])
    records = tuple(_version(v, replicas[v.id]) for v in versions)
    current = next((v for v in records if v.number == wanted), None)
    if current is None:
        raise NotFound(
            f"{collection}/{file.path} has no version {wanted}: its versions are "
            f"1 to {file.latest_version}"
        )
    return FileRecord(
        file.id, collection, file.path, file.created_at, file.updated_at, file.latest_version,
        current, records if all_versions else (),
    )  # fmt: skip


def _filtered(query: FileQuery, search: str | None = None) -> Select[*tuple[Any, ...]]:
    """The listing's statement with every filter of ``query`` applied (not the cursor)."""
    if query.state is not None and query.state not in State.ALL:
        raise InvalidInput(f"unknown state {query.state!r}; states are: {', '.join(State.ALL)}")
    statement: Select[*tuple[Any, ...]] = select(
        File.id, Collection.name, File.path, File.latest_version, File.state, File.size,
        File.sha256, File.created_at, File.updated_at,
    ).join(Collection, Collection.id == File.collection_id)  # fmt: skip
    if query.collection is not None:
        statement = statement.where(Collection.name == check_collection(query.collection))
    if query.prefix:
        statement = statement.where(File.path.startswith(query.prefix, autoescape=True))
    if query.state is not None:
        statement = statement.where(File.state == query.state)
    bounds = (
        (File.created_at, query.created_after, query.created_before),
        (File.updated_at, query.updated_after, query.updated_before),
    )
    for column, after, before in bounds:
        if after is not None:
            statement = statement.where(column >= after)
        if before is not None:
            statement = statement.where(column < before)
    if search:
        statement = statement.where(File.path.contains(search, autoescape=True))
    return statement


def list_files(conn: Connection, query: FileQuery) -> Page:
    """Files matching ``query`` in id (= capture) order, one page at a time."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    statement = _filtered(query)
    if query.cursor is not None:
        statement = statement.where(File.id > decode_cursor(query.cursor))
    rows = conn.execute(statement.order_by(File.id).limit(query.limit + 1)).all()
    items = [FileSummary(*row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return Page(items, encode_cursor(items[-1].id) if more else None)


#: Fields a window of files may be sorted by, and the columns behind them.
FILE_SORTS: dict[str, Column] = {
    "id": File.id,
    "collection": Collection.name,
    "path": File.path,
    "version": File.latest_version,
    "state": File.state,
    "size": File.size,
    "created_at": File.created_at,
    "updated_at": File.updated_at,
}


def window_files(conn: Connection, query: FileQuery, window: Window, search: str | None) -> Slice:
    """A sorted window of the files matching ``query`` whose path contains ``search``.

    The search is a substring match, which no index serves; the count stops at ``COUNT_CAP``
    so a search over a large catalog costs at most that many rows."""
    found = sql_window(conn, _filtered(query, search), FILE_SORTS, window, File.id)
    return Slice([FileSummary(*row) for row in found.items], found.total, found.capped)
