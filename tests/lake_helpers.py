"""Small FOCUS exports written by the lake tests, and waiting for the lake's jobs on a server."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import httpx

FOCUS_HEADER = [
    "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "InvoiceIssuerName", "ProviderName", "PublisherName", "ServiceCategory",
    "ServiceName", "ResourceId", "Tags",
]  # fmt: skip


def charge(
    account: str,
    day: str,
    service: str,
    billed: str,
    *,
    effective: str | None = None,
    billing_month: str | None = None,
    correction: bool = False,
    currency: str = "USD",
    provider: str = "Acme Cloud",
    resource: str = "",
    tags: str = "",
    category: str = "Compute",
) -> list[str]:
    """One FOCUS row: a day's charge (``day`` is ``YYYY-MM-DD``), billed in the month of ``day``
    unless ``billing_month`` (``YYYY-MM``) says otherwise."""
    month = billing_month or day[:7]
    year, number = (int(part) for part in month.split("-"))
    following = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    end_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return [
        account, currency, f"{month}-01T00:00:00Z", f"{following}-01T00:00:00Z",
        f"{day}T00:00:00Z", f"{end_day}T00:00:00Z", "Usage",
        "Correction" if correction else "", f"{service} use", "Usage-Based", billed,
        effective if effective is not None else billed, billed, billed, provider, provider,
        provider, category, service, resource, tags,
    ]  # fmt: skip


def focus_csv(rows: Sequence[Sequence[str]], header: Sequence[str] = FOCUS_HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def upload(client: httpx.Client, collection: str, path: str, body: bytes) -> dict[str, Any]:
    answer = client.put(f"/api/v1/data/{collection}/{path}", content=body)
    assert answer.status_code == 201, answer.text
    record: dict[str, Any] = answer.json()
    return record


def events(client: httpx.Client, file_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/files/{file_id}/events")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def wait_for_event(
    client: httpx.Client, file_id: str, types: Sequence[str], *, count: int = 1,
    timeout: float = 60.0,
) -> dict[str, Any]:  # fmt: skip
    """The ``count``-th event of one of ``types`` on the file's timeline, once it is there."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in events(client, file_id) if e["type"] in types]
        if len(found) >= count:
            return found[count - 1]
        assert time.monotonic() < deadline, f"no {types} event for {file_id} in {timeout} s"
        time.sleep(0.1)


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
        time.sleep(0.1)


def normalize(client: httpx.Client, file_id: str, **fields: Any) -> dict[str, Any]:
    """Ask for a normalization and wait for its job to end."""
    answer = client.post("/api/v1/lake/normalize", json={"file_id": file_id, **fields})
    assert answer.status_code == 202, answer.text
    return wait_for_job(client, answer.json()["id"])


def partitions(client: httpx.Client, file_id: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/lake/partitions", params={"file_id": file_id})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def cost(client: httpx.Client, path: str = "/api/v1/lake/cost", **params: Any) -> list[Any]:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items
