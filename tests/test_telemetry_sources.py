"""The telemetry lake sources on files as they arrive without the receiver: OTLP/JSON lines as
the OpenTelemetry Collector's file exporter writes them (gzipped or not), protobuf payloads, and
broken files."""

from __future__ import annotations

import gzip
import inspect
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from datoferum.errors import TelemetryError
from datoferum.services.telemetry import sources
from datoferum.services.telemetry.sources import LOGS, METRICS, SOURCES, SPANS
from focus_samples import fixture

DAY = 86_400 * 10**9
NOV_14_2023 = 1_700_000_000 * 10**9


def _log_request(service: str, times: list[int]) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeLogs": [
                    {
                        "scope": {"name": "app"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(moment),
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {"stringValue": f"failure {n}"},
                                "attributes": [{"key": "n", "value": {"intValue": str(n)}}],
                                "traceId": "0102030405060708090a0b0c0d0e0f10",
                                "spanId": "",
                            }
                            for n, moment in enumerate(times)
                        ],
                    }
                ],
            }
        ]
    }


def _lines(path: Path, requests: list[dict[str, Any]], *, compress: bool = False) -> Path:
    text = "".join(json.dumps(request) + "\n" for request in requests).encode()
    path.write_bytes(gzip.compress(text) if compress else text)
    return path


def _which(path: Path, catalog_path: str = "exports/file", content_type: str = "") -> list[str]:
    head = path.read_bytes()[: 64 * 1024]
    return [s.name for s in SOURCES if s.recognises(head, catalog_path, content_type)]


@pytest.mark.parametrize("compress", [False, True])
def test_collector_file_export_lines(tmp_path: Path, compress: bool) -> None:
    first = _log_request("api", [NOV_14_2023, NOV_14_2023 + DAY])
    second = _log_request("worker", [NOV_14_2023 + 60 * 10**9])
    path = _lines(tmp_path / "logs.jsonl", [first, second], compress=compress)
    assert _which(path) == ["otlp-logs"]
    read = list(LOGS.read(path))
    assert [keys for keys, _ in read] == [{"day": "2023-11-14"}, {"day": "2023-11-15"}]
    by_day = {keys["day"]: batch.to_pydict() for keys, batch in read}
    assert by_day["2023-11-14"]["service_name"] == ["api", "worker"]
    assert by_day["2023-11-14"]["body"] == ["failure 0", "failure 0"]
    assert by_day["2023-11-15"]["body"] == ["failure 1"]
    assert by_day["2023-11-15"]["attributes"] == ['{"n":1}']
    assert set(by_day["2023-11-14"]["trace_id"]) == {"0102030405060708090a0b0c0d0e0f10"}
    assert by_day["2023-11-14"]["span_id"] == [None, None]
    assert by_day["2023-11-14"]["severity_number"] == [17, 17]


def test_batches_stay_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sources.BATCH_ROWS == 65_536
    monkeypatch.setattr(sources, "BATCH_ROWS", 5)
    times = [NOV_14_2023 + (n % 2) * DAY + n for n in range(23)]
    path = _lines(tmp_path / "logs.jsonl", [_log_request("api", times)])
    read = list(LOGS.read(path))
    assert all(batch.num_rows <= 5 for _, batch in read)
    assert sum(batch.num_rows for _, batch in read) == 23
    bodies = sorted(body for _, batch in read for body in batch.column("body").to_pylist())
    assert bodies == sorted(f"failure {n}" for n in range(23))


def test_protobuf_payloads_from_the_sdk(tmp_path: Path) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("lib").start_as_current_span("outer") as outer:
        outer.set_attribute("size", 3.5)
    spans = memory.get_finished_spans()
    path = tmp_path / "payload"
    path.write_bytes(encode_spans(spans).SerializeToString())
    assert _which(path, "otlp/traces/2026/01/02/x.binpb", "application/x-protobuf") == [
        "otlp-traces"
    ]
    named = SPANS.signal.media_type("protobuf")
    assert named.endswith(
        "; proto=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
    )
    assert _which(path, "anywhere/payload", named) == ["otlp-traces"]
    assert _which(path, "anywhere/payload", "application/x-protobuf") == []
    assert _which(path, "otlp/traces/x.binpb", "application/octet-stream") == []
    ((keys, batch),) = list(SPANS.read(path))
    row = {name: batch.column(name)[0] for name in batch.schema.names}
    context = outer.get_span_context()
    assert row["trace_id"].as_py() == format(context.trace_id, "032x")
    assert row["name"].as_py() == "outer" and row["service_name"].as_py() == "svc"
    assert row["attributes"].as_py() == '{"size":3.5}'
    started = spans[0].start_time
    assert started is not None
    assert row["start_time"].value == started  # nanoseconds kept exactly
    assert keys == {"day": datetime.fromtimestamp(started / 1e9, UTC).date().isoformat()}


