"""OpenCost and Kubecost allocation API responses (``/allocation``, ``/allocation/compute``,
``/model/allocation``): Kubernetes workload costs as FOCUS rows.

A response is one JSON document, ``{"code": 200, "data": [{"<name>": {allocation}, ...}, ...]}``
(one object of allocations per ``step`` window), which a long window over a big cluster makes
far larger than memory should hold. It is therefore streamed allocation by allocation (ijson's
C parser), and each allocation becomes one record per cost component it has (CPU, GPU, RAM,
persistent volumes, network, load balancers, shared and external costs, each with its
adjustment), so every FOCUS row is one kind of charge with its own quantity and unit. Should
the components not add up to the allocation's ``totalCost``, a ``residual`` record carries the
difference, so the FOCUS costs of an allocation always sum to its total. The mapping table is in
``docs/focus.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import ijson

from datoferum.services.focus import values as v
from datoferum.services.focus.common import Row, key_value, tags_from_value

#: (key, label, cost fields, quantity field, divisor, unit) of each cost component.
_COMPONENTS: tuple[tuple[str, str, tuple[str, ...], str | None, float, str | None], ...] = (
    ("cpu", "CPU", ("cpuCost", "cpuCostAdjustment"), "cpuCoreHours", 1.0, "Core-Hours"),
    ("gpu", "GPU", ("gpuCost", "gpuCostAdjustment"), "gpuHours", 1.0, "GPU-Hours"),
    ("ram", "RAM", ("ramCost", "ramCostAdjustment"), "ramByteHours", 2.0**30, "GiB-Hours"),
    ("pv", "Persistent volumes", ("pvCost", "pvCostAdjustment"), "pvByteHours", 2.0**30,
     "GiB-Hours"),
    ("network", "Network", ("networkCost", "networkCostAdjustment"), "networkTransferBytes",
     2.0**30, "GiB"),
    ("load-balancer", "Load balancers", ("loadBalancerCost", "loadBalancerCostAdjustment"),
     None, 1.0, None),
    ("shared", "Shared", ("sharedCost",), None, 1.0, None),
    ("external", "External", ("externalCost",), None, 1.0, None),
)  # fmt: skip
_LABELS = {key: label for key, label, *_ in _COMPONENTS} | {"residual": "Unattributed"}
#: A difference from ``totalCost`` below this is rounding, not a missing component.
_TOLERANCE = 1e-9

_PROPERTIES = ("cluster", "node", "namespace", "controllerKind", "controller", "pod",
               "container", "providerID")  # fmt: skip
#: Allocation fields kept as they are (those the mapping does not use become ``x_`` columns).
_SCALARS = ("name", "start", "end", "minutes", "cpuCoreRequestAverage", "cpuCoreUsageAverage",
            "cpuEfficiency", "ramByteRequestAverage", "ramByteUsageAverage", "ramEfficiency",
            "totalEfficiency", "totalCost")  # fmt: skip
_COMPONENT_FIELDS = ("component", "componentCost", "componentQuantity", "componentUnit")

#: The columns of every record this module yields, in order: the export's header.
COLUMNS = [
    *_SCALARS[:3],
    *(f"properties.{name}" for name in _PROPERTIES),
    "properties.labels",
    "window.start",
    "window.end",
    *_SCALARS[3:],
    *_COMPONENT_FIELDS,
]

_ENVELOPE = re.compile(rb'\A\s*\{.*?"data"\s*:\s*([\[{])', re.S)
_CODE = re.compile(rb'\A\s*\{\s*"code"\s*:\s*(\d+)')
_MESSAGE = re.compile(rb'"message"\s*:\s*"((?:[^"\\]|\\.){0,200})"')


def recognises(head: bytes) -> bool:
    """Whether a JSON file's first bytes are an allocation response."""
    found = _ENVELOPE.match(head)
    return (
        found is not None
        and b'"totalCost"' in head
        and b'"properties"' in head
        and (b'"window"' in head or b'"start"' in head)
    )


def refusal(head: bytes) -> str | None:
    """Why a JSON file that opens as an API answer (``{"code": ...``) is an error answer
    (``code`` other than 200) rather than allocations, else ``None``."""
    code = _CODE.search(head)
    if code is None or code.group(1) == b"200":
        return None
    message = _MESSAGE.search(head)
    said = message.group(1).decode("utf-8", "replace") if message else "no message"
    return f"the response is an error (code {code.group(1).decode()}: {said}), not allocations"


def records(raw: Any, head: bytes) -> Iterator[dict[str, Any]]:
    """The component records of every allocation in the response read from ``raw``; ``head``
    (its first bytes) says whether ``data`` is a list of allocation sets or one set."""
    found = _ENVELOPE.match(head)
    prefix = "data.item" if found is not None and found.group(1) == b"[" else "data"
    for key, allocation in ijson.kvitems(raw, prefix, use_float=True):
        if not isinstance(allocation, dict):
            raise ValueError(f"allocation {key!r} is not a JSON object")
        yield from components(str(key), allocation)


