"""The batch path of the AWS connector (whole Arrow columns at once) against its row path (one
``map_row`` per row), which stays the reference: the same FOCUS values on awkward input, the
same error, with the same row number, on bad input."""

from __future__ import annotations

import csv
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datoferum.errors import BillingFileError
from datoferum.services.focus import columnar, convert, pipeline, reading
from datoferum.services.focus import values as v
from datoferum.services.focus.aws import CurConnector, cur2_name
from datoferum.services.focus.rules import ServiceCatalog

HEADER = [
    "identity/LineItemId", "bill/BillingEntity", "bill/InvoicingEntity", "bill/PayerAccountId",
    "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "bill/InvoiceId",
    "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType",
    "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode",
    "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/NetUnblendedCost",
    "lineItem/LineItemDescription", "lineItem/AvailabilityZone", "product/ProductName",
    "product/region", "product/regionCode", "product/location", "product/sku",
    "pricing/publicOnDemandCost", "pricing/publicOnDemandRate", "pricing/term", "pricing/unit",
    "pricing/RateCode", "reservation/ReservationARN", "reservation/EffectiveCost",
    "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanEffectiveCost",
    "resourceTags/user:team", "resourceTags/user:équipe", "resource_tags_user:team",
]  # fmt: skip

_BASE = dict(
    zip(
        HEADER,
        [
            "li",
            "AWS",
            "",
            "111122223333",
            "2024-05-01T00:00:00Z",
            "2024-06-01T00:00:00Z",
            "INV-1",
            "444455556666",
            "Usage",
            "2024-05-03T10:00:00Z",
            "2024-05-03T11:00:00Z",
            "AmazonEC2",
            "BoxUsage:m5.large",
            "i-1",
            "1",
            "USD",
            "0.096",
            "0.096",
            "",
            "Linux hour",
            "",
            "Amazon Elastic Compute Cloud",
            "us-east-1",
            "",
            "US East (N. Virginia)",
            "SKU1",
            "0.1",
            "0.1",
            "OnDemand",
            "Hrs",
            "",
            "",
            "",
            "",
            "",
            "web",
            "",
            "",
        ],
        strict=True,
    )
)
_RI = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/r-1"
_SP = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"

#: One row per awkward case, as changes to a plain EC2 usage hour.
CASES: list[dict[str, str]] = [
    {},
    {"lineItem/CurrencyCode": "  USD ", "pricing/unit": "\xa0Hrs\u3000"},
    {"resourceTags/user:team": 'a"b\\c', "resourceTags/user:équipe": "naïve ☃ 😀"},
    {"resourceTags/user:team": "", "resource_tags_user:team": "later wins"},
    {"resourceTags/user:team": "first", "resource_tags_user:team": "  "},
    {"lineItem/LineItemType": "DiscountedUsage", "lineItem/UnblendedCost": "0",
     "reservation/ReservationARN": _RI, "reservation/EffectiveCost": "0.11",
     "pricing/term": "Reserved"},
    {"lineItem/LineItemType": "SavingsPlanCoveredUsage", "savingsPlan/SavingsPlanARN": _SP,
     "savingsPlan/SavingsPlanEffectiveCost": "0.05", "reservation/ReservationARN": _RI},
    {"lineItem/LineItemType": "RIFee", "reservation/ReservationARN": _RI, "pricing/unit": ""},
    {"lineItem/LineItemType": "SavingsPlanUpfrontFee", "savingsPlan/SavingsPlanARN": _SP},
    {"lineItem/LineItemType": "Usage", "savingsPlan/SavingsPlanARN": _SP},
    {"lineItem/LineItemType": "Tax", "lineItem/UsageAmount": "", "pricing/unit": "",
     "lineItem/UnblendedCost": "0.05", "lineItem/UsageStartDate": "2024-05-01T00:00:00Z",
     "lineItem/UsageEndDate": "2024-06-01T00:00:00Z"},
    {"lineItem/LineItemType": "Credit", "lineItem/UnblendedCost": "-0.02",
     "lineItem/UnblendedRate": "-0.5", "pricing/publicOnDemandRate": "-0.5"},
    {"lineItem/LineItemType": "Weird", "lineItem/UnblendedCost": "-0"},
    {"lineItem/LineItemType": "", "lineItem/ResourceId": "NULL", "pricing/term": "Spot"},
    {"lineItem/UsageAmount": "1,234.5", "pricing/publicOnDemandCost": "1e300",
     "lineItem/NetUnblendedCost": " 0.09 ", "lineItem/UnblendedRate": "NULL"},
    {"lineItem/UsageAmount": "123456789012345678901234567890", "lineItem/UnblendedCost": ".5"},
    {"product/ProductName": "Shared", "lineItem/ProductCode": "AmazonS3"},
    {"product/ProductName": "Shared", "lineItem/ProductCode": "AmazonEC2"},
    {"product/ProductName": "", "lineItem/ProductCode": "SomethingNew"},
    {"lineItem/UsageStartDate": "2024-05-03 10:00:00", "lineItem/UsageEndDate": "05/04/2024"},
    {"lineItem/UsageStartDate": "2024-05-03T10:00:00.5+02:00",
     "lineItem/UsageEndDate": "2024-05-03T11:00:00 UTC"},
    {"product/region": "", "product/regionCode": "", "product/location": "Somewhere"},
    {"product/regionCode": "eu-west-1", "product/location": ""},
    {"pricing/unit": "GB-Mo"},
    {"pricing/unit": "1 Hour"},
    {"pricing/unit": "Lambda-GB-Seconds"},
    {"pricing/unit": "weird   unit"},
    {"bill/BillingEntity": "AWS Marketplace", "bill/InvoicingEntity": "Amazon Web Services"},
    {"lineItem/AvailabilityZone": "us-east-1a", "pricing/RateCode": "RC.1"},
    {"lineItem/LineItemDescription": "line\nbreak, \"quoted\""},
]  # fmt: skip


