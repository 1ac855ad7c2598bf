"""Azure cost exports (Cost Management exports of EA, MCA and pay-as-you-go accounts).

Azure has changed its export headers several times: ``PreTaxCost`` and ``UsageDateTime`` in the
first exports, ``CostInBillingCurrency`` and ``Date`` in "version 2", the same in camelCase in
current exports, ``SubscriptionGuid`` or ``SubscriptionId``, ``InstanceId`` or ``ResourceId``. The
connector compares names without case, spaces or underscores and takes the first alias present
for each field. The mapping table is in ``docs/focus.md``.
"""

from __future__ import annotations

from typing import Any

from datoferum.services.focus import values as v
from datoferum.services.focus.common import Row, key_value, parse_tag_text, subcategory_for

#: field → accepted header names, first match wins (compared by ``squash``).
_ALIASES: dict[str, tuple[str, ...]] = {
    "cost": ("costinbillingcurrency", "pretaxcost", "cost", "costinusd"),
    "date": ("date", "usagedatetime", "usagedate"),
    "quantity": ("quantity", "usagequantity", "consumedquantity"),
    "unit": ("unitofmeasure", "unitofmeasurement"),
    "currency": ("billingcurrencycode", "billingcurrency", "currency", "currencycode"),
    "account_id": ("billingaccountid", "enrollmentnumber", "billingaccount"),
    "account_name": ("billingaccountname",),
    "subscription_id": ("subscriptionid", "subscriptionguid"),
    "subscription_name": ("subscriptionname",),
    "period_start": ("billingperiodstartdate", "billingperiodstart"),
    "period_end": ("billingperiodenddate", "billingperiodend"),
    "charge_type": ("chargetype",),
    "frequency": ("frequency",),
    "meter_category": ("metercategory",),
    "meter_subcategory": ("metersubcategory",),
    "meter_name": ("metername",),
    "meter_id": ("meterid",),
    "service_family": ("servicefamily",),
    "product": ("productname", "product"),
    "resource_id": ("resourceid", "instanceid"),
    "resource_name": ("resourcename",),
    "location": ("resourcelocation", "location"),
    "zone": ("availabilityzone",),
    "tags": ("tags",),
    "unit_price": ("unitprice", "resourcerate"),
    "payg_price": ("paygprice",),
    "pricing_model": ("pricingmodel",),
    "reservation_id": ("reservationid", "benefitid"),
    "reservation_name": ("reservationname", "benefitname"),
    "publisher": ("publishername",),
    "publisher_type": ("publishertype",),
    "part_number": ("partnumber",),
    "product_id": ("productid",),
    "invoice_id": ("invoiceid",),
    "plan": ("planname",),
}

_CHARGE_TYPES = {
    "Usage": "Usage",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "Purchase": "Purchase",
    "Tax": "Tax",
    "Refund": "Credit",
    "Credit": "Credit",
    "RoundingAdjustment": "Adjustment",
}

_FREQUENCIES = {"OneTime": "One-Time", "Recurring": "Recurring", "UsageBased": "Usage-Based"}

_PRICING = {
    "OnDemand": "Standard",
    "Reservation": "Committed",
    "SavingsPlan": "Committed",
    "Spot": "Dynamic",
}

#: MeterCategory (or ServiceFamily) → (ServiceCategory, ServiceSubcategory).
_SERVICES: dict[str, tuple[str, str]] = {
    "Virtual Machines": ("Compute", "Virtual Machines"),
    "Azure App Service": ("Web", "Application Platforms"),
    "Functions": ("Compute", "Serverless Compute"),
    "Container Instances": ("Compute", "Containers"),
    "Azure Kubernetes Service": ("Compute", "Containers"),
    "Container Registry": ("Compute", "Containers"),
    "Compute": ("Compute", "Other (Compute)"),
    "Containers": ("Compute", "Containers"),
    "Storage": ("Storage", "Storage Platforms"),
    "Backup": ("Storage", "Backup Storage"),
    "SQL Database": ("Databases", "Relational Databases"),
    "Azure Database for PostgreSQL": ("Databases", "Relational Databases"),
    "Azure Database for MySQL": ("Databases", "Relational Databases"),
    "Azure Cosmos DB": ("Databases", "NoSQL Databases"),
    "Redis Cache": ("Databases", "Caching"),
    "Databases": ("Databases", "Other (Databases)"),
    "Bandwidth": ("Networking", "Network Connectivity"),
    "Virtual Network": ("Networking", "Network Infrastructure"),
    "Load Balancer": ("Networking", "Application Networking"),
    "Content Delivery Network": ("Networking", "Content Delivery"),
    "DNS": ("Networking", "Network Routing"),
    "Networking": ("Networking", "Other (Networking)"),
    "Azure Monitor": ("Management and Governance", "Observability"),
    "Log Analytics": ("Management and Governance", "Observability"),
    "Key Vault": ("Security", "Secret Management"),
    "Microsoft Defender for Cloud": ("Security", "Security Posture Management"),
    "Security": ("Security", "Other (Security)"),
    "Service Bus": ("Integration", "Messaging"),
    "Event Hubs": ("Analytics", "Streaming Analytics"),
    "Logic Apps": ("Integration", "Workflow Orchestration"),
    "API Management": ("Integration", "API Management"),
    "Azure Synapse Analytics": ("Analytics", "Analytics Platforms"),
    "Azure Data Factory v2": ("Analytics", "Data Processing"),
    "Cognitive Services": ("AI and Machine Learning", "AI Platforms"),
    "Azure OpenAI": ("AI and Machine Learning", "Generative AI"),
    "Machine Learning": ("AI and Machine Learning", "Machine Learning"),
    "Azure DevOps": ("Developer Tools", "Developer Platforms"),
    "IoT Hub": ("Internet of Things", "IoT Platforms"),
}


