"""The FOCUS 1.2 cost and usage dataset, column by column.

Every converted file carries the *core* columns in this order, whatever its source, so that files
from different providers land in one lake table. The core is every column the specification
makes mandatory or recommended, plus the conditional ones the supported providers all know
(regions, sub-accounts, SKUs, resources, tags, commitment discounts). The remaining FOCUS 1.2
columns are *optional*: a converted file carries one only when an input (a FOCUS file) does,
because the specification forbids nulls in several of them (``PricingCurrency``, for instance)
and no source would fill them honestly otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

FOCUS_VERSION = "1.2"


class Kind(Enum):
    """The FOCUS data types, as a converted file stores them."""

    STRING = "string"
    #: Decimal in the specification; stored as float64 because that is what the engines reading
    #: the lake (and the official validator) accept as a numeric column without casts.
    DECIMAL = "decimal"
    #: Stored as an instant in UTC (Parquet timestamp, or ``YYYY-MM-DDTHH:MM:SSZ`` in CSV).
    DATETIME = "datetime"
    #: A JSON object in a string (``Tags``, ``SkuPriceDetails``).
    KEY_VALUE = "key-value"


@dataclass(frozen=True, slots=True)
class Column:
    """One FOCUS column: its name, its type, and whether every converted file carries it."""

    name: str
    kind: Kind
    core: bool


def _columns(kind: Kind, core: bool, names: str) -> list[Column]:
    return [Column(name, kind, core) for name in names.split()]


S, D, T, K = Kind.STRING, Kind.DECIMAL, Kind.DATETIME, Kind.KEY_VALUE

#: Core columns first (in the order files carry them), then the optional ones.
COLUMNS: tuple[Column, ...] = tuple(
    _columns(S, True, "BillingAccountId BillingAccountName SubAccountId SubAccountName")
    + _columns(S, True, "BillingCurrency InvoiceId InvoiceIssuerName ProviderName PublisherName")
    + _columns(T, True, "BillingPeriodStart BillingPeriodEnd ChargePeriodStart ChargePeriodEnd")
    + _columns(S, True, "ChargeCategory ChargeClass ChargeDescription ChargeFrequency")
    + _columns(D, True, "BilledCost EffectiveCost ListCost ContractedCost")
    + _columns(D, True, "ListUnitPrice ContractedUnitPrice PricingQuantity ConsumedQuantity")
    + _columns(S, True, "PricingUnit ConsumedUnit PricingCategory")
    + _columns(S, True, "ServiceName ServiceCategory ServiceSubcategory")
    + _columns(S, True, "RegionId RegionName AvailabilityZone ResourceId ResourceName")
    + _columns(S, True, "SkuId SkuPriceId SkuMeter")
    + _columns(S, True, "CommitmentDiscountId CommitmentDiscountName CommitmentDiscountType")
    + _columns(S, True, "CommitmentDiscountCategory")
    + _columns(K, True, "Tags")
    + _columns(S, False, "BillingAccountType SubAccountType ResourceType")
    + _columns(S, False, "CapacityReservationId CapacityReservationStatus")
    + _columns(S, False, "CommitmentDiscountStatus CommitmentDiscountUnit PricingCurrency")
    + _columns(D, False, "CommitmentDiscountQuantity PricingCurrencyContractedUnitPrice")
    + _columns(D, False, "PricingCurrencyEffectiveCost PricingCurrencyListUnitPrice")
    + _columns(K, False, "SkuPriceDetails")
)

COLUMNS_BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}

#: Columns whose values come from a closed list in the specification.
ALLOWED_VALUES: dict[str, frozenset[str]] = {
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({"Correction"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
    "PricingCategory": frozenset({"Standard", "Committed", "Dynamic", "Other"}),
    "CommitmentDiscountCategory": frozenset({"Spend", "Usage"}),
    "CommitmentDiscountStatus": frozenset({"Used", "Unused"}),
    "CapacityReservationStatus": frozenset({"Used", "Unused"}),
    "ServiceCategory": frozenset(
        {
            "AI and Machine Learning",
            "Analytics",
            "Business Applications",
            "Compute",
            "Databases",
            "Developer Tools",
            "Multicloud",
            "Identity",
            "Integration",
            "Internet of Things",
            "Management and Governance",
            "Media",
            "Migration",
            "Mobile",
            "Networking",
            "Security",
            "Storage",
            "Web",
            "Other",
        }
    ),
}

_SUBCATEGORY_TEXT = """
AI and Machine Learning: AI Platforms; Bots; Generative AI; Machine Learning;
    Natural Language Processing
Analytics: Analytics Platforms; Business Intelligence; Data Processing; Search;
    Streaming Analytics
Business Applications: Productivity and Collaboration
Compute: Containers; End User Computing; Quantum Compute; Serverless Compute; Virtual Machines
Databases: Caching; Data Warehouses; Ledger Databases; NoSQL Databases; Relational Databases;
    Time Series Databases
Developer Tools: Developer Platforms; Continuous Integration and Deployment;
    Development Environments; Source Code Management; Quality Assurance
Identity: Identity and Access Management
Integration: API Management; Messaging; Workflow Orchestration
Internet of Things: IoT Analytics; IoT Platforms
Management and Governance: Architecture; Compliance; Cost Management; Data Governance;
    Disaster Recovery; Endpoint Management; Observability; Support
Media: Content Creation; Gaming; Media Streaming; Mixed Reality
Migration: Data Migration; Resource Migration
Mobile:
Multicloud: Multicloud Integration
Networking: Application Networking; Content Delivery; Network Connectivity;
    Network Infrastructure; Network Routing; Network Security
Security: Secret Management; Security Posture Management; Threat Detection and Response
Storage: Backup Storage; Block Storage; File Storage; Object Storage; Storage Platforms
Web: Application Platforms
Other:
"""


def _subcategories() -> dict[str, str]:
    """ServiceSubcategory → the one ServiceCategory it belongs to (each category also has its
    ``Other (<category>)``)."""
    result: dict[str, str] = {}
    text = re.sub(r"\n\s+", " ", _SUBCATEGORY_TEXT.strip())
    for line in text.splitlines():
        category, _, names = line.partition(":")
        for name in names.split(";"):
            if name.strip():
                result[name.strip()] = category
        result[f"Other ({category})"] = category
    return result


SUBCATEGORIES: dict[str, str] = _subcategories()

_NOT_NAME = re.compile(r"[^0-9A-Za-z_]+")


def custom_name(source_name: str) -> str:
    """The name a column unknown to FOCUS keeps in a converted file: ``x_`` and the source name,
    with anything but letters, digits and ``_`` turned into ``_`` (``lineItem/Operation`` →
    ``x_lineItem_Operation``), so that every engine can query it without quoting."""
    if source_name.startswith("x_"):
        source_name = source_name[2:]
    cleaned = _NOT_NAME.sub("_", source_name).strip("_") or "column"
    return "x_" + cleaned
