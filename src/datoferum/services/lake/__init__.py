"""ThriftData's lake: captured files normalized into partitioned Parquet, queried with DuckDB.

``sources.py`` is the interface every input kind implements and ``registry.py`` lists them;
``store.py`` writes and registers objects; ``normalize.py`` is the job, ``watch.py`` queues it
for captured files; ``query.py`` answers cost and SQL queries; ``storage_cost.py`` puts
Datoferum's own storage cost in the lake. :class:`Lake` builds them all from the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from datoferum.adapters.storage.base import StorageBackend
from datoferum.config import Settings
from datoferum.services.lake import normalize, storage_cost
from datoferum.services.lake.normalize import Normalizer
from datoferum.services.lake.query import LakeQuery, Limits
from datoferum.services.lake.storage_cost import StorageCost
from datoferum.services.lake.store import LakeStore
from datoferum.services.lake.watch import Watcher
from datoferum.services.worker import Handler
from datoferum.spine.catalog.database import Catalog

__all__ = ["Lake", "LakeQuery", "LakeStore", "Normalizer", "StorageCost", "Watcher"]


@dataclass
class Lake:
    store: LakeStore
    normalizer: Normalizer
    watcher: Watcher
    query: LakeQuery
    storage_cost: StorageCost

    @classmethod
    def build(
        cls,
        settings: Settings,
        catalog: Catalog,
        backends: Mapping[str, StorageBackend],
        ingest: StorageBackend,
    ) -> Lake:
        """The lake writes to the ingest backend; its scratch and cache live in the home."""
        root = settings.home / "lake"
        store = LakeStore(catalog, ingest, root / "work")
        normalizer = Normalizer(catalog, backends, store, root / "work")
        limits = Limits(
            settings.lake_query_seconds, settings.lake_query_rows, settings.lake_query_memory
        )
        return cls(
            store=store,
            normalizer=normalizer,
            watcher=Watcher(normalizer),
            query=LakeQuery(catalog, backends, root / "cache", limits),
            storage_cost=StorageCost(
                catalog, store, settings.storage_price_table, settings.storage_price_currency
            ),
        )

    def handlers(self) -> dict[str, Handler]:
        return {
            normalize.JOB: self.normalizer.run_job,
            storage_cost.JOB: self.storage_cost.run_job,
        }
