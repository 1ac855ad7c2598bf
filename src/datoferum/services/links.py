"""Pick-and-go links: an address that serves one version of a file a set number of times, until
it expires, and can purge the file after its last download.

The secret in the address is the only credential (256 random bits: guessing is hopeless, so there
is no rate limit), and only its SHA-256 is stored, as for tokens. A download that sends bytes is a
*pick*. Picks are counted by one conditional ``UPDATE ... WHERE picks < max_picks``, so concurrent
downloads can never exceed the limit, and each is recorded as a ``file.picked`` event in the same
transaction. The last pick of a link made with ``purge_after_last_pick`` queues the ``purge`` job
in that transaction too, so a counted pick and its purge request exist together or not at all;
the job purges like any other purge, refusing (on record) files under a hold or retention.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from datoferum.domain.ids import is_id, isoformat, new_id, utcnow
from datoferum.domain.records import FileRecord, State
from datoferum.domain.roles import Permission, Principal
from datoferum.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from datoferum.services.files import get_file
from datoferum.services.listing import Slice, Window, check_filters, sql_window, text_filter
from datoferum.spine import eventlog, jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Collection, File, Link, Version
from datoferum.spine.eventlog import NewEvent
from datoferum.spine.jobs import NewJob

MAX_PICKS = 1000
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 90 * 86400
DEFAULT_EXPIRY_SECONDS = 7 * 86400
#: The purge after a last pick waits this long, so that download has opened the bytes before
#: they are deleted (on local disk an open file stays readable after it is unlinked).
PURGE_GRACE = timedelta(seconds=5)
PATH_PREFIX = "/l/"
_FIELDS = ("version", "max_picks", "expires_in_seconds", "purge_after_last_pick")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _whole(body: Mapping[str, Any], name: str, default: int | None, low: int, high: int) -> Any:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f'"{name}" must be a whole number from {low} to {high}, got {value!r}')
    return value


@dataclass(frozen=True)
class LinkTerms:
    """What a new link allows; ``version`` None means the newest."""

    version: int | None = None
    max_picks: int = 1
    expires_in_seconds: int = DEFAULT_EXPIRY_SECONDS
    purge_after_last_pick: bool = False

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> LinkTerms:
        """Read the JSON of a request. Unknown fields are refused rather than ignored: a misspelt
        ``purge_after_last_pick`` would otherwise make a link that silently keeps the file."""
        unknown = sorted(set(body) - set(_FIELDS))
        if unknown:
            raise InvalidInput(
                f"unknown field(s) {', '.join(unknown)}; a link takes: {', '.join(_FIELDS)}"
            )
        purge = body.get("purge_after_last_pick", False)
        if not isinstance(purge, bool):
            raise InvalidInput('"purge_after_last_pick" must be true or false')
        return cls(
            version=_whole(body, "version", None, 1, 2**31 - 1),
            max_picks=_whole(body, "max_picks", 1, 1, MAX_PICKS),
            expires_in_seconds=_whole(
                body, "expires_in_seconds", DEFAULT_EXPIRY_SECONDS,
                MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS,
            ),
            purge_after_last_pick=purge,
        )  # fmt: skip


class LinkState:
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    PURGED = "purged"
    UNAVAILABLE = "unavailable"


#: What the holder of a link that no longer works is told: which case, and nothing more.
_GONE = {
    LinkState.REVOKED: "this link was revoked",
    LinkState.USED: "this link has been used up",
    LinkState.EXPIRED: "this link has expired",
    LinkState.PURGED: "the file this link shared has been purged",
    LinkState.UNAVAILABLE: "the file this link shared can no longer be read",
}


@dataclass(frozen=True)
class LinkRecord:
    id: str
    file_id: str
    version: int
    max_picks: int
    picks: int
    expires_at: datetime
    purge_after_last_pick: bool
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    version_state: str

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return LinkState.REVOKED
        if self.picks >= self.max_picks:
            return LinkState.USED
        if self.expires_at <= now:
            return LinkState.EXPIRED
        if self.version_state in (State.PURGING, State.PURGED):
            return LinkState.PURGED
        if self.version_state not in State.READABLE:
            return LinkState.UNAVAILABLE
        return LinkState.ACTIVE

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file_id": self.file_id,
            "version": self.version,
            "state": self.state(utcnow()),
            "picks": self.picks,
            "max_picks": self.max_picks,
            "expires_at": isoformat(self.expires_at),
            "purge_after_last_pick": self.purge_after_last_pick,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "revoked_at": isoformat(self.revoked_at) if self.revoked_at else None,
        }


def _usable(link: LinkRecord, now: datetime) -> None:
    state = link.state(now)
    if state != LinkState.ACTIVE:
        raise Gone(_GONE[state], state=state)


_SELECT = select(Link.__table__, Version.state.label("version_state")).join(
    Version, (Version.file_id == Link.file_id) & (Version.number == Link.version)
)


#: Every link with where its file is, for listings across files.
_LISTED = (
    _SELECT.add_columns(Collection.name.label("collection"), File.path)
    .join(File, File.id == Link.file_id)
    .join(Collection, Collection.id == File.collection_id)
)
SORTS = {
    "id": Link.id, "created_at": Link.created_at, "expires_at": Link.expires_at,
    "picks": Link.picks, "collection": Collection.name, "path": File.path,
    "created_by": Link.created_by,
}  # fmt: skip
LIST_FILTERS = ("state", "file_id", "created_by", "q")


def _in_state(state: str, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of ``LinkRecord.state``: the first case that holds decides, as there."""
    cases = [
        (LinkState.REVOKED, Link.revoked_at.is_not(None)),
        (LinkState.USED, Link.picks >= Link.max_picks),
        (LinkState.EXPIRED, Link.expires_at <= now),
        (LinkState.PURGED, Version.state.in_([State.PURGING, State.PURGED])),
        (LinkState.UNAVAILABLE, Version.state.not_in(sorted(State.READABLE))),
    ]
    condition: ColumnElement[bool] | None = None
    for name, holds in cases:
        matched = holds if condition is None else ~condition & holds
        if name == state:
            return matched
        condition = holds if condition is None else condition | holds
    if state == LinkState.ACTIVE and condition is not None:
        return ~condition
    names = ", ".join([LinkState.ACTIVE, *(name for name, _ in cases)])
    raise InvalidInput(f"unknown link state {state!r}; states are: {names}")


