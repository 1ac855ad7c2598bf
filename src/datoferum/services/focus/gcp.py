"""Google Cloud billing export: the CSV download (dotted names such as ``service.description``)
and the BigQuery export as JSON (nested records, flattened to the same dotted names on reading).

In the CSV download ``labels`` and ``credits`` are JSON text; in BigQuery JSON they are lists.
Both are read. The mapping table is in ``docs/focus.md``.
"""

from __future__ import annotations

import json
from typing import Any

from datoferum.services.focus import values as v
from datoferum.services.focus.common import Row, key_value, subcategory_for, tags_from_value

_COST_TYPES = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
}

#: service.description → (ServiceCategory, ServiceSubcategory).
_SERVICES: dict[str, tuple[str, str]] = {
    "Compute Engine": ("Compute", "Virtual Machines"),
    "Kubernetes Engine": ("Compute", "Containers"),
    "Cloud Run": ("Compute", "Serverless Compute"),
    "Cloud Functions": ("Compute", "Serverless Compute"),
    "App Engine": ("Web", "Application Platforms"),
    "Cloud Storage": ("Storage", "Object Storage"),
    "Filestore": ("Storage", "File Storage"),
    "Cloud SQL": ("Databases", "Relational Databases"),
    "Cloud Spanner": ("Databases", "Relational Databases"),
    "Cloud Bigtable": ("Databases", "NoSQL Databases"),
    "Cloud Firestore": ("Databases", "NoSQL Databases"),
    "Cloud Memorystore for Redis": ("Databases", "Caching"),
    "BigQuery": ("Databases", "Data Warehouses"),
    "Cloud Dataflow": ("Analytics", "Data Processing"),
    "Cloud Dataproc": ("Analytics", "Data Processing"),
    "Cloud Pub/Sub": ("Integration", "Messaging"),
    "Networking": ("Networking", "Network Infrastructure"),
    "Cloud DNS": ("Networking", "Network Routing"),
    "Cloud CDN": ("Networking", "Content Delivery"),
    "Cloud Load Balancing": ("Networking", "Application Networking"),
    "Cloud Logging": ("Management and Governance", "Observability"),
    "Cloud Monitoring": ("Management and Governance", "Observability"),
    "Stackdriver Logging": ("Management and Governance", "Observability"),
    "Stackdriver Monitoring": ("Management and Governance", "Observability"),
    "Support": ("Management and Governance", "Support"),
    "Secret Manager": ("Security", "Secret Management"),
    "Cloud Key Management Service (KMS)": ("Security", "Secret Management"),
    "Vertex AI": ("AI and Machine Learning", "AI Platforms"),
    "Cloud Build": ("Developer Tools", "Continuous Integration and Deployment"),
    "Artifact Registry": ("Developer Tools", "Developer Platforms"),
}

_FIELDS = [
    "billing_account_id",
    "service.description",
    "sku.id",
    "sku.description",
    "usage_start_time",
    "usage_end_time",
    "project.id",
    "project.name",
    "labels",
    "location.location",
    "location.region",
    "location.zone",
    "cost",
    "currency",
    "usage.amount",
    "usage.unit",
    "usage.amount_in_pricing_units",
    "usage.pricing_unit",
    "credits",
    "invoice.month",
    "cost_type",
    "resource.name",
    "resource.global_name",
    "cost_at_list",
    "price.effective_price",
]


def recognises(header: list[str]) -> bool:
    """Whether ``header`` is a GCP billing export (CSV names or flattened BigQuery JSON)."""
    names = set(header)
    return {"billing_account_id", "usage_start_time", "cost"} <= names and any(
        name.startswith("service.") for name in names
    )


def _listed(value: Any, what: str) -> list[Any]:
    """A repeated field: a list already (JSON), JSON text (CSV), or nothing."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"{what} is not JSON: {value[:40]!r}") from None
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return value


class GcpConnector:
    """The GCP standard billing export, from CSV or BigQuery JSON."""

    def __init__(self, header: list[str], shape: str) -> None:
        self.source = "gcp-json" if shape == "json" else "gcp-csv"
        self._present = set(header) & set(_FIELDS)

    def consumed(self, header: list[str]) -> set[str]:
        return set(self._present)

    def map_row(self, row: Row) -> dict[str, Any]:
        cost = v.number(row.get("cost")) or 0.0
        credits = 0.0
        for credit in _listed(row.get("credits"), "credits"):
            if not isinstance(credit, dict):
                raise ValueError("credits items must be objects")
            credits += v.number(credit.get("amount")) or 0.0
        category = _COST_TYPES.get(v.text(row.get("cost_type")) or "regular", "Adjustment")
        is_tax = category == "Tax"
        month = v.month_start(row.get("invoice.month"))
        quantity = None if is_tax else v.number(row.get("usage.amount_in_pricing_units"))
        consumed = v.number(row.get("usage.amount")) if category == "Usage" else None
        list_cost = v.number(row.get("cost_at_list"))
        service = v.text(row.get("service.description"))
        service_category, hint = _SERVICES.get(service or "", ("Other", ""))
        region = v.text(row.get("location.region")) or v.text(row.get("location.location"))
        project = v.text(row.get("project.id"))
        labels = _listed(row.get("labels"), "labels")
        return {
            "BillingAccountId": v.text(row.get("billing_account_id")),
            "BillingAccountName": None,
            "SubAccountId": project,
            "SubAccountName": v.text(row.get("project.name")) if project else None,
            "BillingCurrency": v.text(row.get("currency")),
            "InvoiceId": None,
            "InvoiceIssuerName": "Google Cloud",
            "ProviderName": "Google Cloud",
            "PublisherName": "Google Cloud",
            "BillingPeriodStart": month,
            "BillingPeriodEnd": v.next_month(month) if month else None,
            "ChargePeriodStart": v.instant(row.get("usage_start_time")),
            "ChargePeriodEnd": v.instant(row.get("usage_end_time")),
            "ChargeCategory": category,
            "ChargeClass": None,
            "ChargeDescription": v.text(row.get("sku.description")),
            "ChargeFrequency": "Usage-Based" if category == "Usage" else "One-Time",
            # Credits (sustained-use, committed-use, promotions) are reported beside the cost;
            # what is invoiced and what the usage effectively cost both include them.
            "BilledCost": cost + credits,
            "EffectiveCost": cost + credits,
            "ListCost": cost if list_cost is None else list_cost,
            "ContractedCost": cost,
            "ListUnitPrice": None,
            "ContractedUnitPrice": None,
            "PricingQuantity": quantity,
            "PricingUnit": v.text(row.get("usage.pricing_unit")) if quantity is not None else None,
            "ConsumedQuantity": consumed,
            "ConsumedUnit": v.text(row.get("usage.unit")) if consumed is not None else None,
            "PricingCategory": None if is_tax else "Standard",
            "ServiceName": service or "Other",
            "ServiceCategory": service_category,
            "ServiceSubcategory": subcategory_for(service_category, hint),
            "RegionId": region,
            "RegionName": region,
            "AvailabilityZone": v.text(row.get("location.zone")),
            "ResourceId": v.text(row.get("resource.global_name")),
            "ResourceName": v.text(row.get("resource.name")),
            "SkuId": v.text(row.get("sku.id")),
            "SkuPriceId": None,
            "SkuMeter": v.text(row.get("sku.description")),
            "CommitmentDiscountId": None,
            "CommitmentDiscountName": None,
            "CommitmentDiscountType": None,
            "CommitmentDiscountCategory": None,
            "Tags": key_value(tags_from_value(labels)),
        }
