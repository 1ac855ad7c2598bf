# ruff: noqa: E501  (the CSV samples keep one record per line, as exports write them)
"""Billing exports for the FOCUS tests: the real fixtures, variants built from them, and small
exports written here so that the suite runs on a clone without the shared fixtures.

The real files are never modified; every variant is a new file under the test's tmp_path.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import NO_SHARED_FIXTURES

FIXTURES = Path(
    os.environ.get(
        "DATOFERUM_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
)


def fixture(relative: str) -> Path:
    """A real fixture; the test is skipped when the shared fixtures are absent (a clone of its
    own has none; the suite's own samples cover the same formats)."""
    path = FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"{NO_SHARED_FIXTURES} {relative} not found under {FIXTURES}")
    return path


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- variants of the real files ------------------------------------------------------------------


def cur2_from_legacy(source: Path, target: Path) -> Path:
    """A CUR 2.0 file with the legacy file's data: the same columns in CUR 2.0 spelling."""
    from datoferum.services.focus.aws import cur2_name

    header, rows = read_rows(source)
    return write_rows(target, [cur2_name(name) for name in header], rows)


def repaired_test_cur(source: Path, target: Path) -> Path:
    """``test_cur.csv`` with the one reservation field its rows lack put back (empty), so its
    data can be converted; the original is refused as broken (see test_focus_convert)."""
    header, rows = read_rows(source)
    at = header.index("costCategory/CostCenter")
    fixed = [
        [*row[: at - 1], "", *row[at - 1 :]] if len(row) == len(header) - 1 else row for row in rows
    ]
    return write_rows(target, header, fixed)


def azure_with_currency(source: Path, target: Path, currency: str = "USD") -> Path:
    """The Azure fixture with a real ISO 4217 currency in place of its anonymised ``MC``."""
    header, rows = read_rows(source)
    at = header.index("BillingCurrencyCode")
    for row in rows:
        row[at] = currency
    return write_rows(target, header, rows)


def azure_camel_case(source: Path, target: Path) -> Path:
    """Today's Azure export header style (camelCase names, ``billingCurrency``) from the
    "version 2" Pascal-case file, with US-style dates as older exports write them."""
    header, rows = read_rows(source)
    renamed = {"BillingCurrencyCode": "billingCurrency"}
    new_header = [renamed.get(name, name[:1].lower() + name[1:]) for name in header]
    date_columns = [i for i, name in enumerate(header) if "Date" in name]
    for row in rows:
        row[header.index("BillingCurrencyCode")] = "EUR"
        for i in date_columns:
            year, month, day = row[i].split("-")
            row[i] = f"{int(month)}/{int(day)}/{year}"
    return write_rows(target, new_header, rows)


def azure_legacy(source: Path, target: Path) -> Path:
    """The first Azure export style: ``PreTaxCost``, ``UsageDateTime``, ``SubscriptionGuid``,
    ``InstanceId``, ``Currency``."""
    header, rows = read_rows(source)
    renamed = {
        "CostInBillingCurrency": "PreTaxCost",
        "Date": "UsageDateTime",
        "SubscriptionId": "SubscriptionGuid",
        "ResourceId": "InstanceId",
        "BillingCurrencyCode": "Currency",
        "Quantity": "UsageQuantity",
    }
    for row in rows:
        row[header.index("BillingCurrencyCode")] = "USD"
    return write_rows(target, [renamed.get(name, name) for name in header], rows)


def gcp_json_from_csv(source: Path, target: Path, *, lines: bool = True) -> Path:
    """The BigQuery export shape of a GCP CSV: nested records, labels and credits as lists,
    numbers as numbers; JSON Lines or one JSON array."""
    header, rows = read_rows(source)
    records = []
    for row in rows:
        record: dict[str, object] = {}
        for name, value in zip(header, row, strict=True):
            node = record
            *parents, leaf = name.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})  # type: ignore[assignment]
            parsed: object = value
            if name in ("labels", "credits", "project.labels", "system_labels"):
                parsed = json.loads(value) if value else []
            elif name in ("cost", "usage.amount", "usage.amount_in_pricing_units"):
                parsed = float(value) if value else None
            node[leaf] = parsed
        records.append(record)
    with target.open("w", encoding="utf-8") as handle:
        if lines:
            handle.writelines(json.dumps(record) + "\n" for record in records)
        else:
            json.dump(records, handle, indent=1)
    return target


