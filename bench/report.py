"""Figures and the comparison table.

Every figure is a rate where more is better (MiB/s, files/s, events/s), so one rule reads every
row: ratio = Datoferum's median / the reference's median, and a target is a minimum ratio.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Series:
    """The values one system scored in one case, in run order."""

    system: str
    unit: str
    values: list[float] = field(default_factory=list)
    #: Work done per run (bytes, files, events) so a rate can be turned back into seconds.
    work: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def seconds(self) -> float | None:
        """The median run's duration, when the amount of work is known."""
        return None if self.work is None else self.work / self.median


@dataclass
class Comparison:
    """One row of the table: Datoferum against one reference in one case."""

    case: str
    subject: Series
    reference: Series
    target: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.subject.median / self.reference.median

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "pass" if self.ratio >= self.target else "FAIL"


def interleave(runs: int, measures: Sequence[tuple[Series, Callable[[int], float]]]) -> None:
    """Run every measure once per round, in the same order each round, appending to its series.

    Interleaving (A, B, A, B, ...) instead of batching (A, A, B, B) spreads slow phases of the
    machine over all systems, which matters on shared virtual disks whose speed drifts.
    """
    for run in range(runs):
        for series, measure in measures:
            value = measure(run)
            series.values.append(value)
            print(f"    run {run + 1}/{runs} {series.system:<28} {_figure(value, series.unit)}")


def _figure(value: float, unit: str) -> str:
    if value >= 10_000:
        return f"{value:,.0f} {unit}"
    if value >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.2f} {unit}"


def _cell(series: Series) -> str:
    text = _figure(series.median, series.unit)
    seconds = series.seconds()
    return text if seconds is None else f"{text} ({seconds:.2f} s)"


def table(rows: Sequence[Comparison]) -> str:
    """A Markdown table, readable in a terminal and pasteable into the docs as it is."""
    header = (
        "Benchmark",
        "Datoferum",
        "Reference",
        "Reference figure",
        "Ratio",
        "Target",
        "Result",
    )
    lines = [header]
    for row in rows:
        target = "—" if row.target is None else f">= {row.target:g}x"
        lines.append(
            (
                f"{row.case} ({row.note})" if row.note else row.case,
                _cell(row.subject),
                row.reference.system,
                _cell(row.reference),
                f"{row.ratio:.2f}x",
                target,
                row.verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
           for line in lines]  # fmt: skip
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def spreads(rows: Sequence[Comparison]) -> str:
    """Every run's value, so a reader can judge how noisy a median is."""
    seen: set[int] = set()
    lines = []
    for row in rows:
        for series in (row.subject, row.reference):
            if id(series) in seen:
                continue
            seen.add(id(series))
            values = ", ".join(_figure(v, "").strip() for v in series.values)
            lines.append(f"  {row.case} / {series.system} ({series.unit}): {values}")
    return "\n".join(lines)


def save(path: Path, rows: Sequence[Comparison], machine: dict[str, str], runs: int) -> None:
    """Write the figures as JSON (for tooling) next to the Markdown table (for people)."""
    path.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "machine": machine,
        "runs": runs,
        "rows": [
            {
                "case": row.case,
                "target": row.target,
                "ratio": row.ratio,
                "verdict": row.verdict,
                "note": row.note,
                "subject": vars(row.subject) | {"median": row.subject.median},
                "reference": vars(row.reference) | {"median": row.reference.median},
            }
            for row in rows
        ],
    }
    (path / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    (path / "latest.md").write_text(table(rows) + "\n")
