"""A cost query over a big lake, through the HTTP API, against DuckDB alone on the same Parquet.

The lake is a benchmark fixture: FOCUS 1.2 rows (all core columns) for one AWS account over
twelve months, written and registered through the product's own lake store (local Parquet per
partition, streamed to the local backend, read back, registered), as a normalization would. The
rows vary where a cost query looks: 40 services, 2,000 resources, three regions, tags, costs
from a log-uniform spread. Then a ``datoferum serve`` answers ``GET /api/v1/lake/cost`` grouped
by service and month, and the reference runs the product's own SQL for that query with DuckDB
alone, in this process, over the very same files: what the query costs without the server, the
catalog lookup, the sandbox set-up and JSON.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
from sqlalchemy import select

from datoferum.config import Settings
from datoferum.domain.focus import COLUMNS
from datoferum.services.focus.converter import arrow_schema
from datoferum.services.lake.query import CostQuery, cost_sql
from datoferum.services.lake.store import Lineage
from datoferum.services.wiring import build_services
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.schema import LakePartition

from bench.report import Comparison, Series, interleave
from bench.servers import TOKEN, Datoferum

BATCH = 65_536
MONTHS = 12
SERVICES = 40
#: The target: the query answered in under half a second.
TARGET_SECONDS = 0.5
_SCHEMA = arrow_schema([c.name for c in COLUMNS if c.core])


def _template(rng: random.Random, rows: int) -> dict[str, list[Any]]:
    """The month-independent columns of one batch."""
    services = [f"Service {n:02d}" for n in range(SERVICES)]
    regions = ["us-east-1", "eu-west-1", "sa-east-1"]
    costs = [round(2 ** rng.uniform(-12, 6), 6) for _ in range(rows)]
    service = [services[min(int(rng.expovariate(0.12)), SERVICES - 1)] for _ in range(rows)]
    resource = [f"i-{rng.randrange(2000):05d}" for _ in range(rows)]
    return {
        "BillingAccountId": ["111122223333"] * rows, "BillingCurrency": ["USD"] * rows,
        "InvoiceIssuerName": ["AWS"] * rows, "ProviderName": ["AWS"] * rows,
        "PublisherName": ["AWS"] * rows, "ChargeCategory": ["Usage"] * rows,
        "ChargeFrequency": ["Usage-Based"] * rows, "ServiceName": service,
        "ServiceCategory": ["Compute"] * rows, "ServiceSubcategory": ["Virtual Machines"] * rows,
        "ResourceId": resource, "RegionId": [rng.choice(regions) for _ in range(rows)],
        "SubAccountId": [f"4444555566{rng.randrange(10):02d}" for _ in range(rows)],
        "BilledCost": costs, "EffectiveCost": [c * 0.8 for c in costs], "ListCost": costs,
        "ContractedCost": costs, "PricingCategory": ["Standard"] * rows,
        "Tags": [f'{{"team": "t{rng.randrange(12)}"}}' for _ in range(rows)],
    }  # fmt: skip


def _batches(total: int) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
    """``total`` rows spread evenly over twelve months, one partition per month."""
    rng = random.Random(20240301)
    templates = [_template(rng, BATCH) for _ in range(4)]
    per_month = total // MONTHS
    for month in range(1, MONTHS + 1):
        start = datetime(2024, month, 1, tzinfo=UTC)
        end = datetime(2024 + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        left = per_month + (total % MONTHS if month == MONTHS else 0)
        number = 0
        while left > 0:
            rows = min(BATCH, left)
            columns = {k: v[:rows] for k, v in templates[number % len(templates)].items()}
            day = [datetime(2024, month, 1 + (i + number) % 28, tzinfo=UTC) for i in range(rows)]
            columns.update(
                BillingPeriodStart=[start] * rows, BillingPeriodEnd=[end] * rows,
                ChargePeriodStart=day, ChargePeriodEnd=[d + timedelta(days=1) for d in day],
            )  # fmt: skip
            arrays = [
                pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(rows, f.type)
                for f in _SCHEMA
            ]
            keys = {"provider": "aws", "billing_period": f"2024-{month:02d}"}
            yield keys, pa.RecordBatch.from_arrays(arrays, schema=_SCHEMA)
            left -= rows
            number += 1


def build(server: Datoferum, rows: int) -> list[str]:
    """Write the lake into the server's home and store; the local paths of its objects."""
    started = time.perf_counter()
    settings = Settings(
        home=server.home, storage_root=server.storage, database_url=None, durability="relaxed",
        policy_dir=None,
    )  # fmt: skip
    services = build_services(settings)
    try:
        migrate.upgrade(services.catalog)
        store = services.lake.store
        parts = store.stage("focus", _batches(rows))
        store.register(parts, Lineage("bench:lake", "bench"), "bench", lambda _: [])
        with services.catalog.reading() as conn:
            keys = conn.execute(select(LakePartition.storage_key)).scalars().all()
        paths = [str(services.storage.local_path(key)) for key in keys]
    finally:
        services.close()
    size = sum(Path(p).stat().st_size for p in paths) / 1024**2
    elapsed = time.perf_counter() - started
    print(f"    built {rows:,} rows in {len(paths)} objects ({size:.0f} MiB) in {elapsed:.0f} s")
    return paths


def _http(client: httpx.Client, expected: list[int]) -> float:
    started = time.perf_counter()
    answer = client.get(
        "/api/v1/lake/cost", params={"group_by": "ServiceName", "granularity": "month"}
    )
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"cost query answered {answer.status_code}: {answer.text[:300]}")
    expected.append(len(answer.json()["items"]))
    return 1 / elapsed


def _duckdb(paths: list[str], expected: list[int]) -> float:
    """The product's own SQL for the query, over the same files, in a plain DuckDB."""
    listed = ", ".join(f"'{path}'" for path in paths)
    source = f"read_parquet([{listed}], union_by_name = true)"
    sql, params, _ = cost_sql(CostQuery(group_by=["ServiceName"], granularity="month"), source)
    started = time.perf_counter()
    db = duckdb.connect(":memory:")
    try:
        db.execute("SET enable_progress_bar = false")
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET threads = 2")
        rows = db.execute(sql, params).fetchall()
    finally:
        db.close()
    elapsed = time.perf_counter() - started
    expected.append(len(rows))
    return 1 / elapsed


def query(workdir: Path, runs: int, rows: int) -> list[Comparison]:
    server = Datoferum(workdir, label="lake")
    paths = build(server, rows)
    groups: list[int] = []
    with (
        server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        ) as client,
    ):
        _http(client, [])  # one untimed query: the page cache holds the objects for both sides
        ours = Series("Datoferum cost API", "queries/s")
        alone = Series("DuckDB alone, same Parquet", "queries/s")
        interleave(
            runs,
            [(ours, lambda _: _http(client, groups)), (alone, lambda _: _duckdb(paths, groups))],
        )
    if len(set(groups)) != 1 or groups[0] != MONTHS * SERVICES:
        raise RuntimeError(f"the queries found different groups: {groups}")
    label = f"Cost by service by month, {rows / 1e6:g} M FOCUS rows"
    target = Series(
        f"target: {TARGET_SECONDS:g} s", "queries/s", values=[1 / TARGET_SECONDS] * runs
    )
    return [Comparison(label, ours, target, 1.0), Comparison(label, ours, alone, None)]
