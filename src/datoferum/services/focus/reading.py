"""Streaming the rows of an export, in bounded batches, whatever its shape.

CSV goes through ``pyarrow.csv.open_csv``: it reads fixed-size blocks (``BLOCK_BYTES``), so a
multi-gigabyte CUR costs the same memory as a small one, and each block stays an Arrow batch.
Every column is read as a string; the connectors decide what each one means (a CUR account id
looks like a number and must stay a string). JSON is read one record at a time, either JSON
Lines (what BigQuery's ``NEWLINE_DELIMITED_JSON`` extract writes) or one top-level array (what
``bq query --format=json`` prints), with no record larger than
``jsonrecords.MAX_RECORD_BYTES`` (see ``services/jsonrecords.py``). Gzip-compressed files
(``.gz``) are read the same way.

Every error names the file and, when it is known, the row (the header is row 1).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
import pyarrow as pa
import pyarrow.csv as pacsv

from datoferum.adapters import scan
from datoferum.errors import BillingFileError
from datoferum.services.focus import opencost
from datoferum.services.jsonrecords import records

#: Bytes of CSV parsed at a time (and so roughly the memory of one batch of rows): some 12,000
#: CUR rows, enough that the hundred-odd column operations of a batch cost little each. Larger
#: blocks fall out of the CPU caches while they are parsed: parsing a CUR in 8 MiB blocks took
#: from a twentieth to a quarter more CPU time than in 4 MiB blocks (taking back most of what
#: the mapping saves on fewer batches), and 2 MiB blocks make the mapping's per-batch work
#: outweigh what parsing saves.
BLOCK_BYTES = 4 << 20
#: JSON records handed over at a time.
JSON_BATCH_ROWS = 4096
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive rows; ``first_row`` is the row number of the first for error messages. CSV
    rows stay an Arrow batch of strings (``table``), so that a connector can map whole columns;
    JSON records are dicts (``records``), nested values included."""

    first_row: int
    table: pa.RecordBatch | None = None
    records: list[dict[str, Any]] | None = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (column name → value), whatever the shape."""
        if self.table is not None:
            found: list[dict[str, Any]] = self.table.to_pylist()
            return found
        return self.records or []


@dataclass(slots=True)
class Export:
    """One input file: its shape, its column names, and a way to stream its rows."""

    path: Path
    shape: str  # "csv", "json" or "opencost" (an allocation API response)
    header: list[str]
    #: Values read as null in CSV, besides the empty string (``NULL`` in FOCUS files).
    null_values: list[str] = field(default_factory=list)

    def batches(self) -> Iterator[Batch]:
        """The rows, in order, in bounded batches."""
        if self.shape == "csv":
            return _csv_batches(self)
        if self.shape == "opencost":
            return _opencost_batches(self)
        return _json_batches(self)


def _stream(path: Path, whole: bool = False) -> Any:
    """The bytes of ``path``, decompressed; ``whole`` when they are to be read to the end once,
    which drops them from the page cache behind the read if they were not cached before."""
    try:
        if whole and (dropping := scan.uncached(path)) is not None:
            return pa.input_stream(pa.PythonFile(dropping, mode="r"), compression=_codec(path))
        return pa.input_stream(str(path), compression="detect")
    except (OSError, pa.ArrowException) as error:
        raise BillingFileError(f"{path}: cannot read: {_reason(error)}") from None


def _codec(path: Path) -> str | None:
    try:
        return str(pa.Codec.detect(str(path)).name)
    except (TypeError, ValueError):  # no compression this extension names
        return None


def _reason(error: BaseException) -> str:
    message = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return message.splitlines()[0] if message else type(error).__name__


def open_export(path: Path) -> Export:
    """Open ``path`` and read its header (CSV) or its first records' keys (JSON)."""
    if not path.is_file():
        raise BillingFileError(f"{path}: no such file")
    with _stream(path) as raw:
        try:
            head = raw.read(_CHUNK)
        except (OSError, pa.ArrowException) as error:
            raise BillingFileError(f"{path}: cannot read: {_reason(error)}") from None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise BillingFileError(f"{path}: the file is empty")
    if stripped[:1] in (b"{", b"["):
        if (reason := opencost.refusal(stripped)) is not None:
            raise BillingFileError(f"{path}: {reason}")
        if opencost.recognises(stripped):
            return Export(path, "opencost", list(opencost.COLUMNS))
        return Export(path, "json", _json_keys(path))
    return Export(path, "csv", _csv_header(path))


