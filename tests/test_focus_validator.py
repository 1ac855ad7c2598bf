"""The official FOCUS validator on the converted output of every fixture and variant.

A converted file passes when every rule the validator fails is listed in ``VALIDATOR_BUGS``
below with the reason it is the validator's fault, not the file's. A composite rule of a
column ("Composite check for <Column>") that fails because one of those listed rules of the
same column failed is accepted too; any other failure fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from datoferum.services.focus import convert
from focus_checker import Validator, Verdict
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
    opencost_allocation,
    opencost_response,
    repaired_test_cur,
    write_json,
    write_text,
)

#: Rules focus-validator 2.2.1 gets wrong, with the reason; nothing else may fail.
VALIDATOR_BUGS = {
    "InvoiceId-C-004-C": (
        "'InvoiceId MUST be null when the charge is not associated with an invoice' is run "
        "without its condition, as 'InvoiceId MUST be null' on every row, so any file with "
        "invoice ids fails it"
    ),
    "InvoiceId-C-005-C": (
        "the mirror rule ('MUST NOT be null when associated with an invoice') is also run "
        "without its condition, so a file fails one of the two whatever it holds"
    ),
    "BilledCost-C-005-C": (
        "'BilledCost MUST be 0 when a third party is paid' is checked as ProviderName != "
        "InvoiceIssuerName; AWS's own FOCUS data names 'AWS' the provider and 'Amazon Web "
        "Services, Inc.' (its legal entity, not a third party) the issuer"
    ),
}


def unexplained(verdict: Verdict) -> dict[str, str]:
    """The failed or errored rules that ``VALIDATOR_BUGS`` does not explain."""
    problems = {**verdict.failed, **verdict.errored}
    known_columns = {rule.split("-")[0] for rule in problems if rule in VALIDATOR_BUGS}
    return {
        rule: message
        for rule, message in problems.items()
        if rule not in VALIDATOR_BUGS
        and not (rule.split("-")[0] in known_columns and message.startswith("Composite check"))
    }


def _inline(content: str, name: str) -> Callable[[Path], list[Path]]:
    return lambda tmp: [write_text(tmp / name, content)]


def _real(relative: str, *build: Callable[[Path, Path], Path]) -> Callable[[Path], list[Path]]:
    def make(tmp: Path) -> list[Path]:
        source = fixture(relative)
        paths = [source]
        for step in build:
            paths = [step(paths[0], tmp / f"{step.__name__}{source.suffix}")]
        return paths

    return make


def _json(source: Path, target: Path) -> Path:
    return gcp_json_from_csv(source, target.with_suffix(".json"))


CASES: dict[str, Callable[[Path], list[Path]]] = {
    "aws-cur-sample": _inline(CUR_LEGACY, "cur.csv"),
    "aws-cur2-sample": lambda tmp: [
        cur2_from_legacy(write_text(tmp / "cur.csv", CUR_LEGACY), tmp / "cur2.csv")
    ],
    "azure-sample": _inline(AZURE, "azure.csv"),
    "gcp-csv-sample": _inline(GCP, "gcp.csv"),
    "gcp-json-sample": lambda tmp: [_json(write_text(tmp / "gcp.csv", GCP), tmp / "gcp")],
    "focus-1.0-sample": _inline(FOCUS_10, "focus.csv"),
    "opencost-allocation": lambda tmp: [write_json(tmp / "allocation.json", opencost_response(3))],
    "opencost-one-set-with-residual": lambda tmp: [
        write_json(
            tmp / "allocation.json",
            {
                "code": 200,
                "data": {
                    "ns": opencost_allocation(
                        "ns", ("2024-05-31T00:00:00Z", "2024-06-01T00:00:00Z"), totalCost=9.5
                    )
                },
            },
        )
    ],
    "aws/2023-06-01": _real("billing/aws/2023-06-01.csv"),
    "aws/2023-06-01 as CUR 2.0": _real("billing/aws/2023-06-01.csv", cur2_from_legacy),
    "aws/test_cur repaired": _real("billing/aws/test_cur.csv", repaired_test_cur),
    "azure/version_2 (USD)": _real("billing/azure/azure_version_2.csv", azure_with_currency),
    "azure/version_2 camelCase": _real("billing/azure/azure_version_2.csv", azure_camel_case),
    "azure/version_2 legacy names": _real("billing/azure/azure_version_2.csv", azure_legacy),
    "gcp/2022-08-01_5": _real("billing/gcp/2022-08-01_5.csv"),
    "gcp/2022-08-01_5 as BigQuery JSON": _real("billing/gcp/2022-08-01_5.csv", _json),
    "focus/focus-1.0-sample-1000": _real("focus/focus-1.0-sample-1000.csv"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validator_passes(case: str, tmp_path: Path, focus_validator: Validator) -> None:
    inputs = CASES[case](tmp_path)
    output = tmp_path / "focus.parquet"
    convert(inputs, output)
    verdict = focus_validator.validate(output)
    assert verdict.passed > 50, f"the validator checked almost nothing: {verdict}"
    assert unexplained(verdict) == {}, f"{case}: {verdict}"


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_validator_passes_on_all_samples_in_one_file(
    suffix: str, tmp_path: Path, focus_validator: Validator
) -> None:
    """One lake file from four providers and a Kubernetes cluster, as Parquet and as CSV: the
    ServiceName and ServiceCategory rules hold across sources too."""
    inputs = [
        write_text(tmp_path / "cur.csv", CUR_LEGACY),
        write_text(tmp_path / "azure.csv", AZURE),
        write_text(tmp_path / "gcp.csv", GCP),
        write_text(tmp_path / "focus.csv", FOCUS_10),
        write_json(tmp_path / "opencost.json", opencost_response()),
    ]
    output = (tmp_path / "all").with_suffix(suffix)
    convert(inputs, output)
    verdict = focus_validator.validate(output)
    assert unexplained(verdict) == {}, str(verdict)


def test_validator_fails_a_broken_file(tmp_path: Path, focus_validator: Validator) -> None:
    """The check can fail: a converted file with a null BilledCost and without ChargePeriodEnd
    is caught. (A ChargeCategory outside FOCUS's values is not: focus-validator 2.2.1 lets
    "Use" through, which is why the converter checks allowed values itself.)"""
    import pyarrow as pa
    import pyarrow.parquet as pq

    output = tmp_path / "focus.parquet"
    convert([write_text(tmp_path / "cur.csv", CUR_LEGACY)], output)
    table = pq.read_table(output)
    at = table.schema.get_field_index("BilledCost")
    costs = table["BilledCost"].to_pylist()
    costs[0] = None
    broken = table.set_column(at, "BilledCost", pa.array(costs, pa.float64()))
    broken = broken.drop_columns(["ChargePeriodEnd"])
    pq.write_table(broken, tmp_path / "broken.parquet")
    problems = unexplained(focus_validator.validate(tmp_path / "broken.parquet"))
    assert "BilledCost-C-003-M" in problems
    assert "CostAndUsage-D-028-M" in problems


def test_schema_matches_the_validators_model(focus_validator: Validator) -> None:
    """The columns and subcategories in ``domain/focus`` are the ones the validator's FOCUS
    1.2 model knows: none missing, none invented."""
    import json

    from datoferum.domain.focus import COLUMNS, SUBCATEGORIES

    (model_path,) = (focus_validator.scratch / "focus_validator" / "rules").glob("model-1.2*.json")
    rules = json.loads(model_path.read_text())["ModelRules"]
    columns = {rule["Reference"] for rule in rules.values() if rule.get("EntityType") == "Column"}
    assert {column.name for column in COLUMNS} == columns

    pairs: list[tuple[str, str]] = []

    def values(node: object) -> None:
        if isinstance(node, dict):
            if node.get("CheckFunction") == "CheckValue":
                pairs.append((node["ColumnName"], node["Value"]))
            for child in node.values():
                values(child)
        elif isinstance(node, list):
            for child in node:
                values(child)

    values(rules["ServiceSubcategory-C-004-M"]["ValidationCriteria"]["Requirement"])
    it = iter(pairs)
    model = {sub: category for (_, sub), (_, category) in zip(it, it, strict=True)}
    assert model == SUBCATEGORIES
