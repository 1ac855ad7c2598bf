"""The FOCUS 1.2 rules every converted row is held to, whatever connector produced it.

Connectors say what a source means; these rules make the row agree with the specification's
couplings (a unit only beside a quantity, a region name only beside a region id, one
ServiceCategory per ServiceName) and refuse what no repair can make true (a missing billing
account, an unknown charge category, a period that ends before it starts). A refusal is a
``ValueError`` the converter turns into an error naming the file and row.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from datoferum.domain.focus import ALLOWED_VALUES, SUBCATEGORIES
from datoferum.domain.focus.units import normalize_unit

#: Columns no converted row may leave empty (mandatory and non-nullable in FOCUS 1.2).
REQUIRED = (
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "InvoiceIssuerName",
    "ProviderName",
    "PublisherName",
    "ServiceName",
    "ServiceCategory",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
)

#: (dependent, anchor): the dependent column is null exactly when its anchor is.
_COUPLED = (
    ("PricingUnit", "PricingQuantity"),
    ("ConsumedUnit", "ConsumedQuantity"),
    ("SubAccountName", "SubAccountId"),
    ("CommitmentDiscountName", "CommitmentDiscountId"),
)

#: Allowed values by their case-folded spelling.
_CANONICAL = {
    column: {value.casefold(): value for value in values}
    for column, values in ALLOWED_VALUES.items()
}

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ServiceCatalog:
    """Keeps one ServiceCategory and ServiceSubcategory per ServiceName across a whole
    conversion, as FOCUS requires: the first pair seen for a name wins, later rows follow it,
    and ``adjusted`` counts the rows that had to follow."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, str]] = {}
        self.adjusted = 0

    def settle(self, row: dict[str, Any]) -> None:
        pair = (row["ServiceCategory"], row["ServiceSubcategory"])
        first = self._seen.setdefault(row["ServiceName"], pair)
        if first != pair:
            row["ServiceCategory"], row["ServiceSubcategory"] = first
            self.adjusted += 1


def complete(row: dict[str, Any], services: ServiceCatalog) -> dict[str, Any]:
    """Check and complete one mapped row in place; ``ValueError`` says what is wrong."""
    for column in REQUIRED:
        if row.get(column) is None:
            raise ValueError(f"{column} is missing")
    for column, spellings in _CANONICAL.items():
        value = row.get(column)
        if value is not None:
            canonical = spellings.get(value.casefold())
            if canonical is None:
                raise ValueError(f"{column} {value!r} is not one of FOCUS 1.2's values")
            row[column] = canonical  # real files write "Usage-based" for "Usage-Based"
    if not _CURRENCY.match(row["BillingCurrency"]):
        raise ValueError(f"BillingCurrency {row['BillingCurrency']!r} is not an ISO 4217 code")
    _unit_prices(row)
    _period(row, "ChargePeriod")
    _period(row, "BillingPeriod")
    if SUBCATEGORIES.get(row.get("ServiceSubcategory") or "") != row["ServiceCategory"]:
        row["ServiceSubcategory"] = f"Other ({row['ServiceCategory']})"
    services.settle(row)
    for column in ("PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit"):
        if row.get(column) is not None:
            row[column] = normalize_unit(row[column])
    for dependent, anchor in _COUPLED:
        if row.get(anchor) is None:
            row[dependent] = None
    if row.get("RegionId") is None:
        row["RegionName"] = None
    elif row.get("RegionName") is None:
        row["RegionName"] = row["RegionId"]
    if row.get("CommitmentDiscountId") is None:
        row["CommitmentDiscountType"] = row["CommitmentDiscountCategory"] = None
    if row["ChargeCategory"] == "Purchase" and row.get("ChargeFrequency") == "Usage-Based":
        row["ChargeFrequency"] = "One-Time"
    return row


def _unit_prices(row: dict[str, Any]) -> None:
    """FOCUS unit prices are never negative. Real credit rows carry one now and then (the
    FOCUS sample has a promotional credit at -3.00 a unit): on a credit, an adjustment or a
    correction, where the price may be left empty, it is dropped; anywhere else the row is
    refused."""
    for column in ("ListUnitPrice", "ContractedUnitPrice"):
        price = row.get(column)
        if price is None or price >= 0:
            continue
        if row["ChargeCategory"] in ("Credit", "Adjustment") or row.get("ChargeClass"):
            row[column] = None
        else:
            raise ValueError(f"{column} {price:g} is negative (FOCUS unit prices never are)")


def _period(row: dict[str, Any], prefix: str) -> None:
    start: datetime = row[f"{prefix}Start"]
    end: datetime = row[f"{prefix}End"]
    if end < start:
        raise ValueError(f"{prefix}End {end.isoformat()} is before {prefix}Start")
