"""The lake's parts on a real catalog, a real local store and DuckDB, without a server: how
sources recognise files, how rows are batched and partitioned, and that a failed write leaves
nothing behind."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from datoferum.adapters.storage.local import LocalDiskBackend
from datoferum.errors import BillingFileError
from datoferum.services.lake.billing import SOURCES, BillingSource, header_of, provider_slug
from datoferum.services.lake.query import CostQuery, LakeQuery
from datoferum.services.lake.registry import recognise
from datoferum.services.lake.sources import HEAD_BYTES, MAX_BATCH_ROWS
from datoferum.services.lake.store import LakeStore, Lineage
from datoferum.services.sweep import sweep
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import LakePartition
from datoferum.spine.eventlog import NewEvent
from focus_samples import CUR_LEGACY, GCP
from lake_helpers import charge, focus_csv


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    found = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    migrate.upgrade(found)
    yield found
    found.dispose()


@pytest.fixture
def backend(tmp_path: Path) -> LocalDiskBackend:
    return LocalDiskBackend(tmp_path / "store", durable=False)


def _focus_source() -> BillingSource:
    return next(source for source in SOURCES if source.name == "focus")


def test_sources_recognise_heads_plain_gzipped_and_json() -> None:
    cur = CUR_LEGACY.encode()
    focus = focus_csv([charge("a", "2024-05-01", "X", "1")])
    gcp_json = (json.dumps({"billing_account_id": "b", "service": {"description": "S"},
                            "usage_start_time": "t", "cost": 1}) + "\n").encode()  # fmt: skip
    cases = {
        "aws-cur": [cur, gzip.compress(cur)[:HEAD_BYTES]],
        "focus": [focus, gzip.compress(focus)],
        "gcp-billing": [GCP.encode(), gcp_json],
    }
    for name, heads in cases.items():
        for head in heads:
            found = recognise(head, "export", "application/octet-stream")
            assert found is not None and found.name == name, (name, head[:40])
    for other in (b"name,size\nvm,1\n", b"\x00\x01binary", b"", b'{"a": 1}\n', cur[:30]):
        assert recognise(other, "x", "text/csv") is None, other
    assert header_of(b"BilledCost,ChargePeriodStart") is None  # no whole header line yet


def test_rows_come_in_bounded_batches_by_partition(tmp_path: Path) -> None:
    rows = [
        charge("a", f"2024-0{1 + n % 3}-{1 + n % 28:02d}", "Compute", "1",
               provider="Google Cloud" if n % 2 else "AWS")
        for n in range(150_000)
    ]  # fmt: skip
    path = tmp_path / "big.csv"
    path.write_bytes(focus_csv(rows))
    seen: dict[str, int] = {}
    for keys, batch in _focus_source().read(path):
        assert 0 < batch.num_rows <= MAX_BATCH_ROWS
        assert list(keys) == ["provider", "billing_period"]
        providers = set(batch.column("ProviderName").to_pylist())
        assert {provider_slug(p) for p in providers} == {keys["provider"]}
        key = f"{keys['provider']}/{keys['billing_period']}"
        seen[key] = seen.get(key, 0) + batch.num_rows
    assert sum(seen.values()) == 150_000
    assert sorted(seen) == [f"{p}/2024-0{m}" for p in ("aws", "google-cloud") for m in (1, 2, 3)]


def _batches(
    count: int, fail_after: int | None = None
) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
    for number in range(count):
        if fail_after is not None and number == fail_after:
            raise BillingFileError("export.csv: row 9: broken")
        yield {"part": str(number % 2)}, pa.record_batch({"x": list(range(1000))})


def test_a_failed_write_leaves_no_object_and_no_registration(
    catalog: Catalog, backend: LocalDiskBackend, tmp_path: Path
) -> None:
    store = LakeStore(catalog, backend, tmp_path / "work")
    with pytest.raises(BillingFileError, match="row 9"):
        store.stage("test", _batches(10, fail_after=5))
    assert list(backend.object_keys()) == []
    assert list(backend.abandoned()) == []
    assert list((tmp_path / "work").iterdir()) == []  # scratch files gone too
    with catalog.reading() as conn:
        assert conn.execute(select(func.count()).select_from(LakePartition)).scalar() == 0


def test_registration_replaces_a_sources_objects_and_the_sweep_keeps_them(
    catalog: Catalog, backend: LocalDiskBackend, tmp_path: Path
) -> None:
    store = LakeStore(catalog, backend, tmp_path / "work")
    lineage = Lineage("test:1", "test")

    def events(replaced: list[dict[str, object]]) -> list[NewEvent]:
        return [NewEvent("test.written", "tester", details={"replaced": len(replaced)})]

    first = store.register(store.stage("test", _batches(4)), lineage, "tester", events)
    assert sorted(p.partition for p in first.parts) == ["part=0", "part=1"]
    assert sum(p.rows for p in first.parts) == 4000
    second = store.register(store.stage("test", _batches(2)), lineage, "tester", events)
    assert sorted(r["id"] for r in second.replaced) == sorted(p.id for p in first.parts)
    assert sorted(backend.object_keys()) == sorted(p.key for p in second.parts)
    assert sweep(catalog, backend).removed == []
    assert sorted(backend.object_keys()) == sorted(p.key for p in second.parts)


def test_an_empty_lake_answers_queries(
    catalog: Catalog, backend: LocalDiskBackend, tmp_path: Path
) -> None:
    query = LakeQuery(catalog, {"local": backend}, tmp_path / "cache")
    assert query.cost(CostQuery(group_by=["ServiceName"]))["items"] == []
    assert query.sql("SELECT count(*) FROM focus")["rows"] == [[0]]


@pytest.mark.parametrize("backend_fixture", ["s3_backend", "hdfs_backend"])
def test_the_lake_on_a_remote_backend_is_queried_through_the_cache(
    catalog: Catalog, tmp_path: Path, backend_fixture: str, request: pytest.FixtureRequest
) -> None:
    remote = request.getfixturevalue(backend_fixture)
    store = LakeStore(catalog, remote, tmp_path / "work")
    path = tmp_path / "export.csv"
    path.write_bytes(
        focus_csv([charge("r", "2024-05-01", "A", "2"), charge("r", "2024-06-01", "B", "3")])
    )
    source = _focus_source()
    done = store.register(
        store.stage(source.dataset, source.read(path)), Lineage("file:r", source.name),
        "tester", lambda _: [],
    )  # fmt: skip
    for part in done.parts:
        assert part.key == f"lake/{part.path}/v1"  # readable keys on HDFS and S3
        assert remote.stat(part.key) is not None
    cache = tmp_path / "cache"
    query = LakeQuery(catalog, {remote.name: remote}, cache)
    found = query.cost(CostQuery(group_by=["ServiceName"]))["items"]
    assert [(i["period"], i["ServiceName"], i["cost"]) for i in found] == [
        ("2024-05", "A", 2.0),
        ("2024-06", "B", 3.0),
    ]
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f"{part.sha256}.parquet" for part in done.parts
    )
    for part in done.parts:
        remote.delete(part.key)
