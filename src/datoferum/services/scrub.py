"""Integrity: scrubs that re-read every copy, and the dark-data report.

A scrub walks the present copies of live versions in catalog order, streams each one through
sha256 at a bounded rate (so a scrub never starves uploads of disk or network), and compares
with the version's recorded digest. A copy that is missing or different is taken out of service
(``replica.missing`` / ``replica.corrupt``) and rewritten from a good copy elsewhere
(``replica.repaired``); with no good copy left, it stays out of service and the event says so.

The dark-data report compares each backend with the catalog both ways: objects the catalog does
not know (left by a crash the sweep could not see, or written behind Datoferum's back), and
copies the catalog counts on whose bytes are gone. It lists at most :data:`REPORT_LIMIT` of each.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select, update

from datoferum.adapters.storage import Backends
from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.records import State
from datoferum.errors import DatoferumError, NotFound
from datoferum.services.placement import PlacementService
from datoferum.services.worker import JobContext
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import LakePartition, Replica, Version
from datoferum.spine.eventlog import NewEvent

log = logging.getLogger(__name__)

PAGE = 500
REPORT_LIMIT = 1000


class RateLimit:
    """At most ``per_second`` bytes a second on average (0: no limit), by sleeping as needed."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._start = clock()
        self._spent = 0

    def spend(self, amount: int) -> None:
        if self.per_second <= 0:
            return
        self._spent += amount
        ahead = self._spent / self.per_second - (self._clock() - self._start)
        if ahead > 0:
            time.sleep(ahead)


class ScrubService:
    def __init__(
        self,
        catalog: Catalog,
        backends: Backends,
        placement: PlacementService,
        bytes_per_second: float,
    ) -> None:
        self.catalog = catalog
        self.backends = backends
        self.placement = placement
        self.bytes_per_second = bytes_per_second

    def _copies(self, backend: str | None = None) -> Iterator[Any]:
        """Present copies of live versions (on ``backend`` only, if given), a page at a time in
        replica order."""
        only = () if backend is None else (Replica.backend == backend,)
        after = 0
        while True:
            with self.catalog.reading() as conn:
                page = conn.execute(
                    select(
                        Replica.id, Replica.backend, Replica.key, Version.id.label("version_id"),
                        Version.file_id, Version.number, Version.sha256, Version.size,
                    )
                    .join(Version, Version.id == Replica.version_id)
                    .where(
                        Replica.id > after, Replica.state == "present",
                        Version.state.in_(State.LIVE), *only,
                    )
                    .order_by(Replica.id)
                    .limit(PAGE)
                ).all()  # fmt: skip
            if not page:
                return
            yield from page
            after = page[-1].id

    def _verdict(self, copy: Any, limit: RateLimit) -> str:
        """ok, missing or corrupt; a backend that cannot be reached raises."""
        backend = self.backends[copy.backend]
        if backend.stat(copy.key) is None:
            return "missing"
        digest = hashlib.sha256()
        for chunk in backend.read(copy.key):
            digest.update(chunk)
            limit.spend(len(chunk))
        return "ok" if digest.hexdigest() == copy.sha256 else "corrupt"

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """The ``scrub`` job: check every copy once and repair the bad ones; and give versions
        whose placement gave up (a long outage) another placement job."""
        limit = RateLimit(self.bytes_per_second)
        counts = {"checked": 0, "bytes": 0, "ok": 0, "missing": 0, "corrupt": 0,
                  "repaired": 0, "unrepaired": 0, "unreachable": 0,
                  "placements_requeued": self.placement.requeue_stuck(context.actor)}  # fmt: skip
        for copy in self._copies():
            if copy.backend not in self.backends:
                counts["unreachable"] += 1
                continue
            try:
                verdict = self._verdict(copy, limit)
            except DatoferumError as error:  # a backend down: its copies wait for the next scrub
                log.warning("scrub could not read %s on %s: %s", copy.key, copy.backend, error)
                counts["unreachable"] += 1
                continue
            counts["checked"] += 1
            counts["bytes"] += copy.size
            counts[verdict] += 1
            if verdict != "ok":
                repaired = self._repair(copy, verdict, context.actor)
                counts["repaired" if repaired else "unrepaired"] += 1
            context.progress(counts["checked"])
        return counts

    def _repair(self, copy: Any, verdict: str, actor: str) -> bool:
        details = {"backend": copy.backend, "key": copy.key, "expected_sha256": copy.sha256}
        with self.catalog.writing() as conn:
            conn.execute(update(Replica).where(Replica.id == copy.id).values(state=verdict))
            eventlog.append(
                conn,
                [NewEvent(f"replica.{verdict}", actor, copy.file_id, copy.number, details)],
            )
        try:
            self.placement.repair(copy.version_id, copy.backend, actor)
        except DatoferumError as error:
            log.warning("could not repair %s on %s: %s", copy.key, copy.backend, error.detail)
            with self.catalog.writing() as conn:
                eventlog.append(
                    conn,
                    [NewEvent("replica.unrepaired", actor, copy.file_id, copy.number,
                              {**details, "reason": error.detail})],
                )  # fmt: skip
            return False
        return True

    def backend(self, name: object) -> StorageBackend:
        """The configured backend ``name``; a clear error for any other value."""
        if not isinstance(name, str) or name not in self.backends:
            known = ", ".join(self.backends)
            raise NotFound(f"there is no backend {name!r}; the backends are: {known}")
        return self.backends[name]

    def dark_data(self, backend_name: str) -> dict[str, Any]:
        """Objects on ``backend_name`` the catalog does not know, and catalogued copies whose
        bytes are missing there; counts, and the first :data:`REPORT_LIMIT` keys of each."""
        backend = self.backend(backend_name)
        unknown: list[str] = []
        unknown_count = 0
        batch: list[str] = []

        def settle() -> None:
            nonlocal unknown_count
            with self.catalog.reading() as conn:
                known = set(
                    conn.execute(
                        select(Replica.key).where(
                            Replica.backend == backend_name, Replica.key.in_(batch),
                            Replica.state.in_(("present", "corrupt", "missing", "removing")),
                        )
                    ).scalars()
                ) | set(
                    conn.execute(
                        select(LakePartition.storage_key).where(
                            LakePartition.backend == backend_name,
                            LakePartition.storage_key.in_(batch),
                        )
                    ).scalars()
                )  # fmt: skip
            for key in batch:
                if key not in known:
                    unknown_count += 1
                    if len(unknown) < REPORT_LIMIT:
                        unknown.append(key)
            batch.clear()

        for key in backend.object_keys():
            batch.append(key)
            if len(batch) == PAGE:
                settle()
        settle()
        missing: list[dict[str, Any]] = []
        missing_count = 0
        for copy in self._copies(backend_name):
            if backend.stat(copy.key) is None:
                missing_count += 1
                if len(missing) < REPORT_LIMIT:
                    missing.append({"key": copy.key, "file_id": copy.file_id,
                                    "version": copy.number})  # fmt: skip
        return {
            "backend": backend_name,
            "unknown_objects": {"count": unknown_count, "keys": unknown},
            "missing_copies": {"count": missing_count, "items": missing},
        }

    def dark_data_job(self, context: JobContext) -> dict[str, Any]:
        """The ``storage.report`` job: the dark-data report of one backend, or of each."""
        chosen = context.payload.get("backend")
        names = [str(chosen)] if chosen else list(self.backends)
        return {"reports": [self.dark_data(name) for name in names]}
