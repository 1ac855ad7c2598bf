"""The dispatcher: turns new events into webhook deliveries.

It reads the event log after the ``webhooks`` cursor (``spine/cursors.py``), writes one delivery
row per subscription that wants each event, and moves the cursor, all in one transaction, so the
dispatchers of several processes take turns; the unique (subscription, event) pair makes a batch
that is somehow read twice harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from datoferum.spine import cursors, eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Collection, File, WebhookDelivery
from datoferum.spine.eventlog import EventRecord

from . import subscriptions

CURSOR = "webhooks"
BATCH = 500


def collections_of(conn: Connection, events: Sequence[EventRecord]) -> dict[int, str | None]:
    """The collection each event concerns (by event seq), when it has one."""
    found: dict[int, str | None] = {}
    for event in events:
        named = event.details.get("collection")
        if isinstance(named, str):
            found[event.seq] = named
    file_ids = {e.file_id for e in events if e.file_id and e.seq not in found}
    if file_ids:
        rows = conn.execute(
            select(File.id, Collection.name)
            .join(Collection, Collection.id == File.collection_id)
            .where(File.id.in_(file_ids))
        )
        names = {row.id: row.name for row in rows}
        for event in events:
            if event.seq not in found and event.file_id:
                found[event.seq] = names.get(event.file_id)
    return found


def _without_existing(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    seqs = [row["event_seq"] for row in rows]
    found = conn.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.event_seq).where(
            WebhookDelivery.event_seq.between(min(seqs), max(seqs))
        )
    )
    existing = {(row.subscription_id, row.event_seq) for row in found}
    return [row for row in rows if (row["subscription_id"], row["event_seq"]) not in existing]


class Dispatcher:
    def __init__(self, catalog: Catalog, *, batch: int = BATCH) -> None:
        self.catalog = catalog
        self.batch = batch

    def run_once(self) -> int:
        """Dispatch the next batch of events; returns how many events were read."""
        with self.catalog.reading() as conn:  # most ticks find nothing: no write lock for them
            if (cursors.position(conn, CURSOR) or 0) >= cursors.head(conn):
                return 0
        with self.catalog.writing() as conn:
            after = cursors.lock_position(conn, CURSOR)
            # The head is read before the subscriptions: a subscription committed after that
            # read starts past the head, so no event up to it can be one it should have had.
            head = cursors.head(conn)
            wanted = subscriptions.active(conn)
            if not wanted:  # nobody listens: skip ahead without reading events
                cursors.move(conn, CURSOR, head)
                return head - after
            events = [
                e for e in eventlog.page(conn, after_seq=after, limit=self.batch) if e.seq <= head
            ]
            if not events:
                return 0
            rows = subscriptions.new_rows(wanted, events, collections_of(conn, events))
            rows = _without_existing(conn, rows)
            if rows:
                conn.execute(insert(WebhookDelivery), rows)
            cursors.move(conn, CURSOR, events[-1].seq)
        return len(events)

    def drain(self, budget_seconds: float = 10.0) -> int:
        """Dispatch batches until caught up (or the time budget is spent)."""
        return cursors.drain(self.run_once, self.batch, budget_seconds)
