"""OpenCost/Kubecost allocation responses converted to FOCUS 1.2: one row per cost component,
costs that add up to each allocation's total, and the response shapes the APIs return."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from datoferum.errors import BillingFileError
from datoferum.services.focus import convert, reading
from focus_samples import opencost_allocation, opencost_response, write_json

WORKLOAD = "prod-eu/node-a/shop/cart-7d9f-x2/app"


def _convert(tmp_path: Path, document: Any, name: str = "allocation.json") -> list[dict[str, Any]]:
    source = write_json(tmp_path / name, document)
    report = convert([source], tmp_path / "focus.parquet")
    assert report.inputs[0].source == "opencost"
    return pq.read_table(tmp_path / "focus.parquet").to_pylist()  # type: ignore[no-any-return]


def _totals(rows: list[dict[str, Any]]) -> dict[tuple[str, datetime], float]:
    found: dict[tuple[str, datetime], float] = defaultdict(float)
    for row in rows:
        found[(row["ResourceId"], row["ChargePeriodStart"])] += row["BilledCost"]
    return found


def test_components_become_rows(tmp_path: Path) -> None:
    document = opencost_response(days=2)
    rows = _convert(tmp_path, document)
    day1 = datetime(2024, 5, 1, tzinfo=UTC)
    workload = {
        r["SkuId"]: r
        for r in rows
        if r["ResourceId"] == WORKLOAD and r["ChargePeriodStart"] == day1
    }
    assert sorted(workload) == ["cpu", "load-balancer", "network", "pv", "ram", "shared"]
    cpu, ram, pv, network = workload["cpu"], workload["ram"], workload["pv"], workload["network"]
    assert cpu["BilledCost"] == pytest.approx(0.29)  # cpuCost + cpuCostAdjustment
    assert (cpu["ConsumedQuantity"], cpu["ConsumedUnit"], cpu["PricingUnit"]) == (
        12.0,
        "Core-Hours",
        "Core-Hours",
    )
    assert (ram["ConsumedQuantity"], ram["ConsumedUnit"]) == (24.0, "GiB-Hours")
    assert ram["BilledCost"] == pytest.approx(0.102)
    assert (pv["ConsumedQuantity"], network["ConsumedQuantity"], network["ConsumedUnit"]) == (
        240.0,
        3.0,
        "GiB",
    )
    assert (
        workload["shared"]["ConsumedQuantity"] is None
        and workload["shared"]["ConsumedUnit"] is None
    )
    assert cpu["SkuMeter"] == "CPU" and cpu["ChargeDescription"] == f"CPU cost of {WORKLOAD}"
    assert (cpu["BillingAccountId"], cpu["SubAccountId"], cpu["SubAccountName"]) == (
        "prod-eu",
        "prod-eu/shop",
        "shop",
    )
    assert (cpu["ChargePeriodStart"], cpu["ChargePeriodEnd"]) == (
        day1,
        datetime(2024, 5, 2, tzinfo=UTC),
    )
    assert (cpu["BillingPeriodStart"], cpu["BillingPeriodEnd"]) == (
        datetime(2024, 5, 1, tzinfo=UTC),
        datetime(2024, 6, 1, tzinfo=UTC),
    )
    assert (cpu["ServiceName"], cpu["ServiceCategory"], cpu["ServiceSubcategory"]) == (
        "Kubernetes",
        "Compute",
        "Containers",
    )
    assert (cpu["ChargeCategory"], cpu["ChargeFrequency"], cpu["BillingCurrency"]) == (
        "Usage",
        "Usage-Based",
        "USD",
    )
    assert cpu["ResourceName"] == "app"
    assert cpu["EffectiveCost"] == cpu["ListCost"] == cpu["ContractedCost"] == cpu["BilledCost"]
    tags = json.loads(cpu["Tags"])
    assert tags["app"] == "cart" and tags["team"] == "payments"
    assert (
        tags["kubernetes.namespace"] == "shop" and tags["kubernetes.controllerKind"] == "deployment"
    )
    assert json.loads(cpu["x_totalCost"]) == pytest.approx(
        document["data"][0][WORKLOAD]["totalCost"]
    )
    assert cpu["x_cpuEfficiency"] == "0.42"
    # Every allocation's FOCUS costs add up to its totalCost, whatever its components.
    for (resource, start), total in _totals(rows).items():
        day = start.day - 1
        allocation = document["data"][day][resource]
        assert total == pytest.approx(allocation["totalCost"]), resource
    idle = [r for r in rows if r["ResourceId"] == "__idle__"]
    assert {r["SkuId"] for r in idle} == {"cpu", "ram"}
    assert all(r["SubAccountId"] is None and r["SubAccountName"] is None for r in idle)
    unmounted = [r for r in rows if r["ResourceId"] == "__unmounted__/pvc-9"]
    assert {r["SkuId"] for r in unmounted} == {"pv"}  # its zero components make no rows


def test_a_total_without_its_components_keeps_the_difference(tmp_path: Path) -> None:
    window = ("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z")
    allocation = opencost_allocation("ns-a", window, totalCost=5.0)
    rows = _convert(tmp_path, {"code": 200, "data": [{"ns-a": allocation}]})
    residual = [r for r in rows if r["SkuId"] == "residual"]
    assert len(residual) == 1 and residual[0]["SkuMeter"] == "Unattributed"
    assert sum(r["BilledCost"] for r in rows) == pytest.approx(5.0)


def test_response_shapes(tmp_path: Path) -> None:
    """``data`` as a list of sets (``/allocation``, ``/model/allocation``) or as one set, pretty
    or compact, gzipped, and an aggregation without a cluster."""
    window = ("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z")
    one = opencost_allocation("shop", window, cluster=None)
    as_set = _convert(tmp_path, {"code": 200, "data": {"shop": one}})
    as_list = _convert(tmp_path, {"code": 200, "data": [{"shop": one}]}, "list.json")
    assert as_set == as_list
    assert {r["BillingAccountId"] for r in as_set} == {"multiple-clusters"}
    compact = tmp_path / "alloc.json.gz"
    compact.write_bytes(gzip.compress(json.dumps({"code": 200, "data": [{"shop": one}]}).encode()))
    report = convert([compact], tmp_path / "gz.parquet")
    assert report.inputs[0].rows == len(as_set)


def test_streams_in_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "JSON_BATCH_ROWS", 4)
    source = write_json(tmp_path / "a.json", opencost_response(days=5))
    export = reading.open_export(source)
    batches = list(export.batches())
    assert all(len(batch.rows) <= 4 for batch in batches)
    numbers = [batch.first_row for batch in batches]
    assert numbers == list(range(1, 4 * len(batches), 4))
    report = convert([source], tmp_path / "o.parquet")
    assert report.rows == sum(len(batch.rows) for batch in batches) == 5 * (6 + 2 + 1)


def _set(allocation: str) -> str:
    return '{"code": 200, "data": [{"a": ' + allocation + "}]}"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"code": 500, "message": "prometheus unreachable", "data": null}',
         "code 500: prometheus unreachable"),
        (_set('{"name": "a", "properties": {}, "window": {}, "totalCost": 1}'),
         "record 1: the allocation has no window"),
        (_set('{"properties": {}, "window": {"start": "x"}, "totalCost": "lots"}'),
         "record 1: not a number: 'lots'"),
        (_set('{"properties": {}, "window": {}, "totalCost": 1}, "b": {"to'), "malformed JSON"),
        (_set('{"properties": "x", "window": {}, "totalCost": 1}'),
         "record 1: allocation 'a': properties and window must be JSON objects"),
    ],
)  # fmt: skip
def test_bad_responses_are_named(tmp_path: Path, document: str, message: str) -> None:
    source = tmp_path / "allocation.json"
    source.write_text(document)
    with pytest.raises(BillingFileError, match=message) as caught:
        convert([source], tmp_path / "out.parquet")
    assert str(source) in caught.value.detail
    assert not (tmp_path / "out.parquet").exists()


def test_cli_converts_allocations(tmp_path: Path) -> None:
    source = write_json(tmp_path / "allocation.json", opencost_response(days=1))
    done = subprocess.run(
        [sys.executable, "-m", "datoferum", "focus", "convert", str(source),
         "-o", str(tmp_path / "k8s.csv"), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["inputs"][0]["source"] == "opencost" and answer["rows"] == 9