def _record(row: Any) -> LinkRecord:
    return LinkRecord(
        row.id, row.file_id, row.version, row.max_picks, row.picks, row.expires_at,
        bool(row.purge_after_last_pick), row.created_at, row.created_by, row.revoked_at,
        row.version_state,
    )  # fmt: skip


def _by_secret(conn: Connection, secret: str) -> LinkRecord:
    row = conn.execute(_SELECT.where(Link.secret_hash == hash_secret(secret))).first()
    if row is None:
        raise NotFound("no link has this address; check that it was copied whole")
    return _record(row)


def _by_id(conn: Connection, link_id: str) -> LinkRecord:
    row = conn.execute(_SELECT.where(Link.id == link_id)).first() if is_id(link_id) else None
    if row is None:
        raise NotFound(f"there is no link with id {link_id!r}")
    return _record(row)


def _shareable_version(conn: Connection, file_id: str, number: int | None) -> int:
    """The version a new link will serve; it must exist and be readable now."""
    if not is_id(file_id):
        raise NotFound(f"there is no file with id {file_id!r} (ids are 32 hex digits)")
    latest = conn.execute(select(File.latest_version).where(File.id == file_id)).scalar()
    if latest is None:
        raise NotFound(f"there is no file with id {file_id}")
    wanted = latest if number is None else number
    state = conn.execute(
        select(Version.state).where(Version.file_id == file_id, Version.number == wanted)
    ).scalar()
    if state is None:
        raise NotFound(f"file {file_id} has no version {wanted}: its versions are 1 to {latest}")
    if state not in State.READABLE:
        raise Conflict(f"version {wanted} of file {file_id} is {state}; there is nothing to share")
    return wanted