def test_summary_points(tmp_path: Path) -> None:
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "rpc.latency"
    point = metric.summary.data_points.add()
    point.time_unix_nano = NOV_14_2023
    point.count, point.sum = 4, 10.0
    for quantile, value in ((0.5, 2.0), (0.99, 4.0)):
        entry = point.quantile_values.add()
        entry.quantile, entry.value = quantile, value
    path = tmp_path / "m.binpb"
    path.write_bytes(request.SerializeToString())
    ((keys, batch),) = list(METRICS.read(path))
    (row,) = batch.to_pylist()
    assert keys == {"day": "2023-11-14"}
    assert (row["metric_type"], row["count"], row["sum"]) == ("summary", 4, 10.0)
    assert (row["quantiles"], row["quantile_values"]) == ([0.5, 0.99], [2.0, 4.0])
    assert row["value"] is None and row["bucket_counts"] is None


def test_real_world_samples_read_as_files(tmp_path: Path) -> None:
    # Pretty-printed documents one after another: the samples as they are, concatenated.
    logs, events = fixture("otlp/logs.json"), fixture("otlp/events.json")
    path = tmp_path / "both.json"
    path.write_bytes(logs.read_bytes() + b"\n" + events.read_bytes())
    assert _which(path) == ["otlp-logs"]
    rows = [row for _, batch in LOGS.read(path) for row in batch.to_pylist()]
    assert [row["event_name"] for row in rows] == [None, "browser.page_view"]
    assert rows[0]["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert json.loads(rows[0]["attributes"])["map.attribute"] == {"some.map.key": "some value"}
    assert json.loads(rows[1]["body"])["title"] == "Free Online GUID Generator"
    for name, source in (("metrics", METRICS), ("trace", SPANS)):
        sample = fixture(f"otlp/{name}.json")
        assert _which(sample) == [source.name]
        assert sum(batch.num_rows for _, batch in source.read(sample)) >= 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"resourceLogs": []}\n{"resourceLogs": [', "record 2: truncated JSON"),
        (b'{"resourceLogs": [{"scopeLogs": 5}]}\n', "record 1 is not an OTLP/JSON"),
        (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "xyz"}]}]}]}', "not hex"),
        (b'{"resourceLogs": []}\n\xff\xfe', "not UTF-8"),
    ],
)
def test_broken_json_files_name_the_record(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(TelemetryError) as raised:
        list(LOGS.read(path))
    assert message in raised.value.detail and str(path) in raised.value.detail


def test_broken_protobuf_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.binpb"
    path.write_bytes(b"\x0a\xff\xff\xff\x0f" + b"\x00" * 10)
    with pytest.raises(TelemetryError) as raised:
        list(SPANS.read(path))
    assert "not a protobuf ExportTraceServiceRequest" in raised.value.detail


def test_other_json_is_not_telemetry(tmp_path: Path) -> None:
    path = tmp_path / "billing.json"
    path.write_text('{"code": 200, "data": [{"resourceSpans": 1}]}')
    assert _which(path, content_type="application/json") == []


@runtime_checkable
class LakeSource(Protocol):
    """The lake's structural interface for sources, as the lake's normalization job calls it."""

    name: str
    dataset: str

    def recognises(self, head: bytes, path: str, content_type: str) -> bool: ...

    def read(self, source: Path) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]: ...


def test_sources_are_lake_sources() -> None:
    assert all(isinstance(source, LakeSource) for source in SOURCES)
    assert sorted(source.dataset for source in SOURCES) == [
        "otel_logs",
        "otel_metrics",
        "otel_spans",
    ]
    assert len({source.name for source in SOURCES}) == 3
    for source in SOURCES:
        assert set(inspect.signature(source.recognises).parameters) == {
            "head",
            "path",
            "content_type",
        }
        assert list(inspect.signature(source.read).parameters) == ["source"]