# -- exports written here -----------------------------------------------------------------------

CUR_LEGACY = """\
identity/LineItemId,bill/BillingEntity,bill/PayerAccountId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,bill/InvoiceId,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/Operation,lineItem/ResourceId,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedRate,lineItem/UnblendedCost,lineItem/LineItemDescription,product/ProductName,product/region,product/location,product/sku,pricing/publicOnDemandCost,pricing/publicOnDemandRate,pricing/term,pricing/unit,reservation/ReservationARN,reservation/EffectiveCost,resourceTags/user:team,resourceTags/user:env
a1,AWS,111122223333,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,INV-1,444455556666,Usage,2024-05-03T10:00:00Z,2024-05-03T11:00:00Z,AmazonEC2,BoxUsage:m5.large,RunInstances,i-0abc,1,USD,0.096,0.096,$0.096 per On Demand Linux m5.large Instance Hour,Amazon Elastic Compute Cloud,us-east-1,US East (N. Virginia),SKU1,0.096,0.096,OnDemand,Hrs,,,web,prod
a2,AWS,111122223333,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,INV-1,444455556666,DiscountedUsage,2024-05-03T10:00:00Z,2024-05-03T11:00:00Z,AmazonEC2,BoxUsage:c5.xlarge,RunInstances,i-0def,1,USD,0,0,c5.xlarge reserved instance applied,Amazon Elastic Compute Cloud,us-east-1,US East (N. Virginia),SKU2,0.17,0.17,Reserved,Hrs,arn:aws:ec2:us-east-1:111122223333:reserved-instances/r-1,0.11,,
a3,AWS,111122223333,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,INV-1,444455556666,Usage,2024-05-03T00:00:00Z,2024-05-04T00:00:00Z,AmazonS3,TimedStorage-ByteHrs,StandardStorage,bucket-a,12.5,USD,0.023,0.2875,$0.023 per GB-Month of storage used,Amazon Simple Storage Service,us-east-1,US East (N. Virginia),SKU3,0.2875,0.023,OnDemand,GB-Mo,,,data,
a4,AWS,111122223333,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,INV-1,444455556666,Tax,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,AmazonEC2,,,,,USD,,0.05,Tax for product code AmazonEC2,Amazon Elastic Compute Cloud,,,,,,,,,,,
a5,AWS,111122223333,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,INV-1,444455556666,Credit,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,AmazonEC2,,,,,USD,,-0.02,Promotional credit,Amazon Elastic Compute Cloud,,,,,,,,,,,
"""

AZURE = '''\
BillingAccountId,BillingAccountName,BillingPeriodStartDate,BillingPeriodEndDate,SubscriptionId,SubscriptionName,Date,MeterCategory,MeterSubCategory,MeterName,MeterId,ServiceFamily,ResourceLocation,ResourceId,ResourceName,Quantity,UnitOfMeasure,UnitPrice,PayGPrice,CostInBillingCurrency,BillingCurrencyCode,ChargeType,Frequency,PricingModel,PublisherType,PublisherName,Tags,ProductId
8611537,Contoso,2024-05-01,2024-05-31,sub-1,Production,2024-05-03,Virtual Machines,Dv3 Series,D2 v3,m-1,Compute,EastUS,/subscriptions/sub-1/vm/web1,web1,24,1 Hour,0.096,0.11,2.304,USD,Usage,UsageBased,OnDemand,Azure,Microsoft,"""team"": ""web"",""env"": ""prod""",DZH318Z0BQ4L
8611537,Contoso,2024-05-01,2024-05-31,sub-1,Production,2024-05-03,Storage,Tiered Block Blob,Hot LRS Data Stored,m-2,Storage,EastUS,/subscriptions/sub-1/sa/logs,logs,3.1,1 GB/Month,0.0184,0.0184,0.05704,USD,Usage,UsageBased,OnDemand,Azure,Microsoft,,DZH318Z0BNVX
8611537,Contoso,2024-05-01,2024-05-31,sub-1,Production,2024-05-01,Virtual Machines,Reservation,D2 v3,m-1,Compute,,,,1,1 Hour,700,,700,USD,Purchase,OneTime,Reservation,Azure,Microsoft,,DZH318Z0BQ4L
'''

