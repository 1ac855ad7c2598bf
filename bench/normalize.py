"""Normalization throughput: a large CUR-style export converted to FOCUS 1.2 Parquet, against a
plain pandas read of the same file.

The file is a legacy AWS Cost and Usage Report written for the benchmark: hourly EC2 usage,
reserved-instance usage, daily S3 storage, and a tax and a credit line now and then, for a few
hundred resources with tags, so every branch of the connector and the FOCUS rules runs. The
figure is rows per second of the whole conversion (read, map, check, write). The references are
the absolute target (a million rows a second) and pandas reading the same CSV in chunks of a
million rows (bounded memory, like the converter), which is roughly what "just loading the file"
costs in Python.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from datoferum.services.focus import convert

from bench.report import Comparison, Series, interleave

#: The target: a million rows normalized a second.
TARGET_RATE = 1_000_000
PANDAS_CHUNK = 1_000_000

HEADER = [
    "identity/LineItemId", "bill/BillingEntity", "bill/PayerAccountId",
    "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "bill/InvoiceId",
    "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation",
    "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode",
    "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/LineItemDescription",
    "product/ProductName", "product/region", "product/location", "product/sku",
    "pricing/publicOnDemandCost", "pricing/publicOnDemandRate", "pricing/term", "pricing/unit",
    "reservation/ReservationARN", "reservation/EffectiveCost", "resourceTags/user:team",
    "resourceTags/user:env",
]  # fmt: skip

_PERIOD = ("2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z")
_EC2 = ("AmazonEC2", "Amazon Elastic Compute Cloud")
_REGION = ("us-east-1", "US East (N. Virginia)")
_TEAMS = ("web", "data", "ml", "platform", "")
_ENVS = ("prod", "staging", "dev", "")


def _rows(count: int, rng: random.Random) -> Iterator[list[str]]:
    start = datetime(2024, 5, 1)
    for n in range(count):
        hour = start + timedelta(hours=n // 400 % 720)
        begin, end = f"{hour:%Y-%m-%dT%H:00:00Z}", f"{hour + timedelta(hours=1):%Y-%m-%dT%H:00:00Z}"
        team, env = rng.choice(_TEAMS), rng.choice(_ENVS)
        kind = n % 100
        common = [f"li-{n}", "AWS", "111122223333", *_PERIOD, "INV-1", "444455556666"]
        if kind < 80:
            rate = rng.choice((0.096, 0.192, 0.384))
            yield [*common, "Usage", begin, end, *_EC2[:1], "BoxUsage:m5.large", "RunInstances",
                   f"i-{n % 400:05x}", "1", "USD", str(rate), str(rate),
                   "On Demand Linux Instance Hour", _EC2[1], *_REGION, "SKU1", str(rate),
                   str(rate), "OnDemand", "Hrs", "", "", team, env]  # fmt: skip
        elif kind < 92:
            yield [*common, "DiscountedUsage", begin, end, _EC2[0], "BoxUsage:c5.xlarge",
                   "RunInstances", f"i-r{n % 50:04x}", "1", "USD", "0", "0",
                   "reserved instance applied", _EC2[1], *_REGION, "SKU2", "0.17", "0.17",
                   "Reserved", "Hrs", "arn:aws:ec2:us-east-1:111122223333:reserved-instances/r-1",
                   "0.11", team, env]  # fmt: skip
        elif kind < 98:
            gb = round(rng.uniform(1, 500), 3)
            yield [*common, "Usage", begin, end, "AmazonS3", "TimedStorage-ByteHrs",
                   "StandardStorage", f"bucket-{n % 30}", str(gb), "USD", "0.023",
                   str(round(gb * 0.023, 6)), "per GB-Month of storage used",
                   "Amazon Simple Storage Service", *_REGION, "SKU3", str(round(gb * 0.023, 6)),
                   "0.023", "OnDemand", "GB-Mo", "", "", team, ""]  # fmt: skip
        elif kind == 98:
            yield [*common, "Tax", *_PERIOD, _EC2[0], "", "", "", "", "USD", "", "0.05",
                   "Tax for product code AmazonEC2", _EC2[1], "", "", "", "", "", "", "", "", "",
                   "", ""]  # fmt: skip
        else:
            yield [*common, "Credit", *_PERIOD, _EC2[0], "", "", "", "", "USD", "", "-0.02",
                   "Promotional credit", _EC2[1], "", "", "", "", "", "", "", "", "", "",
                   ""]  # fmt: skip


def write_cur(path: Path, rows: int) -> Path:
    rng = random.Random(7)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(_rows(rows, rng))
    return path


def throughput(workdir: Path, runs: int, rows: int) -> list[Comparison]:
    import pandas  # only the benchmark needs it

    print(f"   writing a CUR of {rows:,} rows ...", flush=True)
    source = write_cur(workdir / "cur.csv", rows)
    print(f"   {source.stat().st_size / 2**20:,.0f} MiB", flush=True)
    output = workdir / "focus.parquet"

    def converter(run: int) -> float:
        started = time.perf_counter()
        report = convert([source], output)
        elapsed = time.perf_counter() - started
        assert report.rows == rows, report.rows
        output.unlink()
        return rows / elapsed

    def pandas_read(run: int) -> float:
        started = time.perf_counter()
        count = sum(len(chunk) for chunk in pandas.read_csv(source, chunksize=PANDAS_CHUNK))
        elapsed = time.perf_counter() - started
        assert count == rows, count
        return rows / elapsed

    case = f"Normalization of a {rows:,}-row CUR to FOCUS"
    subject = Series("Datoferum focus convert", "rows/s", work=rows)
    reference = Series("pandas.read_csv in 1 M-row chunks", "rows/s", work=rows)
    interleave(runs, [(subject, converter), (reference, pandas_read)])
    target = Series("target: 1 M rows/s", "rows/s", [float(TARGET_RATE)] * runs, work=rows)
    source.unlink()
    return [Comparison(case, subject, target, 1.0), Comparison(case, subject, reference)]
