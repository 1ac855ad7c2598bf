"""The lifecycle event log: append-only and hash-chained.

Each event's hash is ``sha256(prev_hash + "\\n" + canonical_event)``, so editing, dropping,
inserting or reordering any event breaks every later link. Appends lock the one ``chain_head`` row,
which serializes writers across processes on every engine and records where the chain must end,
so removing the newest events is caught too.

The canonical form is a compact JSON array of the event's fields with ``details`` embedded verbatim:
``details`` is stored already canonical (sorted keys, no spaces), and hashing the stored text
avoids re-serializing a million JSON objects during verification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring as _encode_string
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from datoferum.domain.canonical import canonical_json as canonical_json  # re-exported
from datoferum.domain.ids import isoformat, new_id, utcnow
from datoferum.spine.catalog.prepared import Prepared
from datoferum.spine.catalog.schema import ChainHead, Event

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
# Built once: appends run on every upload and download, and statement construction is not free.
_LOCK_HEAD = Prepared(
    select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == _HEAD_ID).with_for_update()
)
_INSERT = Prepared(insert(Event))
_MOVE_HEAD = Prepared(
    update(ChainHead)
    .where(ChainHead.id == _HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended."""

    type: str
    actor: str
    file_id: str | None = None
    version: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    correlation_id: str = ""


@dataclass(frozen=True)
class EventRecord:
    """An event as stored."""

    seq: int
    id: str
    time: datetime
    file_id: str | None
    version: int | None
    type: str
    actor: str
    details: Mapping[str, Any]
    correlation_id: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "time": isoformat(self.time),
            "file_id": self.file_id,
            "version": self.version,
            "type": self.type,
            "actor": self.actor,
            "details": dict(self.details),
            "correlation_id": self.correlation_id,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _json_string(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def _link(
    prev_hash: str,
    seq: int,
    event_id: str,
    time: str,
    file_id: str | None,
    version: int | None,
    type_: str,
    actor: str,
    details_text: str,
    correlation_id: str,
) -> str:
    # Equal to json.dumps([...], separators=(",", ":"), ensure_ascii=False) of the fields with
    # details spliced in, but built directly: verification runs this a million times.
    body = (
        f"{prev_hash}\n[{seq},{_encode_string(event_id)},{_encode_string(time)},"
        f"{_json_string(file_id)},{'null' if version is None else version},"
        f"{_encode_string(type_)},{_encode_string(actor)},{_encode_string(correlation_id)},"
        f"{details_text}]"
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(conn: Connection, events: Sequence[NewEvent]) -> list[EventRecord]:
    """Append ``events`` inside the caller's transaction (they commit or vanish with it)."""
    ((seq, prev),) = _LOCK_HEAD.run(conn)
    now = utcnow()
    now_text = isoformat(now)
    records: list[EventRecord] = []
    rows: list[dict[str, Any]] = []
    for event in events:
        seq += 1
        details_text = canonical_json(dict(event.details))
        event_id = new_id()
        digest = _link(
            prev, seq, event_id, now_text, event.file_id, event.version, event.type, event.actor,
            details_text, event.correlation_id,
        )  # fmt: skip
        rows.append(
            {
                "seq": seq, "id": event_id, "time": now, "file_id": event.file_id,
                "version": event.version, "type": event.type, "actor": event.actor,
                "details": details_text, "correlation_id": event.correlation_id,
                "prev_hash": prev, "hash": digest,
            }
        )  # fmt: skip
        records.append(
            EventRecord(
                seq, event_id, now, event.file_id, event.version, event.type, event.actor,
                dict(event.details), event.correlation_id, prev, digest,
            )
        )  # fmt: skip
        prev = digest
    _INSERT.run_many(conn, rows)
    _MOVE_HEAD.run(conn, {"new_seq": seq, "new_hash": prev})
    return records


def _record(row: Any) -> EventRecord:
    return EventRecord(
        row.seq, row.id, row.time, row.file_id, row.version, row.type, row.actor,
        json.loads(row.details), row.correlation_id, row.prev_hash, row.hash,
    )  # fmt: skip


def for_file(
    conn: Connection, file_id: str, *, after_seq: int = 0, limit: int = 1000
) -> list[EventRecord]:
    """A file's events, oldest first, from ``after_seq`` on."""
    rows = conn.execute(
        select(Event.__table__)
        .where(Event.file_id == file_id, Event.seq > after_seq)
        .order_by(Event.seq)
        .limit(limit)
    ).all()
    return [_record(row) for row in rows]


def page(
    conn: Connection, *, after_seq: int = 0, limit: int = 1000, type_prefix: str | None = None
) -> list[EventRecord]:
    """All events, oldest first (the auditor's feed)."""
    query = select(Event.__table__).where(Event.seq > after_seq)
    if type_prefix:
        query = query.where(Event.type.startswith(type_prefix, autoescape=True))
    rows = conn.execute(query.order_by(Event.seq).limit(limit)).all()
    return [_record(row) for row in rows]


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: str | None
    problem: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "first_break": None if self.first_break is None else vars(self.first_break),
        }


_WALK_SQL = (
    "SELECT seq, id, time, file_id, version, type, actor, details, correlation_id, prev_hash, "
    "hash FROM events ORDER BY seq"
)


def _walk(conn: Connection, batch: int) -> Iterator[Any]:
    """Every event in chain order, as plain tuples straight from the driver.

    The DB-API cursor is used directly because per-row work dominates verification: SQLAlchemy's
    row objects and type processing cost three times the query itself. Only the time column
    differs by driver (a string on SQLite, a datetime elsewhere); ``_time_text`` evens it out.
    """
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_WALK_SQL)
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()


def _time_text(value: datetime | str) -> str:
    if isinstance(value, str):  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"
        return value.replace(" ", "T", 1) + "Z"
    return isoformat(value)


def verify(conn: Connection, *, batch: int = 20_000) -> Verification:
    """Walk the whole chain and report the first place it breaks, if any.

    Checks, for each event in ``seq`` order: no gap in ``seq`` (deletion), ``prev_hash`` equal to
    the previous event's hash (insertion or reordering), and its own hash recomputed from its
    content (edit); finally that the chain ends where ``chain_head`` says it does (truncation).
    """
    head = conn.execute(select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == _HEAD_ID)).one()
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    problem: ChainBreak | None = None
    for row in _walk(conn, batch):
        seq, event_id, prev_hash, digest = row[0], row[1], row[9], row[10]
        count += 1
        if problem is not None:
            continue
        if seq != expected_seq:
            problem = ChainBreak(
                seq, event_id,
                f"events {expected_seq}..{seq - 1} are missing: the chain jumps from "
                f"{expected_seq - 1} to {seq}",
            )  # fmt: skip
        elif prev_hash != prev:
            problem = ChainBreak(
                seq, event_id,
                f"event {seq} does not link to event {seq - 1}: an event before it was "
                "edited, inserted, removed or moved",
            )  # fmt: skip
        elif digest != _link(prev_hash, seq, event_id, _time_text(row[2]), *row[3:9]):
            problem = ChainBreak(
                seq, event_id, f"event {seq} was altered: its content no longer matches its hash"
            )
        expected_seq, prev = seq + 1, digest
    if problem is None and (head.seq != expected_seq - 1 or head.hash != prev):
        problem = ChainBreak(
            head.seq, None,
            f"the chain ends at event {expected_seq - 1} but its head records event {head.seq}: "
            "the newest events were removed or the head was edited",
        )  # fmt: skip
    return Verification(problem is None, count, head.seq, head.hash, problem)
