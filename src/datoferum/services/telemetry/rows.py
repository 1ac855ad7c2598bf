"""OTLP export requests as flat rows: one schema per lake dataset, one row per span, log record
or metric data point.

Each row repeats what its resource and scope say (``service_name``, ``resource_attributes``,
``scope_name``...), so a dataset is one table that needs no join. Attributes are JSON objects
in text columns: their keys differ per producer, and every engine of the lake (DuckDB, Spark)
reads JSON text, while a map column would force one value type on all of them. Times are UTC
timestamps in nanoseconds, ids lowercase hex. A row's day (of its event time) is the partition
it goes to.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa

from datoferum.services.telemetry.payloads import hex_id

#: A row: its partition day (``YYYY-MM-DD``) and its values in the dataset's column order.
Row = tuple[str, tuple[Any, ...]]

_TIME = pa.timestamp("ns", tz="UTC")
_NANOS_PER_DAY = 86_400 * 10**9

_CONTEXT = [
    pa.field("service_name", pa.string()),
    pa.field("resource_attributes", pa.string()),
    pa.field("scope_name", pa.string()),
    pa.field("scope_version", pa.string()),
    pa.field("scope_attributes", pa.string()),
]

SPANS = pa.schema(
    [
        pa.field("start_time", _TIME),
        pa.field("end_time", _TIME),
        pa.field("duration_ns", pa.int64()),
        pa.field("trace_id", pa.string()),
        pa.field("span_id", pa.string()),
        pa.field("parent_span_id", pa.string()),
        pa.field("trace_state", pa.string()),
        pa.field("name", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("status_code", pa.string()),
        pa.field("status_message", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("events", pa.string()),
        pa.field("links", pa.string()),
        *_CONTEXT,
    ]
)

LOGS = pa.schema(
    [
        pa.field("time", _TIME),
        pa.field("observed_time", _TIME),
        pa.field("severity_number", pa.int32()),
        pa.field("severity_text", pa.string()),
        pa.field("body", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("event_name", pa.string()),
        pa.field("trace_id", pa.string()),
        pa.field("span_id", pa.string()),
        pa.field("flags", pa.int64()),
        *_CONTEXT,
    ]
)

_FLOATS = pa.list_(pa.float64())
_COUNTS = pa.list_(pa.int64())

METRICS = pa.schema(
    [
        pa.field("time", _TIME),
        pa.field("start_time", _TIME),
        pa.field("metric_name", pa.string()),
        pa.field("metric_type", pa.string()),
        pa.field("description", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("temporality", pa.string()),
        pa.field("is_monotonic", pa.bool_()),
        pa.field("attributes", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("value_int", pa.int64()),
        pa.field("count", pa.int64()),
        pa.field("sum", pa.float64()),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
        pa.field("explicit_bounds", _FLOATS),
        pa.field("bucket_counts", _COUNTS),
        pa.field("scale", pa.int32()),
        pa.field("zero_count", pa.int64()),
        pa.field("positive_offset", pa.int32()),
        pa.field("positive_bucket_counts", _COUNTS),
        pa.field("negative_offset", pa.int32()),
        pa.field("negative_bucket_counts", _COUNTS),
        pa.field("quantiles", _FLOATS),
        pa.field("quantile_values", _FLOATS),
        pa.field("flags", pa.int64()),
        *_CONTEXT,
    ]
)

_SPAN_KINDS = {0: None, 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}
_TEMPORALITIES = {0: None, 1: "delta", 2: "cumulative"}


def value_of(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a JSON-ready Python value (bytes as base64, non-finite doubles as
    their names, which JSON has no numbers for)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _pairs(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    found = getattr(value, kind)
    if isinstance(found, float) and not math.isfinite(found):
        return str(found)
    return found


def _pairs(pairs: Iterable[Any]) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs}


def _json(data: Any) -> str | None:
    """``data`` as JSON text, ``None`` when empty (so absent attributes cost nothing)."""
    if not data:
        return None
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _attributes(pairs: Iterable[Any]) -> str | None:
    return _json(_pairs(pairs))


def _time(nanos: int) -> int | None:
    return nanos or None


def day_of(nanos: int | None) -> str:
    """The UTC day of a time in nanoseconds since the epoch (1970-01-01 when unknown)."""
    return _day((nanos or 0) // _NANOS_PER_DAY)


@lru_cache(maxsize=1024)
def _day(number: int) -> str:
    # Rows of a file fall on a few days: formatting each day once saves a datetime per row.
    return datetime.fromtimestamp(number * 86_400, UTC).date().isoformat()


def _context(resource: Any, scope: Any) -> tuple[Any, ...]:
    attributes = _pairs(resource.attributes)
    service = attributes.get("service.name")
    return (
        service if isinstance(service, str) else None,
        _json(attributes),
        scope.name or None,
        scope.version or None,
        _attributes(scope.attributes),
    )


def span_rows(request: Any) -> Iterator[Row]:
    """One row per span of an ``ExportTraceServiceRequest``."""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            context = _context(resource_spans.resource, scope_spans.scope)
            for span in scope_spans.spans:
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                events = [
                    {"time": event.time_unix_nano, "name": event.name,
                     "attributes": _pairs(event.attributes)}
                    for event in span.events
                ]  # fmt: skip
                links = [
                    {"trace_id": hex_id(link.trace_id), "span_id": hex_id(link.span_id),
                     "trace_state": link.trace_state, "attributes": _pairs(link.attributes)}
                    for link in span.links
                ]  # fmt: skip
                values = (
                    _time(start), _time(end), end - start if start and end else None,
                    hex_id(span.trace_id), hex_id(span.span_id), hex_id(span.parent_span_id),
                    span.trace_state or None, span.name, _SPAN_KINDS.get(span.kind),
                    _STATUS_CODES.get(span.status.code), span.status.message or None,
                    _attributes(span.attributes), _json(events), _json(links), *context,
                )  # fmt: skip
                yield day_of(start), values


def log_rows(request: Any) -> Iterator[Row]:
    """One row per log record of an ``ExportLogsServiceRequest``; the day is the event's time,
    or the time it was observed when the event time is unknown."""
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            context = _context(resource_logs.resource, scope_logs.scope)
            for record in scope_logs.log_records:
                body = value_of(record.body) if record.HasField("body") else None
                text = body if isinstance(body, str) or body is None else _json(body) or "null"
                values = (
                    _time(record.time_unix_nano), _time(record.observed_time_unix_nano),
                    record.severity_number or None, record.severity_text or None, text,
                    _attributes(record.attributes), record.event_name or None,
                    hex_id(record.trace_id), hex_id(record.span_id), record.flags, *context,
                )  # fmt: skip
                yield day_of(record.time_unix_nano or record.observed_time_unix_nano), values


def metric_rows(request: Any) -> Iterator[Row]:
    """One row per data point of an ``ExportMetricsServiceRequest``, whatever the metric's type
    (columns that do not apply to a type are null)."""
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            context = _context(resource_metrics.resource, scope_metrics.scope)
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                temporality = _TEMPORALITIES.get(getattr(data, "aggregation_temporality", 0))
                monotonic = data.is_monotonic if kind == "sum" else None
                head = (metric.name, kind, metric.description or None, metric.unit or None,
                        temporality, monotonic)  # fmt: skip
                for point in data.data_points:
                    values = (
                        _time(point.time_unix_nano), _time(point.start_time_unix_nano), *head,
                        _attributes(point.attributes), *_point_values(kind, point), point.flags,
                        *context,
                    )  # fmt: skip
                    yield day_of(point.time_unix_nano), values


def _optional(point: Any, name: str) -> Any:
    return getattr(point, name) if point.HasField(name) else None


def _point_values(kind: str, point: Any) -> tuple[Any, ...]:
    """value, value_int, count, sum, min, max, explicit_bounds, bucket_counts, scale,
    zero_count, positive offset and counts, negative offset and counts, quantiles, values."""
    if kind in ("gauge", "sum"):
        number = point.WhichOneof("value")
        if number == "as_int":
            return (float(point.as_int), point.as_int, *(None,) * 14)
        value = point.as_double if number == "as_double" else None
        return (value, *(None,) * 15)
    if kind == "histogram":
        return (
            None, None, point.count, _optional(point, "sum"), _optional(point, "min"),
            _optional(point, "max"), list(point.explicit_bounds), list(point.bucket_counts),
            *(None,) * 8,
        )  # fmt: skip
    if kind == "exponential_histogram":
        return (
            None, None, point.count, _optional(point, "sum"), _optional(point, "min"),
            _optional(point, "max"), None, None, point.scale, point.zero_count,
            point.positive.offset, list(point.positive.bucket_counts), point.negative.offset,
            list(point.negative.bucket_counts), None, None,
        )  # fmt: skip
    quantiles = point.quantile_values
    return (
        None, None, point.count, point.sum, None, None, *(None,) * 8,
        [q.quantile for q in quantiles], [q.value for q in quantiles],
    )  # fmt: skip
