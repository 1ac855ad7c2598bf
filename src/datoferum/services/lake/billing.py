"""Billing exports as lake sources: AWS CUR, Azure and GCP exports, OpenCost/Kubecost
allocations and FOCUS files, normalized to FOCUS 1.2 by the converter's connectors and
partitioned by provider and billing period.

A correction (``ChargeClass`` = ``Correction``) is a charge that fixes an earlier, already
invoiced billing period: it arrives with a later invoice, but its charge period is the period it
corrects. It is filed under that period (``billing_period`` of its ``ChargePeriodStart``), so a
period's partitions hold everything ever charged for it, and cost queries, which bucket rows by
``ChargePeriodStart``, count the correction where it belongs.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from datoferum.errors import BillingFileError
from datoferum.services.focus import opencost
from datoferum.services.focus.converter import FocusStream
from datoferum.services.focus.detect import family
from datoferum.services.focus.reading import flatten
from datoferum.services.lake.sources import MAX_BATCH_ROWS

DATASET = "focus"
_GZIP = b"\x1f\x8b"
_SLUG = re.compile(r"[^a-z0-9]+")


def provider_slug(name: str) -> str:
    """A provider name as a partition value: ``Google Cloud`` → ``google-cloud``."""
    return _SLUG.sub("-", name.lower()).strip("-") or "unknown"


#: Bytes searched for a NUL to tell binary heads from text.
_BINARY_PROBE = 4096


@lru_cache(maxsize=4)
def _text(head: bytes) -> str:
    """The head as text, decompressed when it is gzip (a partial stream is fine). Kept for the
    last few heads: every billing source asks about the same head in turn."""
    if head.startswith(_GZIP):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head)
        except zlib.error:
            return ""
    if b"\0" in head[:_BINARY_PROBE]:
        return ""  # binary (video, images, archives): no export is, so no need to decode it
    return head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def header_of(head: bytes) -> list[str] | None:
    """The column names the head shows: a CSV header line, or the (flattened) keys of the first
    JSON record. None when the head holds neither whole."""
    text = _text(head)
    if text.startswith(("{", "[")):
        try:
            record, _ = json.JSONDecoder().raw_decode(text.lstrip("[ \t\r\n"))
        except json.JSONDecodeError:
            return None
        if not isinstance(record, dict):
            return None
        return list(flatten(record, Path("head"), 1))
    line, newline, _ = text.partition("\n")
    if not newline:
        return None
    try:
        return [name.strip() for name in next(csv.reader([line]), [])]
    except csv.Error:
        return None


@lru_cache(maxsize=4)
def _family_of(head: bytes) -> str | None:
    """The export family the head's columns show, worked out once per head for all sources."""
    header = header_of(head)
    return None if header is None else family(header)


@dataclass
class BillingSource:
    """One family of billing exports (``family`` as ``focus.detect`` names it). Not frozen:
    ``LakeSource`` declares plain attributes."""

    name: str
    family: str
    dataset: str = DATASET

    def recognises(self, head: bytes, path: str, content_type: str) -> bool:
        return _family_of(head) == self.family

    def read(self, source: Path) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
        stream = FocusStream([source])
        currency: str | None = None
        rows = 0
        for _, batch in stream.batches():
            currency = _one_currency(batch, currency, source, rows)
            rows += batch.num_rows
            for offset in range(0, batch.num_rows, MAX_BATCH_ROWS):
                yield from partitions(batch.slice(offset, MAX_BATCH_ROWS))


def _one_currency(batch: pa.RecordBatch, known: str | None, source: Path, before: int) -> str:
    """One export bills in one currency; a second one means two exports were concatenated or
    the file is damaged, and summing its costs would mix units."""
    found = [c for c in pc.unique(batch.column("BillingCurrency")).to_pylist() if c is not None]
    for currency in found:
        known = known or currency
        if currency != known:
            position = pc.index(batch.column("BillingCurrency"), currency).as_py()
            raise BillingFileError(
                f"{source}: row {before + position + 2}: BillingCurrency {currency} differs "
                f"from {known} of the rows before it; one export must bill in one currency "
                "(split the file by currency)"
            )
    return known or ""


def partitions(batch: pa.RecordBatch) -> Iterator[tuple[dict[str, str], pa.RecordBatch]]:
    """The rows of ``batch`` grouped by ``provider`` and ``billing_period`` (``YYYY-MM``; the
    charge period's month for corrections)."""
    provider = batch.column("ProviderName")
    correction = pc.fill_null(pc.equal(batch.column("ChargeClass"), "Correction"), False)
    start = pc.if_else(
        correction, batch.column("ChargePeriodStart"), batch.column("BillingPeriodStart")
    )
    period = pc.strftime(start, format="%Y-%m")
    keys = pc.binary_join_element_wise(provider, period, "\x1f")
    for key in pc.unique(keys).to_pylist():
        name, _, month = key.partition("\x1f")
        rows = batch.filter(pc.equal(keys, key))
        yield {"provider": provider_slug(name), "billing_period": month}, rows


@dataclass
class OpenCostSource(BillingSource):
    """OpenCost/Kubecost allocation responses: recognised by their JSON envelope, not by
    columns (the connector makes FOCUS rows from each allocation's cost components)."""

    def recognises(self, head: bytes, path: str, content_type: str) -> bool:
        return opencost.recognises(_text(head).encode("utf-8"))


#: The billing sources, in the order ``focus.detect`` tries them.
SOURCES = (
    OpenCostSource("opencost", "opencost"),
    BillingSource("focus", "focus"),
    BillingSource("aws-cur", "aws-cur"),
    BillingSource("gcp-billing", "gcp"),
    BillingSource("azure-cost", "azure"),
)