def _csv_header(path: Path) -> list[str]:
    with _stream(path) as raw:
        reader = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            header = next(csv.reader(reader), [])
        except UnicodeDecodeError:
            raise BillingFileError(f"{path}: row 1: not UTF-8 text") from None
        except csv.Error as error:
            raise BillingFileError(f"{path}: row 1: {error}") from None
    names = [name.strip() for name in header]
    if not any(names):
        raise BillingFileError(f"{path}: row 1: no column names")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BillingFileError(f"{path}: row 1: column {name!r} appears twice")
        seen.add(name)
    return names


def _csv_batches(export: Export) -> Iterator[Batch]:
    invalid: list[pacsv.InvalidRow] = []

    def refuse(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "error"

    # Without Arrow's thread pool: the converter already parses ahead on a thread of its own
    # (``pipeline.ahead``), and the pool's hand-overs only took CPU time the other stages need.
    read = pacsv.ReadOptions(
        block_size=BLOCK_BYTES, column_names=export.header, skip_rows=1, use_threads=False
    )
    parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=refuse)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in export.header},
        null_values=["", *export.null_values],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    next_row = 2
    try:
        with _stream(export.path, whole=True) as raw:
            reader = pacsv.open_csv(
                raw, read_options=read, parse_options=parse, convert_options=convert
            )
            for record_batch in reader:
                yield Batch(next_row, table=record_batch)
                next_row += record_batch.num_rows
    except pa.ArrowException as error:
        if invalid:
            bad = invalid[0]
            where = f"row {bad.number}" if bad.number is not None else f"row {next_row} or later"
            raise BillingFileError(
                f"{export.path}: {where}: expected {bad.expected_columns} fields, found "
                f"{bad.actual_columns} (a truncated or broken row: {bad.text[:60]!r})"
            ) from None
        message = _reason(error)
        if "UTF8" in message or "UTF-8" in message:
            message = "not UTF-8 text"
        raise BillingFileError(f"{export.path}: after row {next_row - 1}: {message}") from None


def _chunks(path: Path) -> Iterator[bytes]:
    with _stream(path, whole=True) as raw:
        while True:
            try:
                chunk = raw.read(_CHUNK)
            except (OSError, pa.ArrowException) as error:
                raise BillingFileError(f"{path}: cannot read: {_reason(error)}") from None
            if not chunk:
                return
            yield chunk


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """(record number, decoded record) for JSON Lines or a top-level JSON array, streamed."""
    return records(_chunks(path), lambda message: BillingFileError(f"{path}: {message}"))


def flatten(record: Any, path: Path, number: int) -> dict[str, Any]:
    """A BigQuery-style nested record as dotted column names (``service.description``), as the
    CSV export of the same data names them; lists (labels, credits) are kept as lists."""
    if not isinstance(record, dict):
        raise BillingFileError(f"{path}: record {number}: expected a JSON object")
    flat: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any]]] = [("", record)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                stack.append((name + ".", value))
            else:
                flat[name] = value
    return flat


def _json_keys(path: Path) -> list[str]:
    """Every column name the records use, in first-seen order: one streaming pass, keeping only
    the names, so the output schema is known before any row is written."""
    names: dict[str, None] = {}
    for number, record in _records(path):
        for name in flatten(record, path, number):
            names.setdefault(name, None)
    if not names:
        raise BillingFileError(f"{path}: no JSON records")
    return list(names)


def _json_batches(export: Export) -> Iterator[Batch]:
    rows: list[dict[str, Any]] = []
    first = 1
    for number, record in _records(export.path):
        if not rows:
            first = number
        rows.append(flatten(record, export.path, number))
        if len(rows) >= JSON_BATCH_ROWS:
            yield Batch(first, records=rows)
            rows = []
    if rows:
        yield Batch(first, records=rows)


def _opencost_batches(export: Export) -> Iterator[Batch]:
    """The component records of an allocation response, streamed allocation by allocation."""
    path = export.path
    with _stream(path) as raw:
        head = raw.read(_CHUNK)
    rows: list[dict[str, Any]] = []
    number = 0
    with _stream(path) as raw:
        try:
            for record in opencost.records(raw, head.lstrip(b"\xef\xbb\xbf")):
                rows.append(record)
                if len(rows) >= JSON_BATCH_ROWS:
                    yield Batch(number + 1, records=rows)
                    number += len(rows)
                    rows = []
        except ijson.JSONError as error:
            raise BillingFileError(
                f"{path}: after record {number + len(rows)}: malformed JSON: {error}"
            ) from None
        except ValueError as error:
            raise BillingFileError(f"{path}: record {number + len(rows) + 1}: {error}") from None
        except (OSError, pa.ArrowException) as error:
            raise BillingFileError(f"{path}: cannot read: {_reason(error)}") from None
    if rows:
        yield Batch(number + 1, records=rows)