GCP = """\
billing_account_id,service.id,service.description,sku.id,sku.description,usage_start_time,usage_end_time,project.id,project.name,labels,location.location,location.region,location.zone,cost,currency,usage.amount,usage.unit,usage.amount_in_pricing_units,usage.pricing_unit,credits,invoice.month,cost_type,resource.name,resource.global_name
01A2B3-C4D5E6-F7A8B9,6F81-5844-456A,Compute Engine,CP-1,N1 Predefined Instance Core running in Americas,2024-05-03 10:00:00+00:00,2024-05-03 11:00:00+00:00,proj-a,Project A,"[{""key"": ""team"", ""value"": ""web""}]",us-central1,us-central1,us-central1-a,0.0475,USD,3600,seconds,1,hour,"[{""name"": ""Sustained usage discount"", ""amount"": -0.0095, ""type"": ""SUSTAINED_USAGE_DISCOUNT""}]",202405,regular,vm-1,//compute.googleapis.com/projects/proj-a/zones/us-central1-a/instances/vm-1
01A2B3-C4D5E6-F7A8B9,95FF-2EF5-5EA1,Cloud Storage,ST-1,Standard Storage US Multi-region,2024-05-03 00:00:00 UTC,2024-05-04 00:00:00 UTC,proj-a,Project A,[],us,,,0.0026,USD,1.2e10,byte-seconds,0.1,gibibyte month,[],202405,regular,,
01A2B3-C4D5E6-F7A8B9,,Invoice,,Tax,2024-05-01 00:00:00+00:00,2024-06-01 00:00:00+00:00,,,[],,,,0.01,USD,,,,,[],202405,tax,,
"""

FOCUS_10 = """\
BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ServiceCategory,ServiceName,SkuId,SubAccountId,SubAccountName,Tags,Id
0.5,ACC-1,Acme,USD,2024-06-01 00:00:00,2024-05-01 00:00:00,Usage,NULL,VM hour,Usage-based,2024-05-03 11:00:00,2024-05-03 10:00:00,1,Hours,0.5,0.5,0.4,Oracle,0.6,0.6,Standard,1,Hours,Oracle,Oracle,us-ashburn-1,US East (Ashburn),ocid1.instance.1,Compute,Compute,SKU-9,CMP-1,Compartment 1,"{""team"": ""web""}",1
-0.1,ACC-1,Acme,USD,2024-06-01 00:00:00,2024-05-01 00:00:00,Credit,NULL,Credit,One-Time,2024-06-01 00:00:00,2024-05-01 00:00:00,NULL,NULL,NULL,NULL,-0.1,Oracle,-0.1,NULL,NULL,NULL,NULL,Oracle,Oracle,NULL,NULL,NULL,Compute,Compute,NULL,CMP-1,Compartment 1,NULL,2
"""


def write_text(target: Path, content: str) -> Path:
    target.write_text(content, encoding="utf-8")
    return target


