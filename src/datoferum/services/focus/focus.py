"""FOCUS files from any provider, versions 1.0 to 1.2, brought to 1.2.

Real FOCUS files are messy: the FinOps Foundation's own sample writes literal ``NULL``, timestamps
without ``T`` or ``Z``, and an unprefixed custom column (``Id``). Columns this connector knows
are read by their FOCUS type; an unknown column without the ``x_`` prefix keeps its values under
``x_<name>``. Where a 1.0 file lacks a column 1.2 requires, the connector derives it (see
``docs/focus.md``): ``ServiceSubcategory`` becomes ``Other (<ServiceCategory>)``, a missing
``ContractedCost`` is the contracted unit price times the pricing quantity, or else the list cost.
"""

from __future__ import annotations

import json
from typing import Any

from datoferum.domain.focus import COLUMNS, COLUMNS_BY_NAME, Kind
from datoferum.services.focus import values as v
from datoferum.services.focus.common import Row, key_value, subcategory_for, tags_from_value

#: Column names of FOCUS releases before 1.0 that 1.0 renamed.
_RENAMED = {
    "AmortizedCost": "EffectiveCost",
    "ChargeType": "ChargeCategory",
    "UsageQuantity": "ConsumedQuantity",
    "UsageUnit": "ConsumedUnit",
}

#: Columns that tell a FOCUS file apart from every provider-specific export.
_SIGNATURE = {"BilledCost", "ChargePeriodStart", "BillingCurrency"}


def recognises(header: list[str]) -> bool:
    """Whether ``header`` is a FOCUS dataset (any version)."""
    return set(header) >= _SIGNATURE


def _key_value(raw: Any, column: str) -> dict[str, Any] | None:
    if v.blank(raw):
        return None
    if isinstance(raw, dict | list):
        return key_value(tags_from_value(raw))
    try:
        decoded = json.loads(str(raw))
    except json.JSONDecodeError:
        raise ValueError(f"{column} is not a JSON object: {str(raw)[:40]!r}") from None
    return key_value(tags_from_value(decoded))


class FocusConnector:
    """FOCUS 1.0, 1.1 and 1.2 files; the values are kept, only spellings and gaps change."""

    source = "focus"

    def __init__(self, header: list[str]) -> None:
        #: FOCUS 1.2 name → the column in this file.
        self._columns: dict[str, str] = {}
        for name in header:
            target = _RENAMED.get(name, name)
            if target in COLUMNS_BY_NAME:
                self._columns.setdefault(target, name)
        #: The optional FOCUS columns (see ``domain.focus.schema``) this file brings.
        self.optional = [c.name for c in COLUMNS if not c.core and c.name in self._columns]

    def consumed(self, header: list[str]) -> set[str]:
        return set(self._columns.values())

    def map_row(self, row: Row) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for target, column in self._columns.items():
            raw = row.get(column)
            kind = COLUMNS_BY_NAME[target].kind
            if kind is Kind.DECIMAL:
                result[target] = v.number(raw)
            elif kind is Kind.DATETIME:
                result[target] = v.instant(raw)
            elif kind is Kind.KEY_VALUE:
                result[target] = _key_value(raw, target)
            else:
                result[target] = v.text(raw)
        category = result.get("ServiceCategory") or "Other"
        result["ServiceCategory"] = category
        result["ServiceSubcategory"] = subcategory_for(category, result.get("ServiceSubcategory"))
        if result.get("ContractedCost") is None:
            price, quantity = result.get("ContractedUnitPrice"), result.get("PricingQuantity")
            if price is not None and quantity is not None:
                result["ContractedCost"] = price * quantity
            else:
                result["ContractedCost"] = result.get("ListCost")
        return result
