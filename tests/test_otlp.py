"""The OTLP receiver against a real server, fed by the real OpenTelemetry SDK exporters and by
hand-made OTLP/JSON, then the captured files decoded by the telemetry lake sources."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import get_current
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from datoferum.services.telemetry.sources import LOGS, METRICS, SOURCES, SPANS, OtlpSource
from focus_samples import fixture

from conftest import ROOT, LiveServer

COLLECTION = "otel-test"
LIMIT = 256 * 1024
RESOURCE = Resource.create({"service.name": "checkout", "deployment.environment": "test"})


@pytest.fixture(scope="module")
def otlp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("otlp") / "home"
    live = LiveServer(
        home, DATOFERUM_OTLP_COLLECTION=COLLECTION, DATOFERUM_OTLP_MAX_REQUEST_BYTES=str(LIMIT)
    ).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def tokens(otlp_server: LiveServer) -> dict[str, str]:
    found = {}
    with otlp_server.client() as client:
        for role in ("producer", "consumer"):
            answer = client.post("/api/v1/tokens", json={"name": f"otlp {role}", "role": role})
            assert answer.status_code == 201, answer.text
            found[role] = answer.json()["token"]
    return found


def _listing(live: LiveServer, signal: str) -> dict[str, dict[str, Any]]:
    with live.client() as client:
        answer = client.get(
            "/api/v1/files",
            params={"collection": COLLECTION, "prefix": f"otlp/{signal}/", "limit": 1000},
        )
    if answer.status_code == 404:  # the collection does not exist yet
        return {}
    assert answer.status_code == 200, answer.text
    return {item["id"]: item for item in answer.json()["items"]}


def _new_files(
    live: LiveServer, signal: str, before: dict[str, dict[str, Any]]
) -> list[tuple[dict[str, Any], bytes]]:
    found = []
    with live.client() as client:
        for file_id, item in _listing(live, signal).items():
            if file_id not in before:
                record = client.get(f"/api/v1/files/{file_id}").json()
                body = client.get(f"/api/v1/data/{COLLECTION}/{item['path']}")
                assert body.status_code == 200, body.text
                found.append((record, body.content))
    return found


def _decode(
    tmp_path: Path, files: list[tuple[dict[str, Any], bytes]], source: OtlpSource
) -> list[dict[str, Any]]:
    """Every row the lake source reads from ``files``, after checking it (and no other source)
    recognises each of them from its head, path and content type."""
    rows: list[dict[str, Any]] = []
    for item, body in files:
        head = body[: 64 * 1024]
        chosen = [s for s in SOURCES if s.recognises(head, item["path"], item["content_type"])]
        assert chosen == [source], (item["path"], item["content_type"])
        local = tmp_path / item["id"]
        local.write_bytes(body)
        for keys, batch in source.read(local):
            assert batch.schema == source.schema
            day_rows = _micro(batch).to_pylist()
            # A row's day is its event's (a log record's observed time when it has none).
            moments = [
                row.get("start_time") or row["time"] or row["observed_time"] for row in day_rows
            ]
            assert {keys["day"]} == {moment.date().isoformat() for moment in moments}
            rows.extend(day_rows)
    return rows


def _micro(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its nanosecond timestamps in microseconds, which Python's datetime holds."""
    columns = [
        pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False)
        if pa.types.is_timestamp(column.type)
        else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _hex(number: int, digits: int) -> str:
    return format(number, f"0{digits}x")


