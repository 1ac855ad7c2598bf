"""Convert billing exports to one FOCUS 1.2 file (Parquet or CSV).

The converter works in two passes over headers and one over rows:

1. every input is opened and recognised (``detect``), so an unknown format fails before any
   output exists;
2. the output schema is fixed: the core FOCUS columns, the optional ones an input brings, then
   every source column no connector interprets, as ``x_<name>`` strings;
3. batches stream through the connector (whole columns with ``map_batch`` where it has one,
   else ``map_row`` per row) → ``rules.complete`` → an Arrow batch → the writer, one bounded
   batch at a time, the next read and the previous written on threads meanwhile.

The output is written under a temporary name in the target directory and renamed into place at
the end, so a failed conversion leaves no output file (and never a half-written one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pyarrow as pa

from datoferum.domain.focus import COLUMNS, COLUMNS_BY_NAME, Kind, custom_name
from datoferum.errors import BillingFileError
from datoferum.services.focus import parquet
from datoferum.services.focus.columnar import Columns, Unsure
from datoferum.services.focus.common import BatchConnector, Connector, key_value_text
from datoferum.services.focus.detect import connector_for
from datoferum.services.focus.focus import FocusConnector
from datoferum.services.focus.pipeline import ahead, behind
from datoferum.services.focus.reading import Batch, Export, open_export
from datoferum.services.focus.rules import RowError, ServiceCatalog, complete

FORMATS = ("parquet", "csv")
#: Rows gathered before a Parquet row group is written: big enough for engines to skip and
#: scan efficiently, small enough to bound memory (a few tens of MB for a wide CUR).
ROW_GROUP_ROWS = 65_536

_ARROW_TYPES = {
    Kind.STRING: pa.string(),
    Kind.DECIMAL: pa.float64(),
    Kind.DATETIME: pa.timestamp("us", tz="UTC"),
    Kind.KEY_VALUE: pa.string(),
}


@dataclass(frozen=True, slots=True)
class InputReport:
    """What one input was recognised as and how many rows it gave."""

    path: Path
    source: str
    rows: int


@dataclass(slots=True)
class ConversionReport:
    """The outcome of a conversion, for people (CLI) and tests."""

    output: Path
    format: str
    columns: list[str]
    inputs: list[InputReport] = field(default_factory=list)
    #: Rows whose ServiceCategory was aligned with an earlier row of the same ServiceName.
    services_adjusted: int = 0

    @property
    def rows(self) -> int:
        return sum(item.rows for item in self.inputs)


@dataclass(slots=True)
class _Input:
    export: Export
    connector: Connector
    #: source column → output ``x_`` column.
    custom: dict[str, str]


def output_format(output: Path) -> str:
    """``parquet`` or ``csv``, from the output's extension."""
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise BillingFileError(
            f"{output}: unknown output format {output.suffix or '(no extension)'!r}: "
            "name the output .parquet or .csv"
        )
    return suffix


def _plan(paths: Sequence[Path]) -> tuple[list[_Input], list[str]]:
    inputs: list[_Input] = []
    optional: set[str] = set()
    custom_columns: dict[str, None] = {}
    for path in paths:
        export = open_export(path)
        connector = connector_for(export)
        if isinstance(connector, FocusConnector):
            optional.update(connector.optional)
        consumed = connector.consumed(export.header)
        custom: dict[str, str] = {}
        taken: set[str] = set()
        for name in export.header:
            if name in consumed:
                continue
            target = custom_name(name)
            while target in taken:  # two source names that clean up the same: keep both
                target += "_"
            taken.add(target)
            custom[name] = target
            custom_columns.setdefault(target, None)
        inputs.append(_Input(export, connector, custom))
    names = [c.name for c in COLUMNS if c.core or c.name in optional]
    return inputs, names + list(custom_columns)


def arrow_schema(columns: list[str]) -> pa.Schema:
    """The Arrow schema of FOCUS output with these columns (``x_`` columns are strings)."""
    fields = []
    for name in columns:
        known = COLUMNS_BY_NAME.get(name)
        fields.append(pa.field(name, _ARROW_TYPES[known.kind] if known else pa.string()))
    return pa.schema(fields)


