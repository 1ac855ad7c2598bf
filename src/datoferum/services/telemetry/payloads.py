"""OTLP export requests: the three signals, and decoding them from either wire encoding.

Both encodings end as the same protobuf message, so everything after decoding (row mapping,
counting) has one code path. OTLP/JSON is the proto3 JSON mapping with two differences the
specification makes: trace and span ids are hex, not base64, and enums are integers (which the
proto3 parser accepts). Ids are rewritten to base64 before parsing; unknown fields are ignored,
as OTLP/JSON receivers must.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_service
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_service
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_service

from datoferum.errors import TelemetryError

Encoding = Literal["protobuf", "json"]

#: Media type of each encoding, as OTLP/HTTP names them.
MEDIA_TYPES: dict[Encoding, str] = {
    "protobuf": "application/x-protobuf",
    "json": "application/json",
}
#: File name extension of a stored payload in each encoding.
EXTENSIONS: dict[Encoding, str] = {"protobuf": "binpb", "json": "json"}

#: JSON keys holding trace or span ids (lowerCamelCase and the proto names parsers accept).
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def _spans(request: Any) -> int:
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


def _log_records(request: Any) -> int:
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


def _data_points(request: Any) -> int:
    total = 0
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total


@dataclass(frozen=True)
class Signal:
    """One OTLP signal: its URL segment, messages, JSON root key and lake dataset."""

    name: str  # "traces", "metrics", "logs": the URL /v1/<name> and the stored path
    request: type[Message]
    response: type[Message]
    #: The top-level JSON key of an export request (``resourceSpans``...).
    root: str
    #: The lake dataset its rows belong to.
    dataset: str
    #: What one item is called in messages and partial-success fields.
    items: str
    count: Callable[[Any], int]

    def decode(self, body: bytes, encoding: Encoding) -> Message:
        """The export request in ``body``; ``TelemetryError`` if it does not decode."""
        if encoding == "protobuf":
            message = self.request()
            try:
                message.ParseFromString(body)
            except DecodeError as error:
                raise TelemetryError(
                    f"the body is not a protobuf {self.request.DESCRIPTOR.name} ({error}); "
                    "send the whole message, or use Content-Type: application/json for OTLP/JSON"
                ) from None
            return message
        try:
            document = json.loads(body)
        except UnicodeDecodeError:
            raise TelemetryError("the JSON body is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise TelemetryError(
                f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
            ) from None
        except RecursionError:
            raise TelemetryError("the JSON body is nested too deeply") from None
        return self.from_json(document)

    def from_json(self, document: Any, where: str = "the body") -> Message:
        """The export request of one decoded OTLP/JSON document."""
        if not isinstance(document, dict):
            raise TelemetryError(f"{where} must be a JSON object with {self.root!r}")
        message = self.request()
        try:
            json_format.ParseDict(
                _ids_as_base64(document, where), message, ignore_unknown_fields=True
            )
        except json_format.ParseError as error:
            raise TelemetryError(
                f"{where} is not an OTLP/JSON {self.request.DESCRIPTOR.name}: {error}"
            ) from None
        except RecursionError:
            raise TelemetryError(f"{where} is nested too deeply") from None
        return message

    def media_type(self, encoding: Encoding) -> str:
        """The content type a payload of this signal is stored with: protobuf names its message
        (``proto=``), so the file says what it holds wherever it is moved."""
        if encoding == "protobuf":
            return f"{MEDIA_TYPES['protobuf']}; proto={self.request.DESCRIPTOR.full_name}"
        return MEDIA_TYPES["json"]

    def response_body(self, encoding: Encoding) -> bytes:
        """The ``Export…ServiceResponse`` of a request accepted whole (no ``partial_success``)."""
        if encoding == "protobuf":
            return self.response().SerializeToString()
        return b"{}"


SIGNALS: dict[str, Signal] = {
    signal.name: signal
    for signal in (
        Signal(
            "traces", trace_service.ExportTraceServiceRequest,
            trace_service.ExportTraceServiceResponse, "resourceSpans", "otel_spans", "spans",
            _spans,
        ),
        Signal(
            "metrics", metrics_service.ExportMetricsServiceRequest,
            metrics_service.ExportMetricsServiceResponse, "resourceMetrics", "otel_metrics",
            "data points", _data_points,
        ),
        Signal(
            "logs", logs_service.ExportLogsServiceRequest,
            logs_service.ExportLogsServiceResponse, "resourceLogs", "otel_logs", "log records",
            _log_records,
        ),
    )
}  # fmt: skip


def _ids_as_base64(document: dict[str, Any], where: str) -> dict[str, Any]:
    """``document`` with every hex trace/span id rewritten in base64 (in place, without
    recursion, so a deeply nested attribute cannot exhaust the stack)."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _ID_KEYS and isinstance(value, str):
                    node[key] = _hex_to_base64(key, value, where)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, dict | list))
    return document


def _hex_to_base64(key: str, value: str, where: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise TelemetryError(
            f"{where}: {key} {value[:40]!r} is not hex: OTLP/JSON writes trace and span ids as "
            "hex strings"
        ) from None
    return base64.b64encode(raw).decode("ascii")


def hex_id(raw: bytes) -> str | None:
    """A trace or span id as lowercase hex, ``None`` when absent (empty or all zeros)."""
    if not raw or not any(raw):
        return None
    return binascii.hexlify(raw).decode("ascii")