def test_sdk_traces_are_captured_and_decoded(
    otlp_server: LiveServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    before = _listing(otlp_server, "traces")
    exporter = OTLPSpanExporter(
        endpoint=f"{otlp_server.url}/v1/traces",
        headers={"Authorization": f"Bearer {tokens['producer']}"},
        compression=Compression.Gzip,
    )
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop.cart", "2.1.0")
    with tracer.start_as_current_span(
        "POST /cart", kind=SpanKind.SERVER, attributes={"http.status": 500, "retried": True}
    ) as parent:
        parent.add_event("cache miss", {"key": "cart:42"})
        with tracer.start_as_current_span("db.query", kind=SpanKind.CLIENT) as child:
            child.set_attribute("db.rows", [1, 2, 3])
            child.set_status(Status(StatusCode.ERROR, "deadlock"))
    provider.shutdown()
    parent_ctx, child_ctx = parent.get_span_context(), child.get_span_context()

    files = _new_files(otlp_server, "traces", before)
    assert len(files) == 2  # the simple processor exports each span as it ends
    for item, _ in files:
        assert item["path"].endswith(".binpb") and item["state"] == "stored"
        assert item["metadata"] == {"otlp.signal": "traces", "otlp.items": "1"}
    rows = {row["name"]: row for row in _decode(tmp_path, files, SPANS)}
    server_span, client_span = rows["POST /cart"], rows["db.query"]
    assert server_span["trace_id"] == _hex(parent_ctx.trace_id, 32)
    assert server_span["span_id"] == _hex(parent_ctx.span_id, 16)
    assert server_span["parent_span_id"] is None
    assert client_span["parent_span_id"] == server_span["span_id"]
    assert client_span["span_id"] == _hex(child_ctx.span_id, 16)
    assert (server_span["kind"], client_span["kind"]) == ("SERVER", "CLIENT")
    assert json.loads(server_span["attributes"]) == {"http.status": 500, "retried": True}
    assert json.loads(client_span["attributes"]) == {"db.rows": [1, 2, 3]}
    assert (client_span["status_code"], client_span["status_message"]) == ("ERROR", "deadlock")
    events = json.loads(server_span["events"])
    assert [(e["name"], e["attributes"]) for e in events] == [("cache miss", {"key": "cart:42"})]
    assert server_span["service_name"] == "checkout"
    assert json.loads(server_span["resource_attributes"])["deployment.environment"] == "test"
    assert (server_span["scope_name"], server_span["scope_version"]) == ("shop.cart", "2.1.0")
    assert (
        server_span["duration_ns"]
        == (server_span["end_time"] - server_span["start_time"]).total_seconds() * 1e9
        or server_span["duration_ns"] > 0
    )


def test_sdk_logs_are_captured_and_decoded(
    otlp_server: LiveServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    before = _listing(otlp_server, "logs")
    provider = LoggerProvider(resource=RESOURCE)
    exporter = OTLPLogExporter(
        endpoint=f"{otlp_server.url}/v1/logs",
        headers={"Authorization": f"Bearer {tokens['producer']}"},
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("payments", "1.4")
    with TracerProvider(resource=RESOURCE).get_tracer("t").start_as_current_span("c") as span:
        logger.emit(
            context=get_current(), severity_number=SeverityNumber.WARN, severity_text="WARN",
            body="card visa declined", attributes={"tenant": "acme", "attempt": 3},
        )  # fmt: skip
    logger.emit(
        timestamp=1_700_000_000_000_000_000, severity_number=SeverityNumber.INFO,
        body={"settled": True, "amounts": [1, 2]}, event_name="payment.settled",
    )  # fmt: skip
    provider.shutdown()
    files = _new_files(otlp_server, "logs", before)
    assert len(files) == 2
    rows = {row["body"]: row for row in _decode(tmp_path, files, LOGS)}
    declined = rows["card visa declined"]
    settled = rows['{"settled":true,"amounts":[1,2]}']
    assert (declined["severity_text"], declined["severity_number"]) == ("WARN", 13)
    assert json.loads(declined["attributes"]) == {"tenant": "acme", "attempt": 3}
    context = span.get_span_context()
    assert declined["trace_id"] == _hex(context.trace_id, 32)
    assert declined["span_id"] == _hex(context.span_id, 16)
    assert (declined["scope_name"], declined["scope_version"]) == ("payments", "1.4")
    assert declined["service_name"] == "checkout"
    assert declined["observed_time"] is not None
    assert (settled["severity_number"], settled["event_name"]) == (9, "payment.settled")
    assert settled["trace_id"] is None
    assert settled["time"].isoformat() == "2023-11-14T22:13:20+00:00"


def test_sdk_metrics_of_every_kind_are_captured_and_decoded(
    otlp_server: LiveServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    before = _listing(otlp_server, "metrics")
    exporter = OTLPMetricExporter(
        endpoint=f"{otlp_server.url}/v1/metrics",
        headers={"Authorization": f"Bearer {tokens['producer']}"},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=RESOURCE,
        metric_readers=[reader],
        views=[
            View(instrument_name="latency.exp", aggregation=ExponentialBucketHistogramAggregation())
        ],
    )
    meter = provider.get_meter("shop.metrics", "0.3")
    requests = meter.create_counter("requests", unit="1", description="requests served")
    requests.add(5, {"route": "/a"})
    requests.add(2, {"route": "/b"})
    queue = meter.create_up_down_counter("queue.depth")
    queue.add(7)
    queue.add(-3)
    latency = meter.create_histogram("latency", unit="ms")
    for value in (3.0, 7.0, 120.0):
        latency.record(value, {"route": "/a"})
    exponential = meter.create_histogram("latency.exp", unit="ms")
    for value in (1.0, 2.0, 4.0):
        exponential.record(value)

    def temperature(options: CallbackOptions) -> list[Observation]:
        return [Observation(42.5, {"core": "0"})]

    meter.create_observable_gauge("cpu.temperature", [temperature], unit="Cel")
    assert provider.force_flush()
    provider.shutdown()

    files = _new_files(otlp_server, "metrics", before)
    assert files
    rows = _decode(tmp_path, files, METRICS)
    first = min(rows, key=lambda row: row["time"])["time"]
    points = {(row["metric_name"], row["attributes"]): row for row in rows if row["time"] == first}
    a = points[("requests", '{"route":"/a"}')]
    assert (a["metric_type"], a["value"], a["value_int"]) == ("sum", 5.0, 5)
    assert (a["is_monotonic"], a["temporality"], a["unit"]) == (True, "cumulative", "1")
    assert a["description"] == "requests served"
    assert points[("requests", '{"route":"/b"}')]["value_int"] == 2
    depth = points[("queue.depth", None)]
    assert (depth["value_int"], depth["is_monotonic"]) == (4, False)
    histogram = points[("latency", '{"route":"/a"}')]
    assert histogram["metric_type"] == "histogram"
    assert (histogram["count"], histogram["sum"]) == (3, 130.0)
    assert (histogram["min"], histogram["max"]) == (3.0, 120.0)
    assert sum(histogram["bucket_counts"]) == 3
    assert len(histogram["bucket_counts"]) == len(histogram["explicit_bounds"]) + 1
    exp = points[("latency.exp", None)]
    assert exp["metric_type"] == "exponential_histogram"
    assert (exp["count"], exp["sum"]) == (3, 7.0)
    assert sum(exp["positive_bucket_counts"]) + exp["zero_count"] == 3
    assert exp["scale"] is not None
    gauge = points[("cpu.temperature", '{"core":"0"}')]
    assert (gauge["metric_type"], gauge["value"], gauge["unit"]) == ("gauge", 42.5, "Cel")
    assert gauge["scope_name"] == "shop.metrics"


def _json_traces(name: str, trace_id: str = "5B8EFFF798038103D269B633813FC60C") -> bytes:
    """An OTLP/JSON trace export as a curl user would write it (hex ids, enum integers,
    64-bit integers as strings, and a field this server does not know)."""
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "batch"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "cron"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": "EEE19B7EC3C1B174",
                                "name": name,
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000250000000",
                                "attributes": [
                                    {"key": "rows", "value": {"intValue": "12"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                ],
                                "status": {"code": 1},
                                "someFutureField": {"x": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    return json.dumps(document).encode()


def _post(
    live: LiveServer, signal: str, body: bytes, token: str | None, **headers: str
) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{live.url}/v1/{signal}", content=body, headers=sent, timeout=60)


@pytest.mark.parametrize("gzipped", [False, True])
def test_json_over_plain_http(
    otlp_server: LiveServer, tokens: dict[str, str], tmp_path: Path, gzipped: bool
) -> None:
    before = _listing(otlp_server, "traces")
    body = _json_traces(f"nightly-{gzipped}")
    sent = gzip.compress(body) if gzipped else body
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    answer = _post(otlp_server, "traces", sent, tokens["producer"], **headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {}
    files = _new_files(otlp_server, "traces", before)
    assert len(files) == 1
    item, stored = files[0]
    assert stored == body  # kept as sent, uncompressed
    assert item["path"].startswith("otlp/traces/") and item["path"].endswith(".json")
    (row,) = _decode(tmp_path, files, SPANS)
    assert row["name"] == f"nightly-{gzipped}"
    assert (row["trace_id"], row["span_id"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
    )
    assert (row["kind"], row["status_code"], row["duration_ns"]) == ("CLIENT", "OK", 250_000_000)
    assert json.loads(row["attributes"]) == {"rows": 12, "ratio": 0.5}
    assert row["start_time"].isoformat() == "2023-11-14T22:13:20+00:00"


def test_each_capture_is_on_the_record(otlp_server: LiveServer, tokens: dict[str, str]) -> None:
    before = _listing(otlp_server, "traces")
    answer = _post(otlp_server, "traces", _json_traces("audited"), tokens["producer"])
    assert answer.status_code == 200, answer.text
    ((item, _),) = _new_files(otlp_server, "traces", before)
    with otlp_server.client() as client:
        events = client.get(f"/api/v1/files/{item['id']}/events").json()["items"]
        assert [e["type"] for e in events][:1] == ["file.captured"]
        assert "file.stored" in [e["type"] for e in events]
        assert client.get("/api/v1/audit/verify").json()["ok"] is True


def test_empty_export_is_answered_and_not_stored(
    otlp_server: LiveServer, tokens: dict[str, str]
) -> None:
    before = _listing(otlp_server, "logs")
    answer = _post(otlp_server, "logs", b'{"resourceLogs": []}', tokens["producer"])
    assert (answer.status_code, answer.json()) == (200, {})
    assert _new_files(otlp_server, "logs", before) == []


def _truncated_protobuf() -> bytes:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    message = trace_service_pb2.ExportTraceServiceRequest()
    message.ParseFromString(b"")
    spans = message.resource_spans.add().scope_spans.add().spans.add()
    spans.name = "x" * 200
    spans.trace_id = bytes(range(16))
    whole = message.SerializeToString()
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("truncated protobuf", 400),
        ("invalid json", 400),
        ("json of another signal", 400),
        ("id not hex", 400),
        ("broken gzip", 400),
        ("wrong content type", 415),
        ("unknown encoding", 415),
        ("declared oversize", 413),
        ("gzip bomb", 413),
        ("no token", 401),
        ("bad token", 401),
        ("consumer token", 403),
    ],
)
def test_refusals_store_nothing(
    otlp_server: LiveServer, tokens: dict[str, str], case: str, status: int
) -> None:
    producer = tokens["producer"]
    json_type = {"Content-Type": "application/json"}
    protobuf = {"Content-Type": "application/x-protobuf"}
    gzipped = {**json_type, "Content-Encoding": "gzip"}
    good = _json_traces("refused")
    requests: dict[str, tuple[bytes, str | None, dict[str, str]]] = {
        "truncated protobuf": (_truncated_protobuf(), producer, protobuf),
        "invalid json": (b'{"resourceSpans": [', producer, json_type),
        "json of another signal": (b'{"resourceSpans": 7}', producer, json_type),
        "id not hex": (_json_traces("bad", trace_id="not-hex"), producer, json_type),
        "broken gzip": (b"\x1f\x8b\x08\x00garbage", producer, gzipped),
        "wrong content type": (good, producer, {"Content-Type": "text/plain"}),
        "unknown encoding": (good, producer, {**json_type, "Content-Encoding": "br"}),
        "declared oversize": (b" " * (LIMIT + 1) + good, producer, json_type),
        "gzip bomb": (gzip.compress(good + b" " * (LIMIT * 4)), producer, gzipped),
        "no token": (good, None, json_type),
        "bad token": (good, "not-a-token", json_type),
        "consumer token": (good, tokens["consumer"], json_type),
    }  # fmt: skip
    body, token, headers = requests[case]
    before = {signal: _listing(otlp_server, signal) for signal in ("traces", "logs", "metrics")}
    answer = _post(otlp_server, "traces", body, token, **headers)
    assert answer.status_code == status, answer.text
    if headers.get("Content-Type") == "application/x-protobuf":
        assert answer.headers["content-type"] == "application/x-protobuf"
        rpc = RpcStatus.FromString(answer.content)
        assert rpc.code == 3 and "protobuf ExportTraceServiceRequest" in rpc.message
    else:
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == status and problem["detail"]
    for signal, listed in before.items():
        assert _listing(otlp_server, signal) == listed, f"{case}: something was stored"


def test_problem_details_say_what_to_do(otlp_server: LiveServer, tokens: dict[str, str]) -> None:
    wrong = _post(otlp_server, "logs", b"{}", tokens["producer"], **{"Content-Type": "text/csv"})
    assert "http/protobuf or http/json" in wrong.json()["detail"]
    huge = _post(otlp_server, "logs", b" " * (LIMIT + 1), tokens["producer"])
    assert huge.json()["type"].endswith("payload-too-large")
    assert "DATOFERUM_OTLP_MAX_REQUEST_BYTES" in huge.json()["detail"]
    not_hex = _post(otlp_server, "traces", _json_traces("x", trace_id="zz"), tokens["producer"])
    assert "not hex" in not_hex.json()["detail"]


def test_protobuf_client_gets_retryable_status_for_auth(otlp_server: LiveServer) -> None:
    answer = _post(otlp_server, "metrics", b"", None, **{"Content-Type": "application/x-protobuf"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert RpcStatus.FromString(answer.content).code == 16


@pytest.mark.parametrize(
    ("name", "source"), [("logs", LOGS), ("metrics", METRICS), ("trace", SPANS), ("events", LOGS)]
)
def test_real_world_samples_go_through_the_receiver(
    otlp_server: LiveServer, tokens: dict[str, str], tmp_path: Path, name: str, source: OtlpSource
) -> None:
    sample = fixture(f"otlp/{name}.json")
    signal = source.signal.name
    before = _listing(otlp_server, signal)
    answer = _post(otlp_server, signal, sample.read_bytes(), tokens["producer"])
    assert answer.status_code == 200, answer.text
    files = _new_files(otlp_server, signal, before)
    rows = _decode(tmp_path, files, source)
    expected = json.loads(sample.read_text())
    assert len(rows) == source.signal.count(source.signal.from_json(expected))
    assert {row["service_name"] for row in rows} == {"my.service"}


def test_docs_curl_examples_run(
    otlp_server: LiveServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    text = (ROOT / "docs" / "telemetry.md").read_text()
    script = text.split("### With curl\n", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    script = script.replace("http://127.0.0.1:8000", otlp_server.url)
    (tmp_path / "logs.json").write_bytes(_json_logs())
    before = {signal: _listing(otlp_server, signal) for signal in ("traces", "logs")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "TOKEN": tokens["producer"]}, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{}{}"
    for signal, listed in before.items():
        assert len(_listing(otlp_server, signal)) == len(listed) + 1, signal


def _json_logs() -> bytes:
    record = {"timeUnixNano": "1700000000000000000", "body": {"stringValue": "hello"}}
    scope = {"scope": {"name": "docs"}, "logRecords": [record]}
    return json.dumps({"resourceLogs": [{"scopeLogs": [scope]}]}).encode()
