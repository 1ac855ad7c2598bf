"""AWS Cost and Usage Report (CUR): legacy ``lineItem/UsageStartDate`` columns and CUR 2.0
``line_item_usage_start_date`` columns.

Both spellings name the same fields, so legacy names are first rewritten to the CUR 2.0 form
(``category/CamelName`` → ``category_snake_name``) and one mapping serves both. The mapping
table is in ``docs/focus.md``.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datoferum.services.focus import values as v
from datoferum.services.focus.columnar import (
    STRING,
    Columns,
    coalesce,
    constant,
    filled,
    instants,
    nulls,
    numbers,
    per_combination,
    per_value,
    texts,
    unless,
    where,
)
from datoferum.services.focus.common import (
    Row,
    key_value,
    key_value_text,
    parse_tag_text,
    subcategory_for,
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

#: lineItem/LineItemType → (ChargeCategory, ChargeFrequency).
_LINE_ITEM_TYPES: dict[str, tuple[str, str]] = {
    "Usage": ("Usage", "Usage-Based"),
    "DiscountedUsage": ("Usage", "Usage-Based"),
    "SavingsPlanCoveredUsage": ("Usage", "Usage-Based"),
    "Fee": ("Purchase", "One-Time"),
    "RIFee": ("Purchase", "Recurring"),
    "SavingsPlanRecurringFee": ("Purchase", "Recurring"),
    "SavingsPlanUpfrontFee": ("Purchase", "One-Time"),
    "Tax": ("Tax", "One-Time"),
    "Credit": ("Credit", "One-Time"),
    "Refund": ("Credit", "One-Time"),
    "SavingsPlanNegation": ("Credit", "Usage-Based"),
    "BundledDiscount": ("Credit", "Usage-Based"),
    "Discount": ("Credit", "Usage-Based"),
    "EdpDiscount": ("Credit", "Usage-Based"),
    "PrivateRateDiscount": ("Credit", "Usage-Based"),
}

#: A line item type not in the table.
_OTHER_TYPE = ("Adjustment", "One-Time")

#: lineItem/ProductCode → (ServiceCategory, ServiceSubcategory).
_SERVICES: dict[str, tuple[str, str]] = {
    "AmazonEC2": ("Compute", "Virtual Machines"),
    "AWSLambda": ("Compute", "Serverless Compute"),
    "AmazonECS": ("Compute", "Containers"),
    "AmazonEKS": ("Compute", "Containers"),
    "AmazonECR": ("Compute", "Containers"),
    "AmazonWorkSpaces": ("Compute", "End User Computing"),
    "AmazonS3": ("Storage", "Object Storage"),
    "AmazonEFS": ("Storage", "File Storage"),
    "AmazonFSx": ("Storage", "File Storage"),
    "AmazonGlacier": ("Storage", "Backup Storage"),
    "AWSBackup": ("Storage", "Backup Storage"),
    "AmazonRDS": ("Databases", "Relational Databases"),
    "AmazonDynamoDB": ("Databases", "NoSQL Databases"),
    "AmazonDocDB": ("Databases", "NoSQL Databases"),
    "AmazonElastiCache": ("Databases", "Caching"),
    "AmazonRedshift": ("Databases", "Data Warehouses"),
    "AmazonTimestream": ("Databases", "Time Series Databases"),
    "AmazonCloudFront": ("Networking", "Content Delivery"),
    "AmazonVPC": ("Networking", "Network Infrastructure"),
    "AWSELB": ("Networking", "Application Networking"),
    "AmazonRoute53": ("Networking", "Network Routing"),
    "AWSDataTransfer": ("Networking", "Network Connectivity"),
    "AWSDirectConnect": ("Networking", "Network Connectivity"),
    "awswaf": ("Networking", "Network Security"),
    "AmazonCloudWatch": ("Management and Governance", "Observability"),
    "AWSCloudTrail": ("Management and Governance", "Compliance"),
    "AWSConfig": ("Management and Governance", "Compliance"),
    "AWSCostExplorer": ("Management and Governance", "Cost Management"),
    "AWSSupportBusiness": ("Management and Governance", "Support"),
    "AWSSupportEnterprise": ("Management and Governance", "Support"),
    "AWSDeveloperSupport": ("Management and Governance", "Support"),
    "AmazonSNS": ("Integration", "Messaging"),
    "AWSQueueService": ("Integration", "Messaging"),
    "AmazonMQ": ("Integration", "Messaging"),
    "AWSStepFunctions": ("Integration", "Workflow Orchestration"),
    "AmazonApiGateway": ("Integration", "API Management"),
    "AmazonKinesis": ("Analytics", "Streaming Analytics"),
    "AmazonAthena": ("Analytics", "Analytics Platforms"),
    "AWSGlue": ("Analytics", "Data Processing"),
    "ElasticMapReduce": ("Analytics", "Data Processing"),
    "AmazonES": ("Analytics", "Search"),
    "AmazonQuickSight": ("Analytics", "Business Intelligence"),
    "AmazonSageMaker": ("AI and Machine Learning", "Machine Learning"),
    "AmazonBedrock": ("AI and Machine Learning", "Generative AI"),
    "AmazonLex": ("AI and Machine Learning", "Bots"),
    "AmazonComprehend": ("AI and Machine Learning", "Natural Language Processing"),
    "awskms": ("Security", "Secret Management"),
    "AWSSecretsManager": ("Security", "Secret Management"),
    "AmazonGuardDuty": ("Security", "Threat Detection and Response"),
    "AWSSecurityHub": ("Security", "Security Posture Management"),
    "AmazonCognito": ("Identity", "Identity and Access Management"),
    "AWSCodeBuild": ("Developer Tools", "Continuous Integration and Deployment"),
    "AWSCodePipeline": ("Developer Tools", "Continuous Integration and Deployment"),
    "AWSCodeCommit": ("Developer Tools", "Source Code Management"),
    "AWSIoT": ("Internet of Things", "IoT Platforms"),
    "AWSDatabaseMigrationSvc": ("Migration", "Data Migration"),
}

_TERMS = {"OnDemand": "Standard", "Reserved": "Committed", "Spot": "Dynamic"}
_COMMITMENT_FEES = ("RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee")

#: CUR 2.0 names this connector reads (legacy names are rewritten to these first).
_FIELDS = [
    "bill_payer_account_id",
    "bill_payer_account_name",
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "bill_invoice_id",
    "bill_billing_entity",
    "bill_invoicing_entity",
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_currency_code",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_line_item_type",
    "line_item_line_item_description",
    "line_item_unblended_cost",
    "line_item_unblended_rate",
    "line_item_net_unblended_cost",
    "line_item_net_unblended_rate",
    "line_item_usage_amount",
    "line_item_product_code",
    "line_item_legal_entity",
    "line_item_availability_zone",
    "line_item_resource_id",
    "line_item_usage_type",
    "pricing_public_on_demand_cost",
    "pricing_public_on_demand_rate",
    "pricing_term",
    "pricing_unit",
    "pricing_rate_code",
    "product_sku",
    "product_product_name",
    "product_region",
    "product_region_code",
    "product_location",
    "reservation_effective_cost",
    "reservation_reservation_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_savings_plan_a_r_n",
    "resource_tags",
]


def cur2_name(name: str) -> str:
    """A legacy CUR column name in its CUR 2.0 spelling (CUR 2.0 names are returned as is):
    ``lineItem/UsageStartDate`` → ``line_item_usage_start_date``, ``reservation/ReservationARN``
    → ``reservation_reservation_a_r_n`` (as AWS spells it)."""
    if "/" not in name:
        return name
    category, _, field = name.partition("/")
    snake = "_".join(_CAMEL.sub("_", part).lower() for part in (category, field))
    return snake[: -len("_arn")] + "_a_r_n" if snake.endswith("_arn") else snake


def is_tag_column(name: str) -> bool:
    """Whether ``name`` is one user or AWS tag column (legacy ``resourceTags/user:app``)."""
    return name.startswith(("resourceTags/", "resource_tags_"))


class CurConnector:
    """Legacy CUR and CUR 2.0 in one connector (``source`` says which one was seen)."""

    def __init__(self, header: list[str]) -> None:
        self.legacy = any("/" in name for name in header)
        self.source = "aws-cur" if self.legacy else "aws-cur2"
        wanted = set(_FIELDS)
        #: CUR 2.0 name → the column name in this file.
        self._columns = {cur2_name(name): name for name in header if cur2_name(name) in wanted}
        self._tags = [name for name in header if is_tag_column(name)]

    def consumed(self, header: list[str]) -> set[str]:
        return set(self._columns.values()) | set(self._tags)

    def _get(self, row: Row, field: str) -> Any:
        column = self._columns.get(field)
        return None if column is None else row.get(column)

    def map_row(self, row: Row) -> dict[str, Any]:
        def get(field: str) -> Any:
            return self._get(row, field)

        kind = v.text(get("line_item_line_item_type")) or "Usage"
        category, frequency = _LINE_ITEM_TYPES.get(kind, _OTHER_TYPE)
        billed = v.number(get("line_item_unblended_cost")) or 0.0
        quantity = v.number(get("line_item_usage_amount"))
        unit = v.text(get("pricing_unit"))
        if kind == "DiscountedUsage":
            effective = v.number(get("reservation_effective_cost"))
        elif kind == "SavingsPlanCoveredUsage":
            effective = v.number(get("savings_plan_savings_plan_effective_cost"))
        elif kind in _COMMITMENT_FEES:
            effective = 0.0  # the commitment is spread over the usage it covers
        else:
            effective = None
        list_rate = v.number(get("pricing_public_on_demand_rate"))
        list_cost = v.number(get("pricing_public_on_demand_cost"))
        contracted_rate = v.number(get("line_item_net_unblended_rate"))
        if contracted_rate is None:
            contracted_rate = v.number(get("line_item_unblended_rate"))
        contracted = v.number(get("line_item_net_unblended_cost"))
        code = v.text(get("line_item_product_code"))
        service_category, subcategory = _service(code)
        region_id = v.text(get("product_region_code")) or v.text(get("product_region"))
        commitment = v.text(get("reservation_reservation_a_r_n"))
        commitment_kind: tuple[str, str] | None = None
        if commitment and kind in ("DiscountedUsage", "RIFee"):
            commitment_kind = ("Reserved Instance", "Usage")
        else:
            commitment = v.text(get("savings_plan_savings_plan_a_r_n"))
            if commitment and kind.startswith("SavingsPlan"):
                commitment_kind = ("Savings Plan", "Spend")
            else:
                commitment = None
        is_tax = category == "Tax"
        entity = v.text(get("bill_billing_entity")) or "AWS"
        return {
            "BillingAccountId": v.text(get("bill_payer_account_id")),
            "BillingAccountName": v.text(get("bill_payer_account_name")),
            "SubAccountId": v.text(get("line_item_usage_account_id")),
            "SubAccountName": v.text(get("line_item_usage_account_name")),
            "BillingCurrency": v.text(get("line_item_currency_code")),
            "InvoiceId": v.text(get("bill_invoice_id")),
            "InvoiceIssuerName": v.text(get("bill_invoicing_entity")) or "AWS",
            "ProviderName": "AWS",
            "PublisherName": entity,
            "BillingPeriodStart": v.instant(get("bill_billing_period_start_date")),
            "BillingPeriodEnd": v.instant(get("bill_billing_period_end_date")),
            "ChargePeriodStart": v.instant(get("line_item_usage_start_date")),
            "ChargePeriodEnd": v.instant(get("line_item_usage_end_date")),
            "ChargeCategory": category,
            "ChargeClass": None,
            "ChargeDescription": v.text(get("line_item_line_item_description")),
            "ChargeFrequency": frequency,
            "BilledCost": billed,
            "EffectiveCost": billed if effective is None else effective,
            "ListCost": billed if list_cost is None else list_cost,
            "ContractedCost": billed if contracted is None else contracted,
            "ListUnitPrice": None if is_tax else list_rate,
            "ContractedUnitPrice": None if is_tax else contracted_rate,
            "PricingQuantity": None if is_tax else quantity,
            "PricingUnit": None if is_tax or quantity is None else unit,
            "ConsumedQuantity": quantity if category == "Usage" else None,
            "ConsumedUnit": unit if category == "Usage" and quantity is not None else None,
            "PricingCategory": None if is_tax else _TERMS.get(v.text(get("pricing_term")) or ""),
            "ServiceName": v.text(get("product_product_name")) or code,
            "ServiceCategory": service_category,
            "ServiceSubcategory": subcategory,
            "RegionId": region_id,
            "RegionName": (v.text(get("product_location")) or region_id) if region_id else None,
            "AvailabilityZone": v.text(get("line_item_availability_zone")),
            "ResourceId": v.text(get("line_item_resource_id")),
            "ResourceName": None,
            "SkuId": v.text(get("product_sku")),
            "SkuPriceId": v.text(get("pricing_rate_code")),
            "SkuMeter": v.text(get("line_item_usage_type")),
            "CommitmentDiscountId": commitment,
            "CommitmentDiscountName": None,
            "CommitmentDiscountType": commitment_kind[0] if commitment_kind else None,
            "CommitmentDiscountCategory": commitment_kind[1] if commitment_kind else None,
            "Tags": self._tags_of(row),
        }

    def _tags_of(self, row: Row) -> dict[str, Any] | None:
        tags: dict[str, Any] = {}
        packed = v.text(self._get(row, "resource_tags"))
        if packed:
            tags.update(parse_tag_text(packed))
        for column in self._tags:
            value = v.text(row.get(column))
            if value is not None:
                tags[_tag_key(column)] = value
        return key_value(tags)

    def map_batch(self, batch: pa.RecordBatch) -> Columns:
        """What ``map_row`` gives for every row of ``batch``, column by column."""
        length = batch.num_rows

        def raw(field: str) -> pa.Array:
            column = self._columns.get(field)
            return nulls(length) if column is None else batch.column(column)

        def text(field: str) -> pa.Array:
            return texts(raw(field))

        def number(field: str) -> pa.Array:
            return numbers(raw(field))

        kind = filled(text("line_item_line_item_type"), "Usage")
        charge = per_value(kind, lambda k: _LINE_ITEM_TYPES.get(k, _OTHER_TYPE), _PAIR)
        category = pc.struct_field(charge, 0)
        # ``or 0.0`` in the row path: a missing cost is 0, and so is -0 (adding 0.0 makes it +0).
        billed = pc.add(filled(number("line_item_unblended_cost"), 0.0), 0.0)
        quantity = number("line_item_usage_amount")
        unit = text("pricing_unit")
        effective = coalesce(
            where(pc.equal(kind, "DiscountedUsage"), number("reservation_effective_cost")),
            where(
                pc.equal(kind, "SavingsPlanCoveredUsage"),
                number("savings_plan_savings_plan_effective_cost"),
            ),
            where(pc.is_in(kind, pa.array(_COMMITMENT_FEES)), pa.repeat(0.0, length)),
            billed,
        )
        contracted_rate = coalesce(
            number("line_item_net_unblended_rate"), number("line_item_unblended_rate")
        )
        code = text("line_item_product_code")
        service = per_value(code, _service, _PAIR, of_null=True)
        region_id = coalesce(text("product_region_code"), text("product_region"))
        reservation = where(
            pc.is_in(kind, pa.array(["DiscountedUsage", "RIFee"])),
            text("reservation_reservation_a_r_n"),
        )
        plan = unless(
            pc.is_valid(reservation),
            where(pc.starts_with(kind, "SavingsPlan"), text("savings_plan_savings_plan_a_r_n")),
        )
        is_tax = pc.equal(category, "Tax")
        is_usage = pc.equal(category, "Usage")
        priced = unless(is_tax, quantity)
        return {
            "BillingAccountId": text("bill_payer_account_id"),
            "BillingAccountName": text("bill_payer_account_name"),
            "SubAccountId": text("line_item_usage_account_id"),
            "SubAccountName": text("line_item_usage_account_name"),
            "BillingCurrency": text("line_item_currency_code"),
            "InvoiceId": text("bill_invoice_id"),
            "InvoiceIssuerName": filled(text("bill_invoicing_entity"), "AWS"),
            "ProviderName": constant(length, "AWS"),
            "PublisherName": filled(text("bill_billing_entity"), "AWS"),
            "BillingPeriodStart": instants(raw("bill_billing_period_start_date")),
            "BillingPeriodEnd": instants(raw("bill_billing_period_end_date")),
            "ChargePeriodStart": instants(raw("line_item_usage_start_date")),
            "ChargePeriodEnd": instants(raw("line_item_usage_end_date")),
            "ChargeCategory": category,
            "ChargeDescription": text("line_item_line_item_description"),
            "ChargeFrequency": pc.struct_field(charge, 1),
            "BilledCost": billed,
            "EffectiveCost": effective,
            "ListCost": coalesce(number("pricing_public_on_demand_cost"), billed),
            "ContractedCost": coalesce(number("line_item_net_unblended_cost"), billed),
            "ListUnitPrice": unless(is_tax, number("pricing_public_on_demand_rate")),
            "ContractedUnitPrice": unless(is_tax, contracted_rate),
            "PricingQuantity": priced,
            "PricingUnit": where(pc.is_valid(priced), unit),
            "ConsumedQuantity": where(is_usage, quantity),
            "ConsumedUnit": where(pc.and_(is_usage, pc.is_valid(quantity)), unit),
            "PricingCategory": unless(is_tax, per_value(text("pricing_term"), _TERMS.get, STRING)),
            "ServiceName": coalesce(text("product_product_name"), code),
            "ServiceCategory": pc.struct_field(service, 0),
            "ServiceSubcategory": pc.struct_field(service, 1),
            "RegionId": region_id,
            "RegionName": where(
                pc.is_valid(region_id), coalesce(text("product_location"), region_id)
            ),
            "AvailabilityZone": text("line_item_availability_zone"),
            "ResourceId": text("line_item_resource_id"),
            "SkuId": text("product_sku"),
            "SkuPriceId": text("pricing_rate_code"),
            "SkuMeter": text("line_item_usage_type"),
            "CommitmentDiscountId": coalesce(reservation, plan),
            "CommitmentDiscountType": _labels(
                reservation, plan, "Reserved Instance", "Savings Plan"
            ),
            "CommitmentDiscountCategory": _labels(reservation, plan, "Usage", "Spend"),
            "Tags": self._tags_column(batch),
        }

    def _tags_column(self, batch: pa.RecordBatch) -> pa.Array:
        """``Tags`` of every row as JSON text, made by the row path's own code once per distinct
        combination of tag values (a few hundred at most in a batch of real CUR rows)."""
        sources = [self._columns[name] for name in ("resource_tags",) if name in self._columns]
        sources += self._tags
        if not sources:
            return nulls(batch.num_rows)

        def tags(*found: Any) -> str | None:
            return key_value_text(self._tags_of(dict(zip(sources, found, strict=True))))

        return per_combination([batch.column(name) for name in sources], tags, STRING)


#: Two strings looked up together, such as (ServiceCategory, ServiceSubcategory).
_PAIR = pa.struct([("first", STRING), ("second", STRING)])


def _service(code: str | None) -> tuple[str, str]:
    """(ServiceCategory, ServiceSubcategory) of a product code."""
    category, hint = _SERVICES.get(code or "", ("Other", ""))
    return category, subcategory_for(category, hint)


def _tag_key(column: str) -> str:
    return column.partition("/")[2] or column.removeprefix("resource_tags_")


def _labels(reservation: pa.Array, plan: pa.Array, for_reservation: str, for_plan: str) -> pa.Array:
    """A commitment label per row: one for a reserved instance, another for a savings plan."""
    return pc.if_else(
        pc.is_valid(reservation),
        for_reservation,
        pc.if_else(pc.is_valid(plan), for_plan, pa.scalar(None, STRING)),
    )
