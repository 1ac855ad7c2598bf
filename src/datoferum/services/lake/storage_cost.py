"""Datoferum's own storage cost, written to the lake as FOCUS rows.

Once a day (``DATOFERUM_STORAGE_COST_CRON``) the ``lake.storage_cost`` job sums the bytes of
the present copies of live versions per collection and backend, and prices each sum with
``DATOFERUM_STORAGE_PRICES`` (per GiB-month, per backend): the day's share of a month's price
is that day's cost. The rows go to the ``focus`` dataset under ``provider=datoferum``, one per
collection and backend, so the same cost queries that show cloud bills show what each collection
costs to keep here (group by ``SubAccountName``, the collection, or ``tag:backend``). Running the
job again for a day replaces that day's rows.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select

from datoferum.domain.focus import COLUMNS
from datoferum.domain.records import State
from datoferum.errors import InvalidInput
from datoferum.services.focus.converter import arrow_schema
from datoferum.services.focus.rules import RowError, ServiceCatalog, complete
from datoferum.services.lake.billing import DATASET, partitions
from datoferum.services.lake.store import LakeStore, Lineage
from datoferum.services.worker import JobContext
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Collection, File, Replica, Version
from datoferum.spine.eventlog import NewEvent

JOB = "lake.storage_cost"
SOURCE = "datoferum-storage"
PROVIDER = "Datoferum"
GIB = 1 << 30
_SCHEMA = arrow_schema([c.name for c in COLUMNS if c.core])


class StorageCost:
    def __init__(
        self, catalog: Catalog, store: LakeStore, prices: Mapping[str, float], currency: str
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.prices = prices
        self.currency = currency

    def usage(self) -> list[tuple[str, str, int]]:
        """(collection, backend, bytes) of the present copies of live versions."""
        with self.catalog.reading() as conn:
            rows = conn.execute(
                select(Collection.name, Replica.backend, func.sum(Version.size))
                .join(File, File.collection_id == Collection.id)
                .join(Version, Version.file_id == File.id)
                .join(Replica, Replica.version_id == Version.id)
                .where(Replica.state == "present", Version.state.in_(State.READABLE))
                .group_by(Collection.name, Replica.backend)
                .order_by(Collection.name, Replica.backend)
            ).all()  # fmt: skip
        return [(row[0], row[1], int(row[2] or 0)) for row in rows]

    def rows(self, day: date) -> list[dict[str, Any]]:
        """The day's FOCUS rows, checked by the same rules as converted exports."""
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        month = datetime(day.year, day.month, 1, tzinfo=UTC)
        days = calendar.monthrange(day.year, day.month)[1]
        found = []
        owners = []
        for collection, backend, size in self.usage():
            months = size / GIB / days  # GiB-months held during the day
            price = float(self.prices.get(backend, 0.0))
            cost = months * price
            row: dict[str, Any] = {
                "BillingAccountId": "datoferum", "BillingAccountName": "Datoferum",
                "BillingCurrency": self.currency, "BillingPeriodStart": month,
                "BillingPeriodEnd": month + timedelta(days=days), "ChargePeriodStart": start,
                "ChargePeriodEnd": start + timedelta(days=1), "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": f"Storage of collection {collection} on backend {backend}",
                "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost,
                "ContractedCost": cost, "ListUnitPrice": price, "ContractedUnitPrice": price,
                "PricingCategory": "Standard", "PricingQuantity": months,
                "PricingUnit": "GiB-Months", "ConsumedQuantity": months,
                "ConsumedUnit": "GiB-Months", "InvoiceIssuerName": PROVIDER,
                "ProviderName": PROVIDER, "PublisherName": PROVIDER,
                "ServiceName": "Datoferum Storage", "ServiceCategory": "Storage",
                "ServiceSubcategory": "Object Storage", "SubAccountId": collection,
                "SubAccountName": collection, "ResourceId": f"{backend}/{collection}",
                "ResourceName": collection, "SkuId": f"storage-{backend}",
                "Tags": {"collection": collection, "backend": backend},
            }  # fmt: skip
            row["Tags"] = json.dumps(row["Tags"], sort_keys=True)
            found.append(row)
            owners.append(f"own storage cost of {collection} on {backend}")
        columns = {
            field.name: pa.array([row.get(field.name) for row in found], type=field.type)
            for field in _SCHEMA
        }
        try:
            complete(columns, ServiceCatalog())
        except RowError as error:
            raise InvalidInput(f"{owners[error.index]}: {error}") from None
        checked: list[dict[str, Any]] = pa.RecordBatch.from_pydict(columns, _SCHEMA).to_pylist()
        return checked

    def write(self, day: date, actor: str) -> dict[str, Any]:
        """Write (or replace) the day's rows."""
        rows = self.rows(day)
        batch = pa.RecordBatch.from_pylist(rows, schema=_SCHEMA)
        parts = self.store.stage(DATASET, partitions(batch) if rows else iter(()))
        lineage = Lineage(f"storage-cost:{day.isoformat()}", SOURCE)
        total = sum(part.rows for part in parts)

        def events(replaced: list[dict[str, Any]]) -> list[NewEvent]:
            details = {
                "day": day.isoformat(), "rows": total, "currency": self.currency,
                "partitions": [part.as_dict() for part in parts],
                "replaced": [{"id": r["id"], "path": r["path"]} for r in replaced],
            }  # fmt: skip
            return [NewEvent("lake.storage_cost", actor, details=details)]

        done = self.store.register(parts, lineage, actor, events)
        return {"day": day.isoformat(), "rows": total, "partitions": len(done.parts),
                "replaced": len(done.replaced)}  # fmt: skip

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """The ``lake.storage_cost`` job: ``day`` (``YYYY-MM-DD``) in the payload, else today."""
        given = context.payload.get("day")
        try:
            day = date.fromisoformat(str(given)) if given else datetime.now(UTC).date()
        except ValueError:
            raise InvalidInput(f"day {given!r} is not a date (YYYY-MM-DD)") from None
        return self.write(day, context.actor)