def components(key: str, allocation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One record per non-empty cost component of ``allocation``, then the residual if any."""
    properties = allocation.get("properties") or {}
    window = allocation.get("window") or {}
    if not isinstance(properties, dict) or not isinstance(window, dict):
        raise ValueError(f"allocation {key!r}: properties and window must be JSON objects")
    common: dict[str, Any] = {name: allocation.get(name) for name in _SCALARS}
    common["name"] = allocation.get("name") or key
    common.update({f"properties.{name}": properties.get(name) for name in _PROPERTIES})
    common["properties.labels"] = properties.get("labels")
    common["window.start"], common["window.end"] = window.get("start"), window.get("end")
    total = 0.0
    for component, _, cost_fields, quantity_field, divisor, unit in _COMPONENTS:
        cost = sum(v.number(allocation.get(name)) or 0.0 for name in cost_fields)
        raw_quantity = v.number(allocation.get(quantity_field)) if quantity_field else None
        quantity = raw_quantity / divisor if raw_quantity else None
        total += cost
        if cost or quantity:
            yield common | {
                "component": component, "componentCost": cost, "componentQuantity": quantity,
                "componentUnit": unit if quantity else None,
            }  # fmt: skip
    stated = v.number(allocation.get("totalCost"))
    if stated is not None and abs(stated - total) > _TOLERANCE * max(1.0, abs(stated)):
        yield {**common, "component": "residual", "componentCost": stated - total,
               "componentQuantity": None, "componentUnit": None}  # fmt: skip


def _tags(row: Row) -> dict[str, Any] | None:
    labels = row.get("properties.labels")
    tags = tags_from_value(labels) if labels else {}
    for name in ("cluster", "namespace", "controllerKind", "controller", "pod", "container"):
        value = v.text(row.get(f"properties.{name}"))
        if value is not None:
            tags[f"kubernetes.{name}"] = value
    return key_value(tags)


class OpenCostConnector:
    """Allocation records (see ``components``) → FOCUS rows."""

    source = "opencost"

    def consumed(self, header: list[str]) -> set[str]:
        used = {"name", "start", "end", "properties.labels", "window.start", "window.end"}
        used.update(f"properties.{name}" for name in _PROPERTIES if name != "providerID")
        return used | set(_COMPONENT_FIELDS)

    def map_row(self, row: Row) -> dict[str, Any]:
        start = v.instant(row.get("window.start")) or v.instant(row.get("start"))
        end = v.instant(row.get("window.end")) or v.instant(row.get("end"))
        if start is None or end is None:
            raise ValueError("the allocation has no window (window.start/end or start/end)")
        month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        name = v.text(row.get("name")) or ""
        cluster = v.text(row.get("properties.cluster"))
        namespace = v.text(row.get("properties.namespace"))
        component = str(row.get("component"))
        label = _LABELS.get(component, component)
        cost = v.number(row.get("componentCost")) or 0.0
        quantity = v.number(row.get("componentQuantity"))
        unit = v.text(row.get("componentUnit")) if quantity is not None else None
        account = cluster or "multiple-clusters"
        return {
            "BillingAccountId": account,
            "BillingAccountName": account,
            "SubAccountId": f"{account}/{namespace}" if namespace else None,
            "SubAccountName": namespace,
            "BillingCurrency": "USD",
            "InvoiceId": None,
            "InvoiceIssuerName": "OpenCost",
            "ProviderName": "Kubernetes",
            "PublisherName": "OpenCost",
            "BillingPeriodStart": month,
            "BillingPeriodEnd": v.next_month(month),
            "ChargePeriodStart": start,
            "ChargePeriodEnd": end,
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeDescription": f"{label} cost of {name}",
            "ChargeFrequency": "Usage-Based",
            # An allocation is a showback estimate at the prices OpenCost was given; nothing
            # discounts it further, so all four costs are the component's cost.
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": cost,
            "ContractedCost": cost,
            "ListUnitPrice": None,
            "ContractedUnitPrice": None,
            "PricingQuantity": quantity,
            "PricingUnit": unit,
            "ConsumedQuantity": quantity,
            "ConsumedUnit": unit,
            "PricingCategory": "Standard",
            "ServiceName": "Kubernetes",
            "ServiceCategory": "Compute",
            "ServiceSubcategory": "Containers",
            "RegionId": None,
            "RegionName": None,
            "AvailabilityZone": None,
            "ResourceId": name or None,
            "ResourceName": name.rsplit("/", 1)[-1] or None,
            "SkuId": component,
            "SkuPriceId": None,
            "SkuMeter": label,
            "CommitmentDiscountId": None,
            "CommitmentDiscountName": None,
            "CommitmentDiscountType": None,
            "CommitmentDiscountCategory": None,
            "Tags": _tags(row),
        }
