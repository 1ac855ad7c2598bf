"""Named positions in the event log, for consumers that read it in order (the webhook
dispatcher, the lake's capture watcher).

A consumer locks its cursor row for the transaction that acts on a batch and moves the cursor in
that same transaction (``FOR UPDATE``; on SQLite the writer's ``BEGIN IMMEDIATE``), so the
consumers of several processes take turns and a batch is acted on once. Events become visible in
sequence order (appends lock the chain head until they commit), so a cursor never skips an event
that commits late.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from datoferum.spine.catalog.schema import ChainHead, Cursor


def head(conn: Connection) -> int:
    """The sequence number of the newest event."""
    return int(conn.execute(select(ChainHead.seq)).scalar() or 0)


def position(conn: Connection, name: str, *, lock: bool = False) -> int | None:
    """Where cursor ``name`` stands; None if it was never moved."""
    query = select(Cursor.seq).where(Cursor.name == name)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    seq = conn.execute(query).scalar()
    return None if seq is None else int(seq)


def lock_position(conn: Connection, name: str) -> int:
    """The cursor, locked until the transaction ends (created at 0 the first time)."""
    seq = position(conn, name, lock=True)
    if seq is not None:
        return seq
    try:
        with conn.begin_nested():
            conn.execute(insert(Cursor).values(name=name, seq=0))
    except IntegrityError:  # another process created it meanwhile
        pass
    return position(conn, name, lock=True) or 0


def move(conn: Connection, name: str, seq: int) -> None:
    """Move the cursor (locked by :func:`lock_position` in this transaction) to ``seq``."""
    conn.execute(update(Cursor).where(Cursor.name == name).values(seq=seq))


def drain(run_once: Callable[[], int], batch: int, budget_seconds: float) -> int:
    """Run a consumer's ``run_once`` (which reads at most ``batch`` events and returns how many)
    until a short batch says it has caught up, or ``budget_seconds`` have passed."""
    deadline = time.monotonic() + budget_seconds
    total = 0
    while True:
        read = run_once()
        total += read
        if read < batch or time.monotonic() > deadline:
            return total
