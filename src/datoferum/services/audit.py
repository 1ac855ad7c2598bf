"""Audit: verification of the event chain and the auditor's event feed."""

from __future__ import annotations

from sqlalchemy import func, select

from datoferum.services.files import get_file
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import ChainHead
from datoferum.spine.eventlog import EventRecord, Verification


class AuditService:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def verify(self) -> Verification:
        with self.catalog.reading() as conn:
            return eventlog.verify(conn)

    def head_seq(self) -> int:
        """The sequence number of the newest event (0 for an empty log): one row, no scan."""
        with self.catalog.reading() as conn:
            seq = conn.execute(select(func.max(ChainHead.seq))).scalar()
        return int(seq or 0)

    def events(
        self, *, after_seq: int = 0, limit: int = 1000, type_prefix: str | None = None
    ) -> list[EventRecord]:
        with self.catalog.reading() as conn:
            return eventlog.page(conn, after_seq=after_seq, limit=limit, type_prefix=type_prefix)

    def file_events(
        self, file_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[EventRecord]:
        """A file's timeline, oldest first; raises NotFound for an unknown file."""
        with self.catalog.reading() as conn:
            get_file(conn, file_id, with_versions=False)
            return eventlog.for_file(conn, file_id, after_seq=after_seq, limit=limit)