class LinkService:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(
        self, actor: Principal, file_id: str, terms: LinkTerms, correlation_id: str = ""
    ) -> tuple[LinkRecord, str]:
        """A new link and its secret, which exists nowhere else: show it once."""
        if terms.purge_after_last_pick and not actor.can(Permission.MANAGE_LIFECYCLE):
            raise Forbidden(
                f"the {actor.role.value} role may not make a link that purges the file after its "
                "last pick: only roles that may purge files (admin) can"
            )
        secret, link_id, now = secrets.token_urlsafe(32), new_id(), utcnow()
        expires_at = now + timedelta(seconds=terms.expires_in_seconds)
        with self.catalog.writing() as conn:
            number = _shareable_version(conn, file_id, terms.version)
            conn.execute(
                insert(Link).values(
                    id=link_id, secret_hash=hash_secret(secret), file_id=file_id, version=number,
                    max_picks=terms.max_picks, picks=0, expires_at=expires_at,
                    purge_after_last_pick=terms.purge_after_last_pick, created_at=now,
                    created_by=actor.subject,
                )
            )  # fmt: skip
            details = {
                "link": link_id,
                "max_picks": terms.max_picks,
                "expires_at": isoformat(expires_at),
                "purge_after_last_pick": terms.purge_after_last_pick,
            }
            eventlog.append(
                conn,
                [NewEvent("link.created", actor.subject, file_id, number, details, correlation_id)],
            )
            return _by_id(conn, link_id), secret

    def for_file(self, file_id: str) -> list[LinkRecord]:
        """Every link ever made for the file, oldest first (secrets are not kept, so not shown)."""
        with self.catalog.reading() as conn:
            get_file(conn, file_id, with_versions=False)  # 404 for an unknown file
            rows = conn.execute(_SELECT.where(Link.file_id == file_id).order_by(Link.id)).all()
        return [_record(row) for row in rows]

    def listing(self, window: Window) -> Slice:
        """Links of every file, a window at a time, each with its file's collection and path.
        Filters: ``state`` (as computed now), ``file_id``, ``created_by`` and ``q`` (text in
        the path)."""
        check_filters(window, LIST_FILTERS)
        now = utcnow()
        statement = _LISTED
        if (state := text_filter(window, "state")) is not None:
            statement = statement.where(_in_state(state, now))
        if (file_id := text_filter(window, "file_id")) is not None:
            statement = statement.where(Link.file_id == file_id)
        if (creator := text_filter(window, "created_by")) is not None:
            statement = statement.where(Link.created_by == creator)
        if (text := text_filter(window, "q")) is not None:
            statement = statement.where(File.path.contains(text, autoescape=True))
        with self.catalog.reading() as conn:
            found = sql_window(conn, statement, SORTS, window, Link.id)
        items = [
            {**_record(row).as_dict(), "collection": row.collection, "path": row.path}
            for row in found.items
        ]
        return Slice(items, found.total, found.capped)

    def revoke(self, actor: Principal, link_id: str, correlation_id: str = "") -> LinkRecord:
        """Stop a link at once; revoking it again changes nothing (like tokens)."""
        with self.catalog.writing() as conn:
            link = _by_id(conn, link_id)
            if link.revoked_at is not None:
                return link
            conn.execute(update(Link).where(Link.id == link_id).values(revoked_at=utcnow()))
            event = NewEvent(
                "link.revoked", actor.subject, link.file_id, link.version, {"link": link_id},
                correlation_id,
            )  # fmt: skip
            eventlog.append(conn, [event])
            return _by_id(conn, link_id)

    def open(self, secret: str) -> FileRecord:
        """The linked version (as ``current``) if the link still works; 404 for an unknown
        secret, 410 (:class:`Gone`) for a link that no longer works. Changes nothing."""
        with self.catalog.reading() as conn:
            link = _by_secret(conn, secret)
            _usable(link, utcnow())
            return get_file(conn, link.file_id, with_versions=False, version=link.version)

    def pick(
        self,
        secret: str,
        record: FileRecord,
        byte_range: tuple[int, int] | None,
        correlation_id: str,
    ) -> int:
        """Count one download that sends bytes, before they leave; returns its pick number.

        Raises :class:`Gone` if the link stopped working since :meth:`open` (e.g. another
        download took the last pick meanwhile).
        """
        now = utcnow()
        with self.catalog.writing() as conn:
            link = _by_secret(conn, secret)
            _usable(link, now)
            counted = conn.execute(
                update(Link)
                .where(
                    Link.id == link.id, Link.picks < Link.max_picks, Link.revoked_at.is_(None),
                    Link.expires_at > now,
                )
                .values(picks=Link.picks + 1)
            ).rowcount  # fmt: skip
            if counted != 1:  # a concurrent transaction changed the link after it was read
                _usable(_by_id(conn, link.id), now)
                raise Gone(_GONE[LinkState.USED], state=LinkState.USED)
            number = conn.execute(select(Link.picks).where(Link.id == link.id)).scalar_one()
            size = record.current.size
            sent = size if byte_range is None else byte_range[1] - byte_range[0] + 1
            self._record_pick(conn, link, number, byte_range, sent, correlation_id)
            if number == link.max_picks and link.purge_after_last_pick:
                self._queue_purge(conn, link, now, correlation_id)
        return int(number)

    @staticmethod
    def _record_pick(
        conn: Connection,
        link: LinkRecord,
        number: int,
        byte_range: tuple[int, int] | None,
        sent: int,
        correlation_id: str,
    ) -> None:
        details: dict[str, Any] = {
            "link": link.id,
            "pick": number,
            "max_picks": link.max_picks,
            "range": list(byte_range) if byte_range is not None else None,
            "bytes": sent,
        }
        event = NewEvent(
            "file.picked", f"link:{link.id}", link.file_id, link.version, details, correlation_id
        )
        eventlog.append(conn, [event])

    @staticmethod
    def _queue_purge(
        conn: Connection, link: LinkRecord, now: datetime, correlation_id: str
    ) -> None:
        """Queue the purge in the name of whoever made the link: they decided it."""
        payload = {
            "file_id": link.file_id,
            "version": link.version,
            "cause": {"link": link.id},
            "correlation_id": correlation_id,
        }
        job = NewJob(
            "purge", payload, run_at=now + PURGE_GRACE, idempotency_key=f"link-purge:{link.id}"
        )
        jobs.enqueue(conn, job, link.created_by)
