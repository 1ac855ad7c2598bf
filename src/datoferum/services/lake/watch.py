"""The capture watcher: every captured file a lake source recognises is marked and queued.

It follows the event log (cursor ``lake``, ``spine/cursors.py``) rather than hooking into the
upload path, so capture stays as fast as it was and a file is never missed: the watcher of any
server or worker process picks up where the last one stopped. For each ``file.captured`` event
it reads the first 64 KiB of the version and asks the registry's sources; a recognised file gets
``lake.detected`` on its timeline (the source and dataset) and a ``lake.normalize`` job (one per
version, by idempotency key), in the same transaction that moves the cursor.

Heads are read outside any transaction, so a slow backend never holds the catalog's write lock.
"""

from __future__ import annotations

import logging

from datoferum.domain.roles import SYSTEM
from datoferum.errors import DatoferumError
from datoferum.services.lake.normalize import Input, Normalizer, find_many, queue
from datoferum.services.lake.sources import LakeSource
from datoferum.spine import cursors, eventlog
from datoferum.spine.eventlog import NewEvent

log = logging.getLogger(__name__)

CURSOR = "lake"
BATCH = 500


class Watcher:
    def __init__(self, normalizer: Normalizer, *, batch: int = BATCH) -> None:
        self.normalizer = normalizer
        self.catalog = normalizer.catalog
        self.batch = batch

    def run_once(self) -> int:
        """Handle the next batch of captures; returns how many were read."""
        with self.catalog.reading() as conn:
            after = cursors.position(conn, CURSOR) or 0
            head = cursors.head(conn)
            if after >= head:
                return 0
            events = [
                e
                for e in eventlog.page(
                    conn, after_seq=after, limit=self.batch, type_prefix="file.captured"
                )
                if e.seq <= head
            ]
            # A short page means every event up to the head has been seen.
            reached = events[-1].seq if len(events) == self.batch else head
            captures = [
                ((e.file_id, e.version), e.correlation_id)
                for e in events
                if e.type == "file.captured" and e.file_id and e.version
            ]
            versions = find_many(conn, [key for key, _ in captures])
            targets = [(versions[key], why) for key, why in captures if key in versions]
        found: list[tuple[Input, str, LakeSource]] = []
        for target, correlation in targets:
            try:
                source = self.normalizer.recognise(target)
            except DatoferumError as error:  # unreadable now: skipped, normalize on request
                log.warning("lake: cannot read the head of %s: %s", target.name, error.detail)
                continue
            if source is not None:
                found.append((target, correlation, source))
        with self.catalog.writing() as conn:
            if cursors.lock_position(conn, CURSOR) != after:
                return 0  # another process handled this batch meanwhile
            for target, correlation, source in found:
                eventlog.append(
                    conn,
                    [
                        NewEvent("lake.detected", SYSTEM.subject, target.file_id, target.number,
                                 {"source": source.name, "dataset": source.dataset},
                                 correlation)
                    ],
                )  # fmt: skip
                queue(conn, target, SYSTEM.subject, correlation, source=source.name, once=True)
            cursors.move(conn, CURSOR, reached)
        return len(events)

    def drain(self, budget_seconds: float = 10.0) -> int:
        """Handle batches until caught up (or the time budget is spent)."""
        return cursors.drain(self.run_once, self.batch, budget_seconds)
