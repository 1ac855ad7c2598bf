"""Converting billing exports to FOCUS 1.2: recognition, values, x_ columns, bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from datoferum.domain.focus import COLUMNS, SUBCATEGORIES
from datoferum.errors import BillingFileError
from datoferum.services.focus import convert, parquet, reading
from focus_samples import (
    AZURE,
    CUR_LEGACY,
    FOCUS_10,
    GCP,
    azure_camel_case,
    azure_legacy,
    azure_with_currency,
    cur2_from_legacy,
    fixture,
    gcp_json_from_csv,
    read_rows,
    repaired_test_cur,
    write_rows,
    write_text,
)


def rows_of(path: Path) -> list[dict[str, Any]]:
    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    return table.to_pylist()  # type: ignore[no-any-return]


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


CORE = [column.name for column in COLUMNS if column.core]


# -- AWS ----------------------------------------------------------------------------------------


def test_cur_legacy_values(tmp_path: Path) -> None:
    source = write_text(tmp_path / "cur.csv", CUR_LEGACY)
    report = convert([source], tmp_path / "out.parquet")
    assert [(i.source, i.rows) for i in report.inputs] == [("aws-cur", 5)]
    usage, reserved, storage, tax, credit = rows_of(tmp_path / "out.parquet")
    assert report.columns[: len(CORE)] == CORE
    assert usage["BillingAccountId"] == "111122223333"  # an account id stays a string
    assert usage["SubAccountId"] == "444455556666"
    assert usage["ChargePeriodStart"] == at(2024, 5, 3, 10)
    assert usage["ChargePeriodEnd"] == at(2024, 5, 3, 11)
    assert usage["BillingPeriodEnd"] == at(2024, 6, 1)
    assert (usage["ChargeCategory"], usage["ChargeFrequency"]) == ("Usage", "Usage-Based")
    assert usage["ServiceCategory"] == "Compute"
    assert usage["ServiceSubcategory"] == "Virtual Machines"
    assert (usage["RegionId"], usage["RegionName"]) == ("us-east-1", "US East (N. Virginia)")
    assert usage["PricingUnit"] == "Hours"  # "Hrs" in the CUR
    assert json.loads(usage["Tags"]) == {"user:team": "web", "user:env": "prod"}
    assert usage["x_lineItem_Operation"] == "RunInstances"  # unknown columns are kept
    assert usage["InvoiceId"] == "INV-1"
    # A reserved instance hour: billed 0, its effective cost is the amortised reservation.
    assert (reserved["BilledCost"], reserved["EffectiveCost"], reserved["ListCost"]) == (
        0.0,
        0.11,
        0.17,
    )
    assert reserved["CommitmentDiscountId"].endswith("r-1")
    assert reserved["CommitmentDiscountCategory"] == "Usage"
    assert reserved["PricingCategory"] == "Committed"
    assert storage["PricingUnit"] == "GB-Months"
    assert storage["ServiceCategory"] == "Storage"
    assert tax["ChargeCategory"] == "Tax"
    assert tax["PricingQuantity"] is None and tax["PricingUnit"] is None
    assert (credit["ChargeCategory"], credit["BilledCost"]) == ("Credit", -0.02)
    assert "x_reservation_ReservationARN" not in report.columns  # consumed, not custom


def test_cur2_header_gives_the_same_focus_values(tmp_path: Path) -> None:
    legacy = write_text(tmp_path / "cur.csv", CUR_LEGACY)
    modern = cur2_from_legacy(legacy, tmp_path / "cur2.csv")
    assert "line_item_usage_start_date" in read_rows(modern)[0]
    one = convert([legacy], tmp_path / "legacy.parquet")
    two = convert([modern], tmp_path / "modern.parquet")
    assert two.inputs[0].source == "aws-cur2"
    focus_columns = [name for name in one.columns if not name.startswith("x_")]
    left = [
        {k: r[k] for k in focus_columns if k != "Tags"}
        for r in rows_of(tmp_path / "legacy.parquet")
    ]
    right = [
        {k: r[k] for k in focus_columns if k != "Tags"}
        for r in rows_of(tmp_path / "modern.parquet")
    ]
    assert left == right


def test_real_cur_savings_plan_usage(tmp_path: Path) -> None:
    source = fixture("billing/aws/2023-06-01.csv")
    convert([source], tmp_path / "out.parquet")
    rows = rows_of(tmp_path / "out.parquet")
    assert len(rows) == 3
    first = rows[0]
    assert first["BillingCurrency"] == "NOK"
    assert (first["BilledCost"], first["EffectiveCost"]) == (10.0, 0.1)
    assert first["ChargePeriodStart"] == at(2023, 6, 1, 0)  # "2023-06-01 00:00:00", no T or Z
    assert first["x_costCategory_cost_env"] == "prod"
    assert first["x_noTags_user_app"] == "slatt"


def test_real_broken_cur_is_refused_with_its_row(tmp_path: Path) -> None:
    """Every data row of test_cur.csv has 130 fields under a 131-name header: refused, not
    guessed; the repaired variant converts."""
    source = fixture("billing/aws/test_cur.csv")
    with pytest.raises(
        BillingFileError, match=r"test_cur\.csv: row 2.*expected 131 fields, found 130"
    ):
        convert([source], tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    repaired = repaired_test_cur(source, tmp_path / "test_cur.csv")
    report = convert([repaired], tmp_path / "out.parquet")
    assert report.rows == 19
    rows = rows_of(tmp_path / "out.parquet")
    assert {r["x_costCategory_CostCenter"] for r in rows} == {"774", None}
    assert all(r["PricingUnit"] == "GB" for r in rows)


# -- Azure --------------------------------------------------------------------------------------


def test_azure_values(tmp_path: Path) -> None:
    source = write_text(tmp_path / "azure.csv", AZURE)
    report = convert([source], tmp_path / "out.parquet")
    assert report.inputs[0].source == "azure"
    vm, blob, purchase = rows_of(tmp_path / "out.parquet")
    assert vm["ChargePeriodStart"] == at(2024, 5, 3)
    assert vm["ChargePeriodEnd"] == at(2024, 5, 4)  # a daily row ends at the next midnight
    assert vm["BillingPeriodEnd"] == at(2024, 6, 1)  # Azure's inclusive 05-31, made exclusive
    assert vm["PricingUnit"] == "Hours"  # "1 Hour"
    assert vm["ListCost"] == pytest.approx(0.11 * 24)
    assert vm["ContractedCost"] == pytest.approx(0.096 * 24)
    assert vm["RegionId"] == "eastus"
    assert json.loads(vm["Tags"]) == {"team": "web", "env": "prod"}  # brace-less Azure tags
    assert blob["PricingUnit"] == "GB/Month"  # "1 GB/Month"
    assert (purchase["ChargeCategory"], purchase["ChargeFrequency"]) == ("Purchase", "One-Time")
    assert purchase["RegionId"] is None and purchase["RegionName"] is None


def test_real_azure_header_variants_agree(tmp_path: Path) -> None:
    source = fixture("billing/azure/azure_version_2.csv")
    with pytest.raises(BillingFileError, match=r"row 2: BillingCurrency 'MC' is not an ISO 4217"):
        convert([source], tmp_path / "out.parquet")
    base = azure_with_currency(source, tmp_path / "v2.csv")
    camel = azure_camel_case(source, tmp_path / "camel.csv")
    legacy = azure_legacy(source, tmp_path / "legacy.csv")
    results = []
    for variant in (base, camel, legacy):
        out = tmp_path / f"{variant.stem}.parquet"
        assert convert([variant], out).inputs[0].source == "azure"
        results.append(rows_of(out))
    keys = ["BilledCost", "ChargePeriodStart", "ServiceName", "SubAccountId", "ResourceId"]
    for rows in results[1:]:
        assert [[r[k] for k in keys] for r in rows] == [[r[k] for k in keys] for r in results[0]]
    first = results[0][0]
    assert first["BilledCost"] == 0.114455
    assert first["PricingUnit"] == "Units/Month"  # "1 /Month"
    assert first["ChargeCategory"] == "Usage"
    assert results[0][1]["ChargeCategory"] == "Purchase"
    assert results[0][1]["PublisherName"] == "OpenShift on Azure testing"


# -- GCP ----------------------------------------------------------------------------------------


def test_gcp_csv_and_json_agree(tmp_path: Path) -> None:
    source = write_text(tmp_path / "gcp.csv", GCP)
    lines = gcp_json_from_csv(source, tmp_path / "gcp.jsonl")
    array = gcp_json_from_csv(source, tmp_path / "gcp.json", lines=False)
    report = convert([source, lines, array], tmp_path / "out.parquet")
    assert [i.source for i in report.inputs] == ["gcp-csv", "gcp-json", "gcp-json"]
    rows = rows_of(tmp_path / "out.parquet")
    assert len(rows) == 9
    vm = rows[0]
    assert vm["BilledCost"] == pytest.approx(0.038)  # cost plus its sustained-use credit
    assert vm["ListCost"] == 0.0475
    assert vm["BillingPeriodStart"] == at(2024, 5, 1)
    assert vm["BillingPeriodEnd"] == at(2024, 6, 1)
    assert (vm["PricingQuantity"], vm["PricingUnit"]) == (1.0, "Hours")
    assert (vm["ConsumedQuantity"], vm["ConsumedUnit"]) == (3600.0, "Seconds")
    assert json.loads(vm["Tags"]) == {"team": "web"}
    assert rows[1]["ChargePeriodStart"] == at(2024, 5, 3)  # "... UTC" spelling
    assert rows[2]["ChargeCategory"] == "Tax"
    focus_columns = [name for name in report.columns if not name.startswith("x_")]
    for offset in (3, 6):
        for k in focus_columns:
            assert rows[offset][k] == rows[0][k] or (
                isinstance(rows[0][k], float) and rows[offset][k] == pytest.approx(rows[0][k])
            ), k


def test_real_gcp_csv_and_json(tmp_path: Path) -> None:
    source = fixture("billing/gcp/2022-08-01_5.csv")
    as_json = gcp_json_from_csv(source, tmp_path / "bq.json")
    convert([source], tmp_path / "csv.parquet")
    convert([as_json], tmp_path / "json.parquet")
    csv_rows, json_rows = rows_of(tmp_path / "csv.parquet"), rows_of(tmp_path / "json.parquet")
    assert len(csv_rows) == len(json_rows) == 9
    for a, b in zip(csv_rows, json_rows, strict=True):
        for k in ("BilledCost", "ChargePeriodStart", "ServiceName", "SubAccountId", "SkuId"):
            assert a[k] == b[k]
    assert csv_rows[0]["ServiceCategory"] == "Compute"
    assert csv_rows[0]["x_partition_date"] == "2022-08-01"


# -- FOCUS --------------------------------------------------------------------------------------


def test_focus_10_to_12(tmp_path: Path) -> None:
    source = write_text(tmp_path / "focus.csv", FOCUS_10)
    report = convert([source], tmp_path / "out.parquet")
    assert report.inputs[0].source == "focus"
    usage, credit = rows_of(tmp_path / "out.parquet")
    assert usage["ChargeFrequency"] == "Usage-Based"  # "Usage-based" in the file
    assert usage["ChargeClass"] is None  # literal NULL
    assert usage["ChargePeriodStart"] == at(2024, 5, 3, 10)
    assert usage["ServiceSubcategory"] == "Other (Compute)"  # not in FOCUS 1.0
    assert usage["x_Id"] == "1"  # an unprefixed custom column
    assert credit["ContractedCost"] == -0.1  # NULL in the file: the list cost
    assert credit["ConsumedQuantity"] is None and credit["ConsumedUnit"] is None


def test_real_focus_sample(tmp_path: Path) -> None:
    source = fixture("focus/focus-1.0-sample-1000.csv")
    report = convert([source], tmp_path / "out.parquet")
    rows = rows_of(tmp_path / "out.parquet")
    assert len(rows) == report.rows == 1000
    assert "x_Id" in report.columns
    assert not any(v == "NULL" for r in rows for v in r.values())
    for row in rows:
        assert SUBCATEGORIES[row["ServiceSubcategory"]] == row["ServiceCategory"]
    by_name: dict[str, set[str]] = {}
    for row in rows:
        by_name.setdefault(row["ServiceName"], set()).add(row["ServiceCategory"])
    assert all(len(categories) == 1 for categories in by_name.values())
    assert report.services_adjusted > 0  # the sample files one service under two categories
    (credit,) = [r for r in rows if r["ChargeDescription"].startswith("AWS Open Source Promo")]
    assert credit["ContractedUnitPrice"] is None  # -3.00 a unit in the file: dropped
    assert credit["ContractedCost"] == -3.0  # the cost itself is kept


# -- output and bad input ---------------------------------------------------------------------


def test_csv_output_and_many_inputs(tmp_path: Path) -> None:
    inputs = [
        write_text(tmp_path / "cur.csv", CUR_LEGACY),
        write_text(tmp_path / "azure.csv", AZURE),
        write_text(tmp_path / "gcp.csv", GCP),
        write_text(tmp_path / "focus.csv", FOCUS_10),
    ]
    report = convert(inputs, tmp_path / "out.csv")
    assert report.rows == 5 + 3 + 3 + 2
    text = (tmp_path / "out.csv").read_text()
    assert '"2024-05-03T10:00:00Z"' in text  # FOCUS date-time format in CSV
    header = text.splitlines()[0]
    assert header.startswith('"BillingAccountId","BillingAccountName"')


def test_gzip_input(tmp_path: Path) -> None:
    packed = tmp_path / "cur.csv.gz"
    packed.write_bytes(gzip.compress(CUR_LEGACY.encode()))
    assert convert([packed], tmp_path / "out.parquet").rows == 5


def test_small_blocks_stream_and_keep_row_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header, rows = read_rows(write_text(tmp_path / "one.csv", CUR_LEGACY))
    many = write_rows(tmp_path / "many.csv", header, rows[:1] * 2000 + [rows[0][:5]])
    monkeypatch.setattr(reading, "BLOCK_BYTES", 4096)
    with pytest.raises(BillingFileError, match=r"expected 31 fields, found 5"):
        convert([many], tmp_path / "out.parquet")
    bad = rows[:1] * 1500 + [[*rows[0][:17], "not-a-cost", *rows[0][18:]]]
    write_rows(many, header, bad)
    with pytest.raises(BillingFileError, match=r"many\.csv: row 1502: not a number: 'not-a-cost'"):
        convert([many], tmp_path / "out.parquet")
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"name,size\nx,1\n", "unknown format: the columns \\(name, size\\)"),
        (
            CUR_LEGACY.replace("0.096,0.096,$", "0.096,NaN,$").encode(),
            "row 2: not a finite number: 'NaN'",
        ),
        (
            CUR_LEGACY.replace(",USD,", ",US Dollars,", 1).encode(),
            "row 2: BillingCurrency 'US Dollars'",
        ),
        (
            CUR_LEGACY.replace(",USD,0.096,", ",USD,-0.096,", 1).encode(),
            "row 2: ContractedUnitPrice -0.096 is negative",
        ),
        (
            CUR_LEGACY.replace(
                "2024-05-03T10:00:00Z,2024-05-03T11:00:00Z",
                "2024-05-03T12:00:00Z,2024-05-03T11:00:00Z",
                1,
            ).encode(),
            "row 2: ChargePeriodEnd .* is before ChargePeriodStart",
        ),
        (CUR_LEGACY.encode().replace(b"Virginia", b"Virg\xe9nia"), "not UTF-8 text"),
        (b'{"billing_account_id": "a", "cost": 1,\n', "record 1: truncated JSON"),
        (b'[{"billing_account_id": "a"}, {"cost": }]', "record 2: malformed JSON"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "input.csv"
    source.write_bytes(content)
    output = tmp_path / "out.parquet"
    output.write_bytes(b"previous result")
    with pytest.raises(BillingFileError, match=message) as caught:
        convert([source], output)
    assert str(source) in caught.value.detail
    assert output.read_bytes() == b"previous result"  # untouched: nothing half-written
    assert not list(tmp_path.glob(".*part"))


def test_unknown_output_extension(tmp_path: Path) -> None:
    source = write_text(tmp_path / "cur.csv", CUR_LEGACY)
    with pytest.raises(BillingFileError, match=r"name the output \.parquet or \.csv"):
        convert([source], tmp_path / "out.xlsx")


def test_cli(tmp_path: Path) -> None:
    source = write_text(tmp_path / "cur.csv", CUR_LEGACY)
    command = [sys.executable, "-m", "datoferum", "focus", "convert"]
    done = subprocess.run(
        [*command, str(source), "-o", str(tmp_path / "o.parquet"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["rows"] == 5 and answer["inputs"][0]["source"] == "aws-cur"
    weird = write_text(tmp_path / "weird.csv", "a,b\n1,2\n")
    done = subprocess.run(
        [*command, str(weird), "-o", str(tmp_path / "w.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"datoferum: error: {weird}: unknown format")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w.csv").exists()


_PEAK = """
import sys
from pathlib import Path
import pyarrow as pa
from datoferum.services.focus import convert, converter, reading
reading.BLOCK_BYTES = 256 * 1024
converter.ROW_GROUP_ROWS = 2000
convert([Path(sys.argv[1])], Path(sys.argv[2]))
print(pa.default_memory_pool().max_memory())
"""


def test_memory_stays_flat_as_files_grow(tmp_path: Path) -> None:
    """Arrow's peak memory for a file four times bigger stays about the same: rows stream in
    blocks and leave in row groups, whatever the file size."""
    header, rows = read_rows(write_text(tmp_path / "one.csv", CUR_LEGACY))
    peaks = {}
    for copies in (10_000, 40_000):
        source = write_rows(tmp_path / f"cur{copies}.csv", header, rows[:3] * copies)
        done = subprocess.run(
            [sys.executable, "-c", _PEAK, str(source), str(tmp_path / "out.parquet")],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[source.stat().st_size] = int(done.stdout.strip())
    (small, small_peak), (large, large_peak) = sorted(peaks.items())
    assert large > 3 * small
    assert large_peak < 1.5 * small_peak, peaks
    assert large_peak < large / 2, peaks


def test_bom_and_crlf(tmp_path: Path) -> None:
    """Exports saved by spreadsheet tools start with a byte-order mark and end lines in CRLF."""
    source = tmp_path / "azure.csv"
    source.write_bytes(b"\xef\xbb\xbf" + AZURE.replace("\n", "\r\n").encode())
    report = convert([source], tmp_path / "out.parquet")
    assert report.inputs[0].source == "azure"
    first = rows_of(tmp_path / "out.parquet")[0]
    assert first["BillingAccountId"] == "8611537"
    assert first["SkuId"] == "DZH318Z0BQ4L"  # the last column, before the CR


def test_focus_12_output_converts_to_itself(tmp_path: Path) -> None:
    """A converted file is a FOCUS 1.2 file: converting it again changes nothing, its x_
    columns keep their names, and a 1.2 column outside the core (PricingCurrency) is carried."""
    inputs = [
        write_text(tmp_path / "cur.csv", CUR_LEGACY),
        write_text(tmp_path / "gcp.csv", GCP),
    ]
    first = tmp_path / "first.csv"
    convert(inputs, first)
    header, rows = read_rows(first)
    at = header.index("BillingCurrency")
    header, rows = [*header, "PricingCurrency"], [[*row, row[at]] for row in rows]
    write_rows(first, header, rows)
    report = convert([first], tmp_path / "second.csv")
    assert report.inputs[0].source == "focus"
    again_header, again = read_rows(tmp_path / "second.csv")
    assert "PricingCurrency" in again_header
    assert not any(name.startswith("x_x_") for name in again_header)
    before = [dict(zip(header, row, strict=True)) for row in rows]
    after = [dict(zip(again_header, row, strict=True)) for row in again]
    for old, new in zip(before, after, strict=True):
        assert new == {k: old[k] for k in new}


def test_parquet_keeps_statistics_of_times_and_amounts(tmp_path: Path) -> None:
    """Readers prune row groups by period and amount ranges; text statistics are left out."""
    source = write_text(tmp_path / "cur.csv", CUR_LEGACY)
    convert([source], tmp_path / "out.parquet")
    group = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0)
    by_name = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    start = by_name["ChargePeriodStart"].statistics
    assert start is not None and start.has_min_max
    assert start.min == at(2024, 5, 1) and start.max >= at(2024, 5, 3, 10)
    billed = by_name["BilledCost"].statistics
    assert billed is not None and billed.has_min_max and billed.min == -0.02
    service = by_name["ServiceName"].statistics
    assert service is None or not service.has_min_max


def _encodings(path: Path) -> dict[str, tuple[str, ...]]:
    group = pq.ParquetFile(path).metadata.row_group(0)
    return {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)
    }


def test_parquet_dictionary_only_where_values_repeat(tmp_path: Path) -> None:
    """Ids that never repeat are written plain; repeated values through a dictionary."""
    header, rows = read_rows(write_text(tmp_path / "sample.csv", CUR_LEGACY))
    many = [[f"li-{n}", *rows[n % len(rows)][1:]] for n in range(2000)]
    source = write_rows(tmp_path / "cur.csv", header, many)
    convert([source], tmp_path / "out.parquet")
    encodings = _encodings(tmp_path / "out.parquet")
    assert "RLE_DICTIONARY" not in encodings["x_identity_LineItemId"]
    assert "RLE_DICTIONARY" in encodings["BillingAccountId"]
    assert "RLE_DICTIONARY" in encodings["BilledCost"]
    assert (
        pq.read_table(tmp_path / "out.parquet").column("x_identity_LineItemId")[-1].as_py()
        == "li-1999"
    )


def test_parquet_output_of_a_header_only_file_has_the_schema(tmp_path: Path) -> None:
    header, _rows = read_rows(write_text(tmp_path / "sample.csv", CUR_LEGACY))
    source = write_rows(tmp_path / "cur.csv", header, [])
    report = convert([source], tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert report.rows == 0 and table.num_rows == 0
    assert table.schema.names == report.columns


def test_parquet_keeps_dictionaries_when_too_few_rows_show_the_values(tmp_path: Path) -> None:
    """A lake partition may start with a handful of rows, all distinct by chance."""
    few = pa.table({"id": [f"li-{n}" for n in range(50)], "cost": [n / 7 for n in range(50)]})
    with parquet.writer(tmp_path / "few.parquet", few) as target:
        target.write_table(few)
    assert all("RLE_DICTIONARY" in found for found in _encodings(tmp_path / "few.parquet").values())
