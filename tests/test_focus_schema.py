"""The FOCUS 1.2 schema as data, unit spellings, and value parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datoferum.domain.focus import ALLOWED_VALUES, COLUMNS, SUBCATEGORIES, Kind, custom_name
from datoferum.domain.focus.units import is_unit_format, normalize_unit
from datoferum.services.focus import values

#: FOCUS 1.2 columns a CostAndUsage dataset MUST or SHOULD carry whatever the provider.
MANDATORY = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ChargeFrequency",
    "InvoiceId",
    "ServiceSubcategory",
]


def test_every_mandatory_and_recommended_column_is_core() -> None:
    core = {column.name for column in COLUMNS if column.core}
    assert set(MANDATORY) <= core
    assert (
        len({column.name for column in COLUMNS}) == len(COLUMNS) == 57
    )  # every FOCUS 1.2 cost and usage column


def test_kinds() -> None:
    kinds = {column.name: column.kind for column in COLUMNS}
    assert kinds["BilledCost"] is Kind.DECIMAL
    assert kinds["ChargePeriodStart"] is Kind.DATETIME
    assert kinds["Tags"] is Kind.KEY_VALUE
    assert kinds["BillingAccountId"] is Kind.STRING


def test_subcategories_belong_to_allowed_categories() -> None:
    assert set(SUBCATEGORIES.values()) == ALLOWED_VALUES["ServiceCategory"]
    assert SUBCATEGORIES["Virtual Machines"] == "Compute"
    assert SUBCATEGORIES["Other (Other)"] == "Other"
    assert len(SUBCATEGORIES) == 82


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("lineItem/Operation", "x_lineItem_Operation"),
        ("resourceTags/user:Team", "x_resourceTags_user_Team"),
        ("x_Custom", "x_Custom"),
        ("Id", "x_Id"),
        ("??", "x_column"),
    ],
)
def test_custom_names(source: str, expected: str) -> None:
    assert custom_name(source) == expected


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("Hrs", "Hours"),
        ("GB-Mo", "GB-Months"),
        ("GB Hours", "GB-Hours"),
        ("Lambda-GB-Seconds", "Lambda GB-Seconds"),
        ("Gigabyte Per Hour", "Gigabyte/Hour"),
        ("GiB/Second-Months", "GiB per Second-Months"),
        ("1 Hour", "Hours"),
        ("1 /Month", "Units/Month"),
        ("1 GB/Month", "GB/Month"),
        ("100000000", "100000000 Units"),
        ("10 Hours", "10 Hours"),
        ("Requests", "Requests"),
        ("GB", "GB"),
        ("½ cup", "½ cup"),  # not understood: kept as written
    ],
)
def test_units(unit: str, expected: str) -> None:
    assert normalize_unit(unit) == expected
    if expected != unit or unit != "½ cup":
        assert is_unit_format(expected)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-03T10:00:00Z",
        "2024-05-03 10:00:00",
        "2024-05-03 10:00:00+00:00",
        "2024-05-03 10:00:00 UTC",
        "2024-05-03T12:00:00+02:00",
        "2024-05-03T10:00:00.000Z",
    ],
)
def test_instants(text: str) -> None:
    assert values.instant(text) == datetime(2024, 5, 3, 10, tzinfo=UTC)


def test_dates_and_blanks() -> None:
    assert values.instant("5/3/2024") == datetime(2024, 5, 3, tzinfo=UTC)
    assert values.instant("NULL") is None
    assert values.month_start("202412") == datetime(2024, 12, 1, tzinfo=UTC)
    assert values.next_month(datetime(2024, 12, 1, tzinfo=UTC)) == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a YYYYMM month"):
        values.month_start("202413")
    with pytest.raises(ValueError, match="not a timestamp"):
        values.instant("yesterday")


def test_numbers() -> None:
    assert values.number("1.5e-3") == 0.0015
    assert values.number("-2") == -2.0  # credits and corrections are negative
    assert values.number("") is None
    for bad in ("NaN", "inf", "-Infinity"):
        with pytest.raises(ValueError, match="not a finite number"):
            values.number(bad)
    with pytest.raises(ValueError, match="not a number"):
        values.number("12 USD")
