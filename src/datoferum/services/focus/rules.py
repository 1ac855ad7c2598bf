"""The FOCUS 1.2 rules every converted row is held to, whatever connector produced it.

Connectors say what a source means; these rules make the row agree with the specification's
couplings (a unit only beside a quantity, a region name only beside a region id, one
ServiceCategory per ServiceName) and refuse what no repair can make true (a missing billing
account, an unknown charge category, a period that ends before it starts). A refusal is a
``ValueError`` the converter turns into an error naming the file and row.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from datoferum.domain.focus import ALLOWED_VALUES, SUBCATEGORIES
from datoferum.domain.focus.units import normalize_unit
from datoferum.services.focus.columnar import (
    Columns,
    coalesce,
    distinct,
    first_true,
    has,
    per_value,
    unless,
)

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
#: The allowed values as Arrow arrays, to tell at once a column spelled as FOCUS spells it.
_ALLOWED = {column: pa.array(sorted(values)) for column, values in ALLOWED_VALUES.items()}

_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: Charge categories whose negative unit prices are dropped rather than refused.
_EXCUSED = pa.array(["Credit", "Adjustment"])


class RowError(ValueError):
    """A rule broken by the row at ``index`` of the batch (the first such row)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class ServiceCatalog:
    """Keeps one ServiceCategory and ServiceSubcategory per ServiceName across a whole
    conversion, as FOCUS requires: the first pair seen for a name wins, later rows follow it,
    and ``adjusted`` counts the rows that had to follow."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, str]] = {}
        self.adjusted = 0

    def settle(self, columns: Columns) -> None:
        """Give each row a ServiceSubcategory of its ServiceCategory (its own when it is one,
        else ``Other (<category>)``), then align the batch's pairs with the first pair of each
        name, in row order: both from one pass over the distinct combinations of the three."""
        keys = [columns[name] for name in ("ServiceName", "ServiceCategory", "ServiceSubcategory")]
        positions, found = distinct(keys)
        pairs: list[tuple[str, str]] = []
        moved: list[bool] = []
        for name, category, hint in found:  # in the order the rows show them
            fitting = hint if SUBCATEGORIES.get(hint or "") == category else f"Other ({category})"
            first = self._seen.setdefault(name, (category, fitting))
            pairs.append(first)
            moved.append(first != (category, fitting))
        if any(moved):
            self.adjusted += int(pc.sum(pc.take(pa.array(moved), positions)).as_py())
        for at, column in ((0, "ServiceCategory"), (1, "ServiceSubcategory")):
            # found holds (name, category, subcategory): column ``at`` of a pair is at + 1
            if any(pair[at] != given[at + 1] for pair, given in zip(pairs, found, strict=True)):
                columns[column] = pc.take(pa.array([pair[at] for pair in pairs]), positions)


#: A rule's test over a batch (true where a row breaks it) and its message for one row.
_Check = tuple[pa.Array, Callable[[int], str]]


def complete(columns: Columns, services: ServiceCatalog) -> None:
    """Check and complete a batch of mapped rows in place (every FOCUS column of the output is
    in ``columns``). ``RowError`` names the first row that breaks a rule, with the message of
    the first rule it breaks, in the order the rules are listed in this module."""
    checks: list[_Check] = []
    for column in REQUIRED:
        if columns[column].null_count:  # a check that no row can break is left out
            checks.append((pc.is_null(columns[column]), _missing(column)))
    for column, spellings in _CANONICAL.items():
        if column in columns and (check := _canonical(columns, column, spellings)) is not None:
            checks.append(check)
    currency = columns["BillingCurrency"]
    valid = per_value(currency, lambda code: bool(_CURRENCY.match(code)), pa.bool_())
    checks.append(
        (
            pc.invert(valid),
            lambda i: f"BillingCurrency {currency[i].as_py()!r} is not an ISO 4217 code",
        )
    )
    checks.extend(_unit_prices(columns))
    checks.extend(_period(columns, prefix) for prefix in ("ChargePeriod", "BillingPeriod"))
    _refuse_first(checks)
    services.settle(columns)
    for column in ("PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit"):
        if column in columns:
            columns[column] = per_value(columns[column], normalize_unit, pa.string())
    for dependent, anchor in _COUPLED:
        columns[dependent] = unless(pc.is_null(columns[anchor]), columns[dependent])
    region = columns["RegionId"]
    columns["RegionName"] = unless(pc.is_null(region), coalesce(columns["RegionName"], region))
    uncommitted = pc.is_null(columns["CommitmentDiscountId"])
    for column in ("CommitmentDiscountType", "CommitmentDiscountCategory"):
        columns[column] = unless(uncommitted, columns[column])
    bought = pc.and_(
        pc.equal(columns["ChargeCategory"], "Purchase"),
        pc.equal(columns["ChargeFrequency"], "Usage-Based"),
    )
    if has(bought):
        columns["ChargeFrequency"] = pc.if_else(
            pc.fill_null(bought, False), "One-Time", columns["ChargeFrequency"]
        )


def _canonical(columns: Columns, column: str, spellings: dict[str, str]) -> _Check | None:
    """Real files write "Usage-based" for "Usage-Based": each value becomes its canonical
    spelling; one that has none breaks the rule. A column already spelled canonically (what
    the connectors' own tables give) is left as it is, with no check: looking every value up
    in the allowed set costs half of encoding the column to respell its distinct values."""
    given = columns[column]
    if pc.is_in(given, value_set=_ALLOWED[column]).true_count == len(given) - given.null_count:
        return None
    canonical = per_value(given, lambda value: spellings.get(value.casefold()), pa.string())
    columns[column] = canonical
    unknown = pc.and_(pc.is_valid(given), pc.is_null(canonical))
    return unknown, lambda i: f"{column} {given[i].as_py()!r} is not one of FOCUS 1.2's values"


def _unit_prices(columns: Columns) -> list[_Check]:
    """FOCUS unit prices are never negative. Real credit rows carry one now and then (the
    FOCUS sample has a promotional credit at -3.00 a unit): on a credit, an adjustment or a
    correction, where the price may be left empty, it is dropped; anywhere else the row is
    refused."""
    checks: list[_Check] = []
    excused: pa.Array | None = None
    for column in ("ListUnitPrice", "ContractedUnitPrice"):
        price = columns[column]
        negative = pc.less(price, 0.0)
        if not has(negative):
            continue
        if excused is None:
            charge_class = columns["ChargeClass"]
            excused = pc.or_(
                pc.fill_null(pc.is_in(columns["ChargeCategory"], _EXCUSED), False),
                pc.fill_null(pc.not_equal(charge_class, ""), False),
            )
        checks.append((pc.and_(negative, pc.invert(excused)), _negative(column, price)))
        columns[column] = unless(pc.and_(negative, excused), price)
    return checks


def _missing(column: str) -> Callable[[int], str]:
    return lambda _: f"{column} is missing"


def _negative(column: str, price: pa.Array) -> Callable[[int], str]:
    return lambda i: f"{column} {price[i].as_py():g} is negative (FOCUS unit prices never are)"


def _period(columns: Columns, prefix: str) -> _Check:
    end = columns[f"{prefix}End"]
    return (
        pc.less(end, columns[f"{prefix}Start"]),
        lambda i: f"{prefix}End {end[i].as_py().isoformat()} is before {prefix}Start",
    )


def _refuse_first(checks: list[_Check]) -> None:
    """Raise ``RowError`` for the first row that breaks any check."""
    broken: pa.Array | None = None
    for mask, _ in checks:
        if not has(mask):
            continue  # almost every check of a good batch: nothing to combine
        mask = pc.fill_null(mask, False)
        broken = mask if broken is None else pc.or_(broken, mask)
    index = None if broken is None else first_true(broken)
    if index is None:
        return
    for mask, message in checks:
        if mask[index].as_py():
            raise RowError(index, message(index))
