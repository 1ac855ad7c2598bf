"""Legal holds: while one covers a file, no path may purge it or shorten its retention.

A hold covers one file, a whole collection (files added later included), or the files a saved
query matches. Holds are checked when a purge is about to start, never cached, so a hold placed a
moment ago already wins. Released holds stay in the catalog with who released them and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, select, update

from datoferum.domain.ids import is_id, isoformat, new_id, utcnow
from datoferum.domain.names import check_collection
from datoferum.domain.records import State
from datoferum.domain.roles import Principal
from datoferum.errors import Conflict, InvalidInput, NotFound
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import File, Hold
from datoferum.spine.eventlog import NewEvent

SCOPES = ("file", "collection", "query")

# Built once: every purge asks, and building the statement cost more than running it. It reads
# every active collection and query hold (there are few) and the file holds of the files asked.
_ACTIVE = select(Hold.__table__).where(
    Hold.released_at.is_(None),
    (Hold.scope != "file") | Hold.target.in_(bindparam("file_ids", expanding=True)),
)


class QueryMatcher(Protocol):
    """Saved queries are lists of policy filters; the policy engine checks and runs them, so
    holds share the policies' filter language."""

    def check(self, filters: Sequence[Any]) -> None:
        """Raise InvalidInput if ``filters`` is not a valid filter list."""

    def matches(self, conn: Connection, filters: Sequence[Any], file_id: str) -> bool: ...


@dataclass(frozen=True)
class HoldRecord:
    id: str
    scope: str
    target: str
    query: list[Any] | None
    reason: str
    owner: str
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "target": self.target,
            "query": self.query,
            "reason": self.reason,
            "owner": self.owner,
            "active": self.active,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "released_at": isoformat(self.released_at) if self.released_at else None,
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }


def _record(row: Any) -> HoldRecord:
    return HoldRecord(
        row.id, row.scope, row.target, json.loads(row.query) if row.query else None, row.reason,
        row.owner, row.created_at, row.created_by, row.released_at, row.released_by,
        row.release_reason,
    )  # fmt: skip


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"a hold needs a {name} of 1 to {limit} characters")
    return value.strip()


class HoldService:
    def __init__(self, catalog: Catalog, query_matcher: QueryMatcher | None = None) -> None:
        self.catalog = catalog
        self.query_matcher = query_matcher

    def place(
        self,
        actor: Principal,
        *,
        scope: str,
        target: str,
        reason: str,
        owner: str,
        query: Sequence[Any] | None = None,
        correlation_id: str = "",
    ) -> HoldRecord:
        if scope not in SCOPES:
            raise InvalidInput(f"unknown hold scope {scope!r}; scopes are: {', '.join(SCOPES)}")
        reason, owner = _text(reason, "reason", 4000), _text(owner, "owner", 255)
        if scope == "query" and not query:
            raise InvalidInput("a query hold needs 'query': a list of policy filters")
        if scope != "query" and query:
            raise InvalidInput(f"'query' belongs to query holds only, not to {scope} holds")
        with self.catalog.writing() as conn:
            file_id = self._check_target(conn, scope, target, query)
            clash = conn.execute(
                select(Hold.id).where(
                    Hold.scope == scope, Hold.target == target, Hold.owner == owner,
                    Hold.released_at.is_(None),
                )
            ).scalar()  # fmt: skip
            if clash is not None:
                raise Conflict(
                    f"{owner} already holds this {scope} (hold {clash}); add to that hold's "
                    "record or release it before placing another"
                )
            hold_id, now = new_id(), utcnow()
            conn.execute(
                insert(Hold).values(
                    id=hold_id, scope=scope, target=target,
                    query=json.dumps(list(query)) if query else None, reason=reason, owner=owner,
                    created_at=now, created_by=actor.subject,
                )
            )  # fmt: skip
            details = {"hold": hold_id, "scope": scope, "target": target, "owner": owner}
            eventlog.append(
                conn,
                [NewEvent("hold.placed", actor.subject, file_id, None, details, correlation_id)],
            )
            return self._get(conn, hold_id)

    def _check_target(
        self, conn: Connection, scope: str, target: str, query: Sequence[Any] | None
    ) -> str | None:
        """Validate the target; returns the file id for file holds."""
        if scope == "collection":
            check_collection(target)
            return None
        if scope == "query":
            _text(target, "name for the saved query", 255)
            if self.query_matcher is None:
                raise InvalidInput("query holds need the policy engine, which is not configured")
            self.query_matcher.check(query or [])
            return None
        row = (
            conn.execute(select(File.state).where(File.id == target)).first()
            if is_id(target)
            else None
        )
        if row is None:
            raise NotFound(f"there is no file with id {target!r} to hold")
        if row.state in (State.PURGING, State.PURGED):
            raise Conflict(f"file {target} is already {row.state}; a hold can no longer protect it")
        return target

    def release(
        self, actor: Principal, hold_id: str, reason: str, correlation_id: str = ""
    ) -> HoldRecord:
        reason = _text(reason, "release reason", 4000)
        with self.catalog.writing() as conn:
            hold = self._get(conn, hold_id)
            if hold.released_at is not None:
                raise Conflict(
                    f"hold {hold_id} was already released at {isoformat(hold.released_at)} "
                    f"by {hold.released_by}"
                )
            conn.execute(
                update(Hold)
                .where(Hold.id == hold_id)
                .values(released_at=utcnow(), released_by=actor.subject, release_reason=reason)
            )
            file_id = hold.target if hold.scope == "file" else None
            details = {
                "hold": hold_id,
                "scope": hold.scope,
                "target": hold.target,
                "reason": reason,
            }
            eventlog.append(
                conn,
                [NewEvent("hold.released", actor.subject, file_id, None, details, correlation_id)],
            )
            return self._get(conn, hold_id)

    def _get(self, conn: Connection, hold_id: str) -> HoldRecord:
        row = conn.execute(select(Hold.__table__).where(Hold.id == hold_id)).first()
        if row is None:
            raise NotFound(f"there is no hold with id {hold_id!r}")
        return _record(row)

    def get(self, hold_id: str) -> HoldRecord:
        with self.catalog.reading() as conn:
            return self._get(conn, hold_id)

    def all(self, *, active_only: bool = True) -> list[HoldRecord]:
        query = select(Hold.__table__).order_by(Hold.created_at)
        if active_only:
            query = query.where(Hold.released_at.is_(None))
        with self.catalog.reading() as conn:
            return [_record(row) for row in conn.execute(query)]

    def covering(
        self, conn: Connection, files: Sequence[tuple[str, str]]
    ) -> dict[str, list[HoldRecord]]:
        """The active holds that protect each of ``files`` (id and collection), read in the
        caller's transaction with one query for them all."""
        holds = [_record(row) for row in conn.execute(_ACTIVE, {"file_ids": [f for f, _ in files]})]
        return {
            file_id: [hold for hold in holds if self._covers(conn, hold, file_id, collection)]
            for file_id, collection in files
        }

    def _covers(self, conn: Connection, hold: HoldRecord, file_id: str, collection: str) -> bool:
        if hold.scope == "file":
            return hold.target == file_id
        if hold.scope == "collection":
            return hold.target == collection
        return self.query_matcher is not None and self.query_matcher.matches(
            conn, hold.query or [], file_id
        )
