"""The sweep: finish or undo writes that a crash or a kill left behind.

A staged write nobody holds is either committed and known to the catalog, as a copy of a version
or as a lake object (the crash came after the catalog commit: only the staging marker is left to
drop), or unknown to it (the crash came before: the object is removed, and the removal is
recorded as an event).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.roles import SYSTEM
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import LakePartition, Replica
from datoferum.spine.eventlog import NewEvent

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    completed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def sweep(catalog: Catalog, storage: StorageBackend) -> SweepReport:
    report = SweepReport()
    for key in storage.abandoned():
        with catalog.reading() as conn:
            known = (
                conn.execute(
                    select(Replica.id).where(Replica.backend == storage.name, Replica.key == key)
                ).first()
                or conn.execute(
                    select(LakePartition.id).where(
                        LakePartition.backend == storage.name, LakePartition.storage_key == key
                    )
                ).first()
            )
        if known is not None:
            storage.forget_staging(key)
            report.completed.append(key)
            continue
        # Record first: if the process dies before the removal, the next sweep repeats both,
        # so a removal is never missing from the log (at worst it is logged twice).
        committed = storage.stat(key) is not None
        with catalog.writing() as conn:
            eventlog.append(
                conn,
                [
                    NewEvent(
                        "storage.orphan_removed", SYSTEM.subject,
                        details={"backend": storage.name, "key": key, "committed": committed},
                    )
                ],
            )  # fmt: skip
        storage.delete(key)
        storage.forget_staging(key)
        report.removed.append(key)
        log.info("removed abandoned upload %s from %s", key, storage.name)
    return report
