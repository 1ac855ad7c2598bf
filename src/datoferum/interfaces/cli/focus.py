"""``datoferum focus``: FOCUS conversions that need no server.

``focus convert`` reads billing exports from local files and writes one FOCUS 1.2 file. It is a
thin shell over ``services.focus.convert``: argument parsing here, everything else there. The
service (and pyarrow) is imported inside the command, so other commands do not pay for loading
them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json

if TYPE_CHECKING:
    from datoferum.services.focus import InputReport


@click.group()
def focus() -> None:
    """Convert billing exports to FOCUS 1.2 (FinOps Open Cost and Usage Specification)."""


@focus.command(name="convert")
@click.argument(
    "inputs",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="INPUT [INPUT ...]",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The FOCUS file to write: .parquet or .csv (replaced only when the conversion succeeds).",
)
@json_option
@pass_context
def convert(ctx: CliContext, inputs: tuple[Path, ...], output: Path) -> None:
    """Convert AWS CUR, Azure, GCP and FOCUS 1.x exports to one FOCUS 1.2 file.

    Each INPUT's format is recognised from its columns; CSV (optionally .gz) and GCP BigQuery
    JSON are read in bounded batches.
    """
    from datoferum.services.focus import convert as run

    def progress(done: InputReport) -> None:
        if not ctx.json:
            click.echo(f"{done.path}: {done.source}, {done.rows} rows", err=True)

    report = run(list(inputs), output, on_input=progress)
    if ctx.json:
        emit_json(
            {
                "output": str(report.output),
                "format": report.format,
                "rows": report.rows,
                "columns": len(report.columns),
                "services_adjusted": report.services_adjusted,
                "inputs": [
                    {"path": str(item.path), "source": item.source, "rows": item.rows}
                    for item in report.inputs
                ],
            }
        )
        return
    click.echo(
        f"{report.output}: FOCUS 1.2 {report.format}, {report.rows} rows, "
        f"{len(report.columns)} columns"
    )
