"""Telemetry files as lake sources: OTLP payloads captured by the receiver, and OTLP/JSON files
such as the OpenTelemetry Collector's file exporter writes (one export request per line;
pretty-printed documents one after another are read too), gzip-compressed or not.

Each source is the lake's structural ``LakeSource``: ``recognises`` looks at a file's first
64 KiB, its catalog path and content type; ``read`` streams bounded Arrow batches, each with its
Hive partition keys (``day=YYYY-MM-DD``; the dataset already separates the signals).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa

from datoferum.errors import TelemetryError
from datoferum.services.jsonrecords import records
from datoferum.services.telemetry import rows
from datoferum.services.telemetry.payloads import EXTENSIONS, MEDIA_TYPES, SIGNALS, Signal

#: Most rows in one batch handed to the lake.
BATCH_ROWS = 65_536
#: The largest protobuf payload read from a file: protobuf cannot be decoded in pieces, and the
#: receiver stores one export request per file, far below this.
MAX_PROTOBUF_BYTES = 256 << 20
_CHUNK = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


def _json_head(root: str, snake: str) -> re.Pattern[bytes]:
    # The file's first record opens with the signal's root key (its proto name is accepted too).
    return re.compile(
        rb'\A(?:\xef\xbb\xbf)?[\s\[]*\{\s*"(?:%s|%s)"' % (root.encode(), snake.encode())
    )


class OtlpSource:
    """Rows of one signal's export requests, from protobuf or OTLP/JSON files."""

    def __init__(
        self, signal: Signal, schema: pa.Schema, to_rows: Callable[[Any], Iterable[rows.Row]]
    ) -> None:
        self.signal = signal
        self.name = f"otlp-{signal.name}"
        self.dataset = signal.dataset
        self.schema = schema
        self._rows = to_rows
        snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), signal.root)
        self._json_head = _json_head(signal.root, snake)
        self._message_type = signal.request.DESCRIPTOR.full_name

    def recognises(self, head: bytes, path: str, content_type: str) -> bool:
        if head.startswith(_GZIP_MAGIC):
            head = _inflate_head(head)
        if self._json_head.match(head):
            return True
        media, _, parameters = content_type.partition(";")
        if media.strip().lower() != MEDIA_TYPES["protobuf"]:
            return False
        if f"proto={self._message_type}" in parameters.replace(" ", ""):
            return True
        return f"otlp/{self.signal.name}/" in path and path.endswith("." + EXTENSIONS["protobuf"])

    def read(self, source: Path) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
        return partitioned(self._all_rows(source), self.schema)

    def _all_rows(self, source: Path) -> Iterator[rows.Row]:
        for message in self.messages(source):
            yield from self._rows(message)

    def messages(self, source: Path) -> Iterator[Any]:
        """The export requests of ``source``, one at a time."""
        with _open(source) as handle:
            head = handle.read(_CHUNK)
            if self._json_head.match(head):
                chunks = _chunks(source, handle, head)
                fail = _failure(source)
                for number, document in records(chunks, fail):
                    yield self.signal.from_json(document, f"{source}: record {number}")
                return
            body = head + _read_all(source, handle, MAX_PROTOBUF_BYTES - len(head))
        try:
            yield self.signal.decode(body, "protobuf")
        except TelemetryError as error:
            raise TelemetryError(f"{source}: {error.detail}") from None


def _failure(source: Path) -> Callable[[str], Exception]:
    return lambda message: TelemetryError(f"{source}: {message}")


def _open(source: Path) -> IO[bytes]:
    """``source`` for reading, through gzip when its first bytes say it is compressed."""
    try:
        with source.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        return cast(IO[bytes], gzip.open(source, "rb")) if compressed else source.open("rb")
    except OSError as error:
        raise TelemetryError(f"{source}: cannot read: {error.strerror or error}") from None


def _chunks(source: Path, handle: IO[bytes], head: bytes) -> Iterator[bytes]:
    yield head
    while chunk := _read(source, handle, _CHUNK):
        yield chunk


def _read(source: Path, handle: IO[bytes], size: int) -> bytes:
    try:
        return handle.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise TelemetryError(f"{source}: cannot read: {error}") from None


def _read_all(source: Path, handle: IO[bytes], limit: int) -> bytes:
    body = _read(source, handle, limit + 1)
    if len(body) > limit:
        raise TelemetryError(
            f"{source}: a protobuf payload larger than {MAX_PROTOBUF_BYTES} bytes cannot be "
            "decoded; export smaller requests or OTLP/JSON lines"
        )
    return body


def _inflate_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(head, _CHUNK)
    except zlib.error:
        return b""


def partitioned(
    source: Iterable[rows.Row], schema: pa.Schema
) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
    """Rows grouped by day into Arrow batches; at most ``BATCH_ROWS`` rows are held at a time."""
    pending: dict[str, list[tuple[Any, ...]]] = {}
    held = 0
    for day, values in source:
        pending.setdefault(day, []).append(values)
        held += 1
        if held >= BATCH_ROWS:
            yield from _batches(pending, schema)
            pending, held = {}, 0
    yield from _batches(pending, schema)


def _batches(
    pending: dict[str, list[tuple[Any, ...]]], schema: pa.Schema
) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
    for day, held in sorted(pending.items()):
        columns = zip(*held, strict=True)
        arrays = [
            pa.array(column, type=field.type) for column, field in zip(columns, schema, strict=True)
        ]
        yield {"day": day}, pa.RecordBatch.from_arrays(arrays, schema=schema)


SPANS = OtlpSource(SIGNALS["traces"], rows.SPANS, rows.span_rows)
LOGS = OtlpSource(SIGNALS["logs"], rows.LOGS, rows.log_rows)
METRICS = OtlpSource(SIGNALS["metrics"], rows.METRICS, rows.metric_rows)

#: Every telemetry source, for the lake's registry.
SOURCES = (SPANS, METRICS, LOGS)