def squash(name: str) -> str:
    """A header name compared without case, spaces or underscores."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def recognises(header: list[str]) -> bool:
    """Whether ``header`` looks like an Azure cost export: a cost, a date and a meter."""
    names = {squash(name) for name in header}
    return (
        bool(names & set(_ALIASES["cost"]))
        and bool(names & set(_ALIASES["date"]))
        and bool(names & {"metercategory", "meterid", "metername"})
    )


def _times(price: float | None, quantity: float | None, otherwise: float) -> float:
    """Price × quantity when both are known, else ``otherwise``."""
    if price is None or quantity is None:
        return otherwise
    return price * quantity


class AzureConnector:
    """Every Azure cost export header variant, through one alias table."""

    source = "azure"

    def __init__(self, header: list[str]) -> None:
        by_squash: dict[str, str] = {}
        for name in header:
            by_squash.setdefault(squash(name), name)
        self._columns: dict[str, str] = {}
        for field, aliases in _ALIASES.items():
            for alias in aliases:
                if alias in by_squash:
                    self._columns[field] = by_squash[alias]
                    break

    def consumed(self, header: list[str]) -> set[str]:
        return set(self._columns.values())

    def map_row(self, row: Row) -> dict[str, Any]:
        def get(field: str) -> Any:
            column = self._columns.get(field)
            return None if column is None else row.get(column)

        def name(field: str) -> str | None:
            value = v.text(get(field))
            return None if value in (None, "Unassigned") else value

        charge_type = v.text(get("charge_type")) or "Usage"
        category = _CHARGE_TYPES.get(charge_type, "Adjustment")
        frequency = _FREQUENCIES.get(v.text(get("frequency")) or "", "Usage-Based")
        if category == "Purchase" and frequency == "Usage-Based":
            frequency = "One-Time"
        billed = v.number(get("cost")) or 0.0
        quantity = v.number(get("quantity"))
        unit = name("unit")
        unit_price = v.number(get("unit_price"))
        payg = v.number(get("payg_price"))
        list_price = payg if payg else unit_price
        is_tax = category == "Tax"
        if is_tax:
            quantity = unit_price = list_price = None
        priced = quantity is not None
        day = v.instant(get("date"))
        period_end = v.instant(get("period_end"))
        meter_category = name("meter_category")
        family = name("service_family")
        known = _SERVICES.get(meter_category or "") or _SERVICES.get(family or "")
        service_category, hint = known or ("Other", "")
        location = name("location")
        reservation = name("reservation_id")
        pricing_model = v.text(get("pricing_model")) or ""
        savings_plan = pricing_model == "SavingsPlan"
        reservation_like = savings_plan or pricing_model == "Reservation"
        discount = ("Savings Plan", "Spend") if savings_plan else ("Reservation", "Usage")
        publisher = name("publisher")
        tags_text = v.text(get("tags"))
        return {
            "BillingAccountId": v.text(get("account_id")) or v.text(get("subscription_id")),
            "BillingAccountName": v.text(get("account_name")),
            "SubAccountId": v.text(get("subscription_id")),
            "SubAccountName": v.text(get("subscription_name")) if get("subscription_id") else None,
            "BillingCurrency": v.text(get("currency")),
            "InvoiceId": v.text(get("invoice_id")),
            "InvoiceIssuerName": "Microsoft",
            "ProviderName": "Microsoft",
            "PublisherName": publisher if publisher not in (None, "Azure") else "Microsoft",
            "BillingPeriodStart": v.instant(get("period_start")),
            # Azure writes the last day of the period; FOCUS ends periods exclusively.
            "BillingPeriodEnd": v.next_day(period_end) if period_end else None,
            "ChargePeriodStart": day,
            "ChargePeriodEnd": v.next_day(day) if day else None,
            "ChargeCategory": category,
            "ChargeClass": None,
            "ChargeDescription": name("meter_name")
            or name("product")
            or name("plan")
            or charge_type,
            "ChargeFrequency": frequency,
            "BilledCost": billed,
            # A reservation or savings plan bought is spread over the usage it covers.
            "EffectiveCost": 0.0 if category == "Purchase" and reservation_like else billed,
            "ListCost": _times(list_price, quantity, billed),
            "ContractedCost": _times(unit_price, quantity, billed),
            "ListUnitPrice": list_price if priced else None,
            "ContractedUnitPrice": unit_price if priced else None,
            "PricingQuantity": quantity,
            "PricingUnit": unit if priced else None,
            "ConsumedQuantity": quantity if category == "Usage" else None,
            "ConsumedUnit": unit if category == "Usage" and priced else None,
            "PricingCategory": None if is_tax else _PRICING.get(pricing_model, "Standard"),
            "ServiceName": meter_category or family or "Other",
            "ServiceCategory": service_category,
            "ServiceSubcategory": subcategory_for(service_category, hint),
            "RegionId": location.lower().replace(" ", "") if location else None,
            "RegionName": location,
            "AvailabilityZone": name("zone"),
            "ResourceId": v.text(get("resource_id")),
            "ResourceName": v.text(get("resource_name")),
            "SkuId": v.text(get("product_id")) or v.text(get("part_number")),
            "SkuPriceId": None,
            "SkuMeter": name("meter_name"),
            "CommitmentDiscountId": reservation,
            "CommitmentDiscountName": name("reservation_name") if reservation else None,
            "CommitmentDiscountType": discount[0] if reservation else None,
            "CommitmentDiscountCategory": discount[1] if reservation else None,
            "Tags": key_value(parse_tag_text(tags_text)) if tags_text else None,
        }