def cur_rows(count: int = 1) -> list[list[str]]:
    rows = []
    for copy in range(count):
        for number, case in enumerate(CASES):
            row = {**_BASE, "identity/LineItemId": f"li-{copy}-{number}", **case}
            rows.append([row[name] for name in HEADER])
    return rows


def write_cur(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _always_unsure(self: CurConnector, batch: pa.RecordBatch) -> columnar.Columns:
    raise columnar.Unsure


def _convert_both(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    """(batch-path rows, row-path rows, services adjusted by each), and proof that the batch
    path did not fall back to rows."""
    mapped: list[int] = []
    original = CurConnector.map_row

    def counted(self: CurConnector, row: Any) -> dict[str, Any]:
        mapped.append(1)
        return original(self, row)

    monkeypatch.setattr(CurConnector, "map_row", counted)
    fast = convert([source], tmp_path / "fast.parquet")
    assert not mapped, "the batch path fell back to rows"
    monkeypatch.setattr(CurConnector, "map_batch", _always_unsure)
    slow = convert([source], tmp_path / "slow.parquet")
    assert mapped
    assert fast.columns == slow.columns
    return (
        pq.read_table(tmp_path / "fast.parquet").to_pylist(),
        pq.read_table(tmp_path / "slow.parquet").to_pylist(),
        fast.services_adjusted,
        slow.services_adjusted,
    )


def _same(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> None:
    assert len(left) == len(right)
    for number, (one, other) in enumerate(zip(left, right, strict=True)):
        assert one == other, (number, {k: (one[k], other[k]) for k in one if one[k] != other[k]})
        for name, value in one.items():  # -0.0 == 0.0, but a file keeps the sign
            if isinstance(value, float):
                assert math.copysign(1, value) == math.copysign(1, other[name]), (number, name)


def test_awkward_cur_gives_the_row_path_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_cur(tmp_path / "cur.csv", cur_rows())
    fast, slow, adjusted, adjusted_slow = _convert_both(tmp_path, source, monkeypatch)
    _same(fast, slow)
    assert adjusted == adjusted_slow == 1  # "Shared" follows its first category
    by_id = {row["x_identity_LineItemId"]: row for row in fast}
    assert json.loads(by_id["li-0-2"]["Tags"]) == {
        "user:team": 'a"b\\c',
        "user:équipe": "naïve ☃ 😀",
    }
    assert json.loads(by_id["li-0-3"]["Tags"]) == {"user:team": "later wins"}
    assert json.loads(by_id["li-0-4"]["Tags"]) == {"user:team": "first"}
    assert by_id["li-0-1"]["BillingCurrency"] == "USD"
    assert by_id["li-0-1"]["PricingUnit"] == "Hours"
    assert by_id["li-0-11"]["ListUnitPrice"] is None  # a credit's negative price is dropped
    assert by_id["li-0-12"]["ChargeCategory"] == "Adjustment"
    assert math.copysign(1, by_id["li-0-12"]["BilledCost"]) == 1.0  # "-0" is billed as 0
    assert by_id["li-0-13"]["ResourceId"] is None  # a literal NULL
    assert by_id["li-0-14"]["PricingQuantity"] == 1234.5
    assert by_id["li-0-15"]["PricingQuantity"] == 1.2345678901234568e29


def test_batches_and_row_numbers_agree_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "BLOCK_BYTES", 4096)
    source = write_cur(tmp_path / "cur.csv", cur_rows(40))
    fast, slow, adjusted, adjusted_slow = _convert_both(tmp_path, source, monkeypatch)
    _same(fast, slow)
    assert adjusted == adjusted_slow == 40


def test_text_that_is_not_utf8_is_refused_in_the_block_that_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deep in a file, as the CSV reader's own check refused it: "after row N", N the rows of
    the blocks before the one that holds the bad byte (other text beyond ASCII is read)."""
    monkeypatch.setattr(reading, "BLOCK_BYTES", 4096)
    rows = cur_rows(40)
    bad_row = len(rows) - 7
    rows[bad_row][HEADER.index("lineItem/LineItemDescription")] = "Zz"
    good = write_cur(tmp_path / "good.csv", rows)
    firsts = [batch.first_row for batch in reading.open_export(good).batches()]
    block_first = max(first for first in firsts if first <= bad_row + 2)  # the header is row 1
    assert block_first > 2
    bad = tmp_path / "bad.csv"
    bad.write_bytes(good.read_bytes().replace(b"Zz", b"Z\xe9"))
    with pytest.raises(BillingFileError, match=rf": after row {block_first - 1}: not UTF-8 text"):
        convert([bad], tmp_path / "out.parquet")


def test_cur2_packed_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CUR 2.0 packs tags into one JSON column: read the same as separate tag columns."""
    header = [cur2_name(name) for name in HEADER if not name.startswith("resource")]
    header.append("resource_tags")
    rows = [
        [*row[: len(header) - 1], tags]
        for row, tags in zip(
            cur_rows(),
            ['{"user_team": "web"}', "", '{"b": "2", "a": "ü"}', "{}", '{"n": 1.5}'] * 10,
            strict=False,
        )
    ]
    source = write_cur(tmp_path / "cur2.csv", rows, header)
    fast, slow, *_ = _convert_both(tmp_path, source, monkeypatch)
    _same(fast, slow)
    assert fast[2]["Tags"] == '{"a": "\\u00fc", "b": "2"}'
    assert fast[3]["Tags"] is None


def _error(source: Path, tmp_path: Path) -> str:
    with pytest.raises(BillingFileError) as caught:
        convert([source], tmp_path / "out.parquet")
    return caught.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lineItem/UsageStartDate": "2024-05-03T25:00:00Z"}, "not a timestamp: '2024-05-03T25"),
        ({"lineItem/UnblendedCost": "12 USD"}, "not a number: '12 USD'"),
        ({"lineItem/UnblendedCost": ","}, "not a number: ','"),
        ({"lineItem/UsageAmount": "1e400"}, "not a finite number: '1e400'"),
        ({"lineItem/UsageAmount": "nan"}, "not a finite number: 'nan'"),
        ({"lineItem/CurrencyCode": "usd"}, "BillingCurrency 'usd' is not an ISO 4217 code"),
        ({"bill/PayerAccountId": " "}, "BillingAccountId is missing"),
        ({"pricing/publicOnDemandRate": "-1.5"}, "ListUnitPrice -1.5 is negative"),
        (
            {"lineItem/UsageEndDate": "2024-05-03T09:00:00Z"},
            "ChargePeriodEnd 2024-05-03T09:00:00[+]00:00 is before ChargePeriodStart",
        ),
        ({"resource_tags_user:team": "x", "lineItem/CurrencyCode": ""}, "BillingCurrency is"),
    ],
)
def test_bad_values_are_refused_with_the_row_paths_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], message: str
) -> None:
    monkeypatch.setattr(reading, "BLOCK_BYTES", 4096)
    rows = cur_rows(20)
    bad = {**_BASE, **changes}
    rows.insert(450, [bad[name] for name in HEADER])
    source = write_cur(tmp_path / "cur.csv", rows)
    fast = _error(source, tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(CurConnector, "map_batch", _always_unsure)
        slow = _error(source, tmp_path)
    assert fast == slow
    assert fast.startswith(f"{source}: row 452: ")  # the header is row 1
    assert re.search(message, fast), fast


def test_an_earlier_rule_breach_beats_a_later_unreadable_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within one batch the first bad row is reported, whether a rule or a value fails it."""
    rows = cur_rows()
    rows[3][HEADER.index("lineItem/CurrencyCode")] = "EURO"
    rows[5][HEADER.index("lineItem/UsageStartDate")] = "yesterday"
    source = write_cur(tmp_path / "cur.csv", rows)
    assert "row 5: BillingCurrency 'EURO'" in _error(source, tmp_path)
    rows[3][HEADER.index("lineItem/CurrencyCode")] = "EUR"
    write_cur(source, rows)
    assert "row 7: not a timestamp: 'yesterday'" in _error(source, tmp_path)


# -- the column helpers ---------------------------------------------------------------------------

_SPELLINGS = [
    "1", "-0", "+2.5", ".5", "5.", "1e5", "1E-3", " 7 ", "\xa08\u3000", "1,234.5", "NULL",
    " NULL ", "", "0001", "123456789012345678901234567890", "4.9e-324", "1.7976931348623157e308",
]  # fmt: skip


def test_numbers_read_what_float_reads() -> None:
    column = pa.array([*_SPELLINGS, None])
    assert columnar.numbers(column).to_pylist() == [v.number(s) for s in _SPELLINGS] + [None]


@pytest.mark.parametrize("spelling", ["1_000", "١٢", "0x10", "1e400", "inf", "-nan", "1 2"])
def test_numbers_unsure_of_what_only_python_judges(spelling: str) -> None:
    with pytest.raises(columnar.Unsure):
        columnar.numbers(pa.array(["1", spelling]))


def test_texts_trim_as_python_does() -> None:
    spellings = [" a ", "\xa0b\u2003", "\x1cc\x1f", "NULL", " NULL", "null", "\t", "d e", "ü"]
    expected = [v.text(s) for s in spellings]
    assert columnar.texts(pa.array(spellings)).to_pylist() == expected


@pytest.mark.parametrize(
    "spellings",
    [
        ["a", "b c", None, "~"],
        ["a", "b", " c"],
        ["a", "b\t", "c"],
        ["a", "\u3000"],
        ["\x7f", "é", None],
        [None, "", "a", ""],
        ["", None],
        ["", "b "],
        [" b", ""],
        ["", " b", None],
    ],
)
def test_trim_skips_only_columns_with_nothing_to_trim(spellings: list[str | None]) -> None:
    """The in-place check of first and last bytes, on whole columns and on slices of them (a
    slice shares its buffers with an offset)."""
    column = pa.array(spellings, pa.string())
    for part in (column, column.slice(1), column.slice(0, len(spellings) - 1)):
        expected = [None if s is None else s.strip() for s in part.to_pylist()]
        assert columnar.trim(part).to_pylist() == expected


def test_trim_keeps_a_column_of_printable_ascii_as_it_is() -> None:
    """No byte of the column is whitespace or beyond ASCII: the column itself comes back."""
    column = pa.array(["i-0001", None, "", "2024-05-01T00:00:00Z", "~!"], pa.string())
    assert columnar.trim(column) is column
    assert columnar.trim(column.slice(1)).to_pylist() == [None, "", "2024-05-01T00:00:00Z", "~!"]


def test_texts_of_an_empty_column_and_of_literal_nulls() -> None:
    assert columnar.texts(pa.nulls(3, pa.string())).to_pylist() == [None, None, None]
    for spellings in (["NULL", "a"], ["", "a"], ["NULL", "", "a", " NULL "], ["a", None]):
        expected = [v.text(s) for s in spellings]
        assert columnar.texts(pa.array(spellings, pa.string())).to_pylist() == expected


@pytest.mark.parametrize(
    "spellings",
    [
        ["SKU1", "ab"],  # four characters, none of them NULL
        ["NULL"],
        ["ab", "abcdef", "NULL", None],
        ["abcdef", "ghijkl"],  # lengths that rule out both kinds of blank
        ["", "", None],
        ["NULL", "abc", ""],
        ["é", "NULL", "abcdefgh"],
    ],
)
def test_texts_find_blanks_whatever_the_lengths(spellings: list[str | None]) -> None:
    """Blank values are looked for only where the lengths allow them: whole columns and slices
    (whose offsets do not start at zero) must come out as the row path reads them."""
    column = pa.array(spellings, pa.string())
    for part in (column, column.slice(1), column.slice(0, len(spellings) - 1)):
        expected = [v.text(s) for s in part.to_pylist()]
        assert columnar.texts(part).to_pylist() == expected


def test_distinct_keeps_first_appearance_and_nulls() -> None:
    left = pa.array(["b", "a", None, "b", "a", "b"])
    right = pa.array(["x", "y", "x", "x", None, "z"])
    positions, found = columnar.distinct([left, right])
    assert found == [("b", "x"), ("a", "y"), (None, "x"), ("a", None), ("b", "z")]
    assert positions.to_pylist() == [0, 1, 2, 0, 3, 4]


def test_distinct_of_one_column_and_of_empty_columns() -> None:
    positions, found = columnar.distinct([pa.array(["b", None, "a", "b", None])])
    assert found == [("b",), (None,), ("a",)]
    assert positions.to_pylist() == [0, 1, 2, 0, 1]
    empty = pa.nulls(3, pa.string())
    positions, found = columnar.distinct([empty, pa.array(["x", "y", "x"]), empty])
    assert found == [(None, "x", None), (None, "y", None)]
    assert positions.to_pylist() == [0, 1, 0]


def test_masks_treat_null_as_not_true() -> None:
    assert not columnar.has(pa.array([None, False]))
    assert columnar.has(pa.array([None, True]).slice(1))
    assert not columnar.has(pa.array([True, None]).slice(1))
    column = pa.array(["a", "b", "c"])
    assert columnar.where(pa.array([True, True, True]), column) is column
    assert columnar.where(pa.array([True, None, False]), column).to_pylist() == ["a", None, None]
    assert columnar.unless(pa.array([None, False, True]), column).to_pylist() == ["a", "b", None]


@pytest.mark.parametrize(
    "columns",
    [
        [[None, None, None], ["a", None, "c"]],  # a column with no value is passed over
        [["a", "b", "c"], [None, "y", None]],  # a column with no null decides every row
        [[None, "b", None], [None, None, None], ["x", "y", None]],
        [[None, None], [None, None]],
        [[], []],
    ],
)
def test_coalesce_gives_what_arrows_coalesce_gives(columns: list[list[str | None]]) -> None:
    arrays = [pa.array(column, pa.string()) for column in columns]
    assert columnar.coalesce(*arrays).equals(pc.coalesce(*arrays))
    assert columnar.filled(arrays[0], "-").equals(pc.fill_null(arrays[0], "-"))


def test_coalesce_copies_nothing_when_one_column_decides() -> None:
    full = pa.array(["a", "b"])
    assert columnar.coalesce(pa.nulls(2, pa.string()), full, pa.array(["x", None])) is full
    assert columnar.filled(full, "-") is full


def test_per_combination_keeps_or_rebuilds_its_last_column() -> None:
    left = pa.array(["a", "b", "a", None])
    right = pa.array(["x", "y", None, "z"])
    kept = columnar.per_combination([left, right], lambda _, last: last, pa.string())
    assert kept is right
    changed = columnar.per_combination(
        [left, right], lambda first, last: f"{first}/{last}", pa.string()
    )
    assert changed.to_pylist() == ["a/x", "b/y", "a/None", "None/z"]


def test_per_value_of_null_maps_null_too() -> None:
    column = pa.array(["a", None, "a"])
    mapped = columnar.per_value(column, repr, pa.string(), of_null=True)
    assert mapped.to_pylist() == ["'a'", "None", "'a'"]
    assert columnar.per_value(column, repr, pa.string()).to_pylist() == ["'a'", None, "'a'"]
    blank = columnar.per_value(pa.nulls(2, pa.string()), repr, pa.string(), of_null=True)
    assert blank.to_pylist() == ["None", "None"]


def test_per_value_of_one_repeated_value() -> None:
    same = pa.array(["2024-05-01", "2024-05-01", "2024-05-01"])
    assert columnar.per_value(same, str.upper, pa.string()) is same  # nothing to change
    assert columnar.instants(same).to_pylist() == [v.instant("2024-05-01")] * 3
    assert columnar.per_value(same, len, pa.int64()).to_pylist() == [10, 10, 10]
    paired = columnar.per_value(
        same, lambda s: (s, s[:4]), pa.struct([("a", pa.string()), ("b", pa.string())])
    )
    assert paired.to_pylist() == [{"a": "2024-05-01", "b": "2024"}] * 3
    ends_alike = pa.array(["a", "b", "a"])  # same first and last value, another between
    assert columnar.per_value(ends_alike, str.upper, pa.string()).to_pylist() == ["A", "B", "A"]
    with_null = pa.array(["a", None, "a"])
    assert columnar.per_value(with_null, str.upper, pa.string()).to_pylist() == ["A", None, "A"]
    with pytest.raises(columnar.Unsure):
        columnar.instants(pa.array(["soon", "soon"]))


def test_services_get_a_fitting_subcategory_and_keep_their_first_pair() -> None:
    catalog = ServiceCatalog()
    columns = {
        "ServiceName": pa.array(["EC2", "EC2", "S3", "EC2", "Box"]),
        "ServiceCategory": pa.array(["Compute", "Storage", "Storage", "Compute", "Compute"]),
        "ServiceSubcategory": pa.array(
            ["Virtual Machines", "Object Storage", "Object Storage", None, "Object Storage"]
        ),
    }
    catalog.settle(columns)
    assert columns["ServiceCategory"].to_pylist() == ["Compute"] * 2 + ["Storage"] + ["Compute"] * 2
    assert columns["ServiceSubcategory"].to_pylist() == [
        "Virtual Machines", "Virtual Machines", "Object Storage", "Virtual Machines",
        "Other (Compute)",
    ]  # fmt: skip
    assert catalog.adjusted == 2  # EC2 filed under Storage, and EC2 with no subcategory
    following = {name: pa.array(["Other (Compute)"]) for name in ("ServiceSubcategory",)}
    following |= {"ServiceName": pa.array(["Box"]), "ServiceCategory": pa.array(["Compute"])}
    catalog.settle(following)
    assert following["ServiceSubcategory"].to_pylist() == ["Other (Compute)"]
    assert catalog.adjusted == 2


def test_ahead_reraises_in_order_and_stops_its_thread() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise BillingFileError("broken at 3")

    got: list[int] = []
    with pytest.raises(BillingFileError, match="broken at 3"):
        got.extend(pipeline.ahead(produce(), "test-read"))
    assert got == [1, 2]
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    for n in pipeline.ahead(endless(), "test-read"):
        if n == 5:
            break
    assert closed.wait(5)
    assert not [t for t in threading.enumerate() if t.name == "test-read"]


def test_behind_reraises_the_writers_failure() -> None:
    written: list[int] = []

    def write(item: int) -> None:
        if item == 3:
            raise OSError("disk full")
        written.append(item)

    with pytest.raises(OSError, match="disk full"), pipeline.behind(write, "test-write") as put:
        for item in range(100):
            put(item)
    assert written == [0, 1, 2]
    with pipeline.behind(written.append, "test-write") as put:
        put(7)
    assert written[-1] == 7


def test_behind_takes_a_row_group_of_batches_while_the_writer_is_busy() -> None:
    """The writer encodes a whole row group at once; meanwhile the caller keeps mapping."""
    busy = threading.Event()
    release = threading.Event()
    written: list[int] = []

    def write(item: int) -> None:
        busy.set()
        release.wait(10)
        written.append(item)

    accepted: list[int] = []
    with pipeline.behind(write, "test-write") as put:
        put(0)
        assert busy.wait(5)

        def feed() -> None:
            for item in range(1, 7):
                put(item)
                accepted.append(item)

        feeder = threading.Thread(target=feed)
        feeder.start()
        feeder.join(5)
        assert accepted == list(range(1, 7))  # none of them waited for the writer
        release.set()
    assert written == list(range(7))


def test_ahead_stays_a_bounded_number_of_items_ahead() -> None:
    produced: list[int] = []

    def produce() -> Iterator[int]:
        for n in range(100):
            produced.append(n)
            yield n

    items = pipeline.ahead(produce(), "test-read")
    assert next(items) == 0
    time.sleep(0.3)
    assert len(produced) <= pipeline.DEPTH + 2  # the queue, the one in hand, the one taken
    assert list(items) == list(range(1, 100))