def opencost_allocation(
    name: str,
    window: tuple[str, str],
    *,
    namespace: str | None = "shop",
    cluster: str | None = "prod-eu",
    **costs: float,
) -> dict[str, Any]:
    """One allocation as OpenCost's ``/allocation/compute`` writes it (a pod's container, unless
    the name says ``__idle__``); ``costs`` override the fields below."""
    properties: dict[str, Any] = {
        "node": "node-a",
        "controller": "cart",
        "controllerKind": "deployment",
        "pod": "cart-7d9f-x2",
        "container": "app",
        "providerID": "i-0abc",
        "labels": {"app": "cart", "team": "payments"},
    }
    if cluster is not None:
        properties["cluster"] = cluster
    if namespace is not None:
        properties["namespace"] = namespace
    values: dict[str, Any] = {
        "cpuCores": 0.5, "cpuCoreRequestAverage": 0.5, "cpuCoreUsageAverage": 0.21,
        "cpuCoreHours": 12.0, "cpuCost": 0.3, "cpuCostAdjustment": -0.01, "cpuEfficiency": 0.42,
        "gpuCount": 0, "gpuHours": 0, "gpuCost": 0, "gpuCostAdjustment": 0,
        "networkTransferBytes": 3 * 2**30, "networkReceiveBytes": 2**29, "networkCost": 0.06,
        "networkCrossZoneCost": 0.01, "networkCrossRegionCost": 0, "networkInternetCost": 0.05,
        "networkCostAdjustment": 0, "loadBalancerCost": 0.12, "loadBalancerCostAdjustment": 0,
        "pvBytes": 10 * 2**30, "pvByteHours": 240 * 2**30, "pvCost": 0.08,
        "pvs": {"prod-eu/pvc-1": {"byteHours": 240 * 2**30, "cost": 0.08}},
        "pvCostAdjustment": 0, "ramBytes": 2**30, "ramByteRequestAverage": 2**30,
        "ramByteUsageAverage": 6 * 2**28, "ramByteHours": 24 * 2**30, "ramCost": 0.1,
        "ramCostAdjustment": 0.002, "ramEfficiency": 0.38, "sharedCost": 0.05,
        "externalCost": 0.0, "totalEfficiency": 0.4, "rawAllocationOnly": None,
    }  # fmt: skip
    values.update(costs)
    components = ("cpuCost", "cpuCostAdjustment", "gpuCost", "gpuCostAdjustment", "ramCost",
                  "ramCostAdjustment", "pvCost", "pvCostAdjustment", "networkCost",
                  "networkCostAdjustment", "loadBalancerCost", "loadBalancerCostAdjustment",
                  "sharedCost", "externalCost")  # fmt: skip
    values.setdefault("totalCost", sum(values[field] for field in components))
    start, end = window
    return {
        "name": name,
        "properties": properties,
        "window": {"start": start, "end": end},
        "start": start,
        "end": end,
        "minutes": 1440.0,
        **values,
    }


def opencost_response(days: int = 2) -> dict[str, Any]:
    """An allocation response with one set per day (``step=1d``): a workload, the idle cost,
    and an unmounted volume's allocation that only has storage costs."""
    sets = []
    for day in range(1, days + 1):
        window = (f"2024-05-{day:02d}T00:00:00Z", f"2024-05-{day + 1:02d}T00:00:00Z")
        workload = "prod-eu/node-a/shop/cart-7d9f-x2/app"
        sets.append(
            {
                workload: opencost_allocation(workload, window),
                "__idle__": opencost_allocation(
                    "__idle__", window, namespace=None, cpuCost=1.5, ramCost=0.75,
                    loadBalancerCost=0, sharedCost=0, pvCost=0, pvByteHours=0, networkCost=0,
                    networkTransferBytes=0,
                ),
                "__unmounted__/pvc-9": opencost_allocation(
                    "__unmounted__/pvc-9", window, namespace="__unmounted__", cpuCost=0,
                    cpuCostAdjustment=0, cpuCoreHours=0, ramCost=0, ramCostAdjustment=0,
                    ramByteHours=0, networkCost=0, networkTransferBytes=0, loadBalancerCost=0,
                    sharedCost=0, pvCost=0.02,
                ),
            }
        )  # fmt: skip
    return {"code": 200, "status": "success", "data": sets}


def write_json(target: Path, document: Any) -> Path:
    target.write_text(json.dumps(document, indent=1))
    return target