class _Converter:
    """Turns the batches of one input into output batches of the stream's schema."""

    def __init__(self, item: _Input, schema: pa.Schema, services: ServiceCatalog) -> None:
        self.item, self.schema, self.services = item, schema, services
        self.focus = [f for f in schema if f.name in COLUMNS_BY_NAME]
        self.unit = "row" if item.export.shape == "csv" else "record"

    def __call__(self, batch: Batch) -> pa.RecordBatch:
        connector = self.item.connector
        columns: Columns | None = None
        if batch.table is not None and isinstance(connector, BatchConnector):
            try:
                columns = connector.map_batch(batch.table)
            except Unsure:
                columns = None
        failure: tuple[int, str] | None = None
        if columns is None:
            rows = batch.rows
            columns, failure = self._map_rows(rows)
            length = len(rows) if failure is None else failure[0]
        else:
            length = batch.table.num_rows if batch.table is not None else 0
        for known in self.focus:  # what the connector leaves out, for the rules
            if known.name not in columns:
                columns[known.name] = pa.nulls(length, known.type)
        try:
            complete(columns, self.services)
        except RowError as error:
            self._refuse(batch.first_row + error.index, str(error))
        if failure is not None:
            self._refuse(batch.first_row + failure[0], failure[1])
        for source_name, target in self.item.custom.items():
            columns[target] = self._custom(batch, source_name, length)
        for other in self.schema:  # columns of the other inputs
            if other.name not in columns:
                columns[other.name] = pa.nulls(length, other.type)
        return pa.RecordBatch.from_arrays(
            [columns[name] for name in self.schema.names], schema=self.schema
        )

    def _refuse(self, number: int, message: str) -> NoReturn:
        raise BillingFileError(f"{self.item.export.path}: {self.unit} {number}: {message}")

    def _map_rows(self, rows: list[dict[str, Any]]) -> tuple[Columns, tuple[int, str] | None]:
        """The row path: ``map_row`` for each row, up to the first one it refuses (its index and
        reason are returned, so that a rule broken by an earlier row is reported first)."""
        mapped: list[dict[str, Any]] = []
        failure = None
        for index, row in enumerate(rows):
            try:
                mapped.append(self.item.connector.map_row(row))
            except ValueError as error:
                failure = (index, str(error))
                break
        columns: Columns = {}
        for known in self.focus:
            found = [row.get(known.name) for row in mapped]
            if COLUMNS_BY_NAME[known.name].kind is Kind.KEY_VALUE:
                found = [key_value_text(value) for value in found]
            columns[known.name] = pa.array(found, type=known.type)
        return columns, failure

    def _custom(self, batch: Batch, source_name: str, length: int) -> pa.Array:
        if batch.table is not None:
            return batch.table.column(source_name).slice(0, length)
        found = [key_value_text(row.get(source_name)) for row in batch.rows[:length]]
        return pa.array(found, type=pa.string())


class FocusStream:
    """FOCUS 1.2 rows of some inputs as Arrow batches of one fixed schema, streamed.

    Opening it recognises every input (so an unknown format fails before any row is read) and
    fixes the schema; ``batches`` then yields ``(input, batch)`` pairs, bounded in size. The
    converter writes them to one file; the lake splits them into partitions.
    """

    def __init__(self, inputs: Sequence[Path]) -> None:
        if not inputs:
            raise BillingFileError("no input files")
        self._plan, self.columns = _plan(inputs)
        self.schema = arrow_schema(self.columns)
        self.services = ServiceCatalog()

    def sources(self) -> list[str]:
        """The recognised format of each input, in order (``aws-cur``, ``focus``, ...)."""
        return [item.connector.source for item in self._plan]

    def batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        """(index of the input, rows converted from it), one bounded batch at a time."""
        for index, item in enumerate(self._plan):
            convert = _Converter(item, self.schema, self.services)
            for batch in ahead(item.export.batches(), "focus-read"):
                yield index, convert(batch)


def convert(
    inputs: Sequence[Path],
    output: Path,
    *,
    on_input: Callable[[InputReport], None] | None = None,
) -> ConversionReport:
    """Convert ``inputs`` (each auto-detected) into one FOCUS 1.2 file at ``output``."""
    if not inputs:
        raise BillingFileError("no input files")
    kind = output_format(output)
    stream = FocusStream(inputs)
    report = ConversionReport(output=output, format=kind, columns=stream.columns)
    partial = output.with_name(f".{output.name}.{os.getpid()}.part")
    counts = [0] * len(inputs)
    formats = stream.sources()

    def finish(index: int) -> None:
        done = InputReport(inputs[index], formats[index], counts[index])
        report.inputs.append(done)
        if on_input is not None:
            on_input(done)

    try:
        with (
            _writer(kind, partial, stream.schema) as target,
            behind(target, "focus-write") as write,
        ):
            current = 0
            for index, batch in stream.batches():
                while current < index:
                    finish(current)
                    current += 1
                write(batch)
                counts[index] += batch.num_rows
            while current < len(inputs):
                finish(current)
                current += 1
        partial.replace(output)
    except OSError as error:
        raise BillingFileError(f"{output}: cannot write: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    report.services_adjusted = stream.services.adjusted
    return report


class _writer:
    """A context manager giving ``write(batch)`` for Parquet or CSV."""

    def __init__(self, kind: str, path: Path, schema: pa.Schema) -> None:
        self.kind, self.path, self.schema = kind, path, schema
        self._target: Any = None

    def __enter__(self) -> Callable[[pa.RecordBatch], None]:
        if self.kind == "parquet":
            self._pending: list[pa.RecordBatch] = []
            self._pending_rows = 0
            return self._write_parquet
        import pyarrow.csv as pacsv

        text_schema = pa.schema(
            [
                pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f
                for f in self.schema
            ]
        )
        self._target = pacsv.CSVWriter(str(self.path), text_schema)
        self._text_schema = text_schema
        return self._write_csv

    def _write_parquet(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Write the pending rows as a row group. The writer is made at the first call, so
        that its rows choose the columns' encodings (a file without rows still gets one, and
        with it the schema)."""
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        if self._target is None:
            self._target = parquet.writer(self.path, table)
        if table.num_rows:
            self._target.write_table(table, row_group_size=table.num_rows)
        self._pending, self._pending_rows = [], 0

    def _write_csv(self, batch: pa.RecordBatch) -> None:
        import pyarrow.compute as pc

        arrays = [
            # Seconds first: Arrow's %S prints the fraction of finer units, FOCUS wants none.
            pc.strftime(
                pc.cast(column, pa.timestamp("s", tz="UTC"), safe=False),
                format="%Y-%m-%dT%H:%M:%SZ",
            )
            if pa.types.is_timestamp(column.type)
            else column
            for column in batch.columns
        ]
        self._target.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._text_schema))

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None and self.kind == "parquet":
                self._flush()
        finally:
            if self._target is not None:
                self._target.close()
