"""The lake through a real server: billing exports captured over HTTP are normalized to
partitioned FOCUS Parquet with lineage, again idempotently, and queried with DuckDB."""

from __future__ import annotations

import calendar
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from datoferum.services.focus import convert
from focus_samples import CUR_LEGACY, fixture, opencost_response
from lake_helpers import (
    charge,
    cost,
    events,
    focus_csv,
    normalize,
    partitions,
    upload,
    wait_for_event,
    wait_for_job,
)

from conftest import LiveServer

PRICE = 0.5  # per GiB-month on the local backend


@pytest.fixture(scope="module")
def lake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own: lake queries see every object in its lake."""
    home = tmp_path_factory.mktemp("lake") / "home"
    live = LiveServer(
        home,
        DATOFERUM_LAKE_WATCH_SECONDS="0.2",
        DATOFERUM_STORAGE_PRICES=f"local={PRICE}",
        DATOFERUM_LAKE_QUERY_SECONDS="2",
        DATOFERUM_LAKE_QUERY_ROWS="50",
    ).start()
    yield live
    live.stop()


@pytest.fixture
def client(lake_server: LiveServer) -> Iterator[httpx.Client]:
    with lake_server.client() as http:
        yield http


@pytest.fixture
def account() -> str:
    """A billing account of the test's own, to filter its rows out of the shared lake."""
    return f"acct-{uuid.uuid4().hex[:12]}"


def _object_file(server: LiveServer, part: dict[str, Any]) -> Path:
    found = list((server.home / "objects").rglob(part["id"]))
    assert len(found) == 1, part
    return found[0]


def test_a_captured_export_is_detected_normalized_and_traced(
    lake_server: LiveServer, client: httpx.Client, collection: str
) -> None:
    record = upload(client, collection, "aws/2024-05/cur.csv", CUR_LEGACY.encode())
    normalized = wait_for_event(client, record["id"], ["lake.normalized", "lake.normalize_failed"])
    assert normalized["type"] == "lake.normalized", normalized
    timeline = [e["type"] for e in events(client, record["id"])]
    assert timeline.index("lake.detected") < timeline.index("lake.normalized")
    detected = next(e for e in events(client, record["id"]) if e["type"] == "lake.detected")
    assert detected["details"] == {"source": "aws-cur", "dataset": "focus"}
    details = normalized["details"]
    assert (details["source"], details["dataset"], details["rows"]) == ("aws-cur", "focus", 5)

    parts = partitions(client, record["id"])
    assert [p["path"] for p in parts] == [p["path"] for p in details["partitions"]]
    (part,) = parts
    assert part["partition"] == "provider=aws/billing_period=2024-05"
    assert part["path"] == f"focus/provider=aws/billing_period=2024-05/part-{part['id']}.parquet"
    assert part["lineage"] == {
        "source": "aws-cur", "source_key": f"file:{record['id']}", "file_id": record["id"],
        "version_id": part["lineage"]["version_id"], "version": 1,
    }  # fmt: skip
    stored = _object_file(lake_server, part)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == part["sha256"]
    assert stored.stat().st_size == part["bytes"]
    table = pq.read_table(stored)
    assert table.num_rows == part["rows"] == 5
    assert sorted(table.column("BilledCost").to_pylist()) == [-0.02, 0.0, 0.05, 0.096, 0.2875]
    # the source file itself is untouched and still served
    assert client.get(f"/api/v1/data/{collection}/aws/2024-05/cur.csv").content == (
        CUR_LEGACY.encode()
    )


def test_normalizing_again_replaces_the_rows_instead_of_adding_them(
    lake_server: LiveServer, client: httpx.Client, collection: str, account: str
) -> None:
    rows = [
        charge(account, "2024-03-05", "Compute", "10"),
        charge(account, "2024-04-02", "DB", "4"),
    ]
    record = upload(client, collection, "focus.csv", focus_csv(rows))
    wait_for_event(client, record["id"], ["lake.normalized"])
    first = partitions(client, record["id"])
    assert sorted(p["partition"] for p in first) == [
        "provider=acme-cloud/billing_period=2024-03",
        "provider=acme-cloud/billing_period=2024-04",
    ]
    before = cost(client, filter=f"BillingAccountId={account}", granularity="none")
    assert [item["cost"] for item in before] == [14.0]

    job = normalize(client, record["id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["rows"] == 2 and job["result"]["replaced"] == 2
    again = partitions(client, record["id"])
    assert {p["id"] for p in again}.isdisjoint({p["id"] for p in first})
    assert cost(client, filter=f"BillingAccountId={account}", granularity="none") == before
    for old in first:  # replaced objects are gone from the backend
        assert not list((lake_server.home / "objects").rglob(old["id"]))
    second = wait_for_event(client, record["id"], ["lake.normalized"], count=2)
    assert sorted(r["path"] for r in second["details"]["replaced"]) == sorted(
        p["path"] for p in first
    )

    # A new version of the export replaces the rows of the version before it.
    upload(
        client, collection, "focus.csv", focus_csv([charge(account, "2024-03-05", "Compute", "7")])
    )
    wait_for_event(client, record["id"], ["lake.normalized"], count=3)
    latest = partitions(client, record["id"])
    assert [p["lineage"]["version"] for p in latest] == [2]
    assert cost(client, filter=f"BillingAccountId={account}", granularity="none")[0]["cost"] == 7.0


def test_corrections_count_in_the_period_they_correct(
    client: httpx.Client, collection: str, account: str
) -> None:
    march = focus_csv([charge(account, "2024-03-10", "Compute", "100")])
    april = focus_csv(
        [
            charge(account, "2024-04-03", "Compute", "50"),
            # billed with April's invoice, correcting a March charge
            charge(
                account, "2024-03-10", "Compute", "-8", billing_month="2024-04", correction=True
            ),
        ]
    )
    upload(client, collection, "2024-03.csv", march)
    record = upload(client, collection, "2024-04.csv", april)
    wait_for_event(client, record["id"], ["lake.normalized"])
    parts = {p["partition"]: p["rows"] for p in partitions(client, record["id"])}
    assert parts == {
        "provider=acme-cloud/billing_period=2024-03": 1,
        "provider=acme-cloud/billing_period=2024-04": 1,
    }
    by_month = cost(client, filter=f"BillingAccountId={account}")
    assert [(i["period"], i["cost"]) for i in by_month] == [("2024-03", 92.0), ("2024-04", 50.0)]
    by_class = cost(
        client, filter=f"BillingAccountId={account}", group_by="ChargeClass", granularity="none"
    )
    assert {i["ChargeClass"]: i["cost"] for i in by_class} == {None: 150.0, "Correction": -8.0}


def test_cost_by_columns_tags_days_cost_columns_filters_and_top(
    client: httpx.Client, collection: str, account: str
) -> None:
    rows = [
        charge(account, "2024-06-01", "Compute", "3", effective="2", tags='{"team": "web"}',
               resource="vm-1"),
        charge(account, "2024-06-01", "Storage", "5", effective="5", tags='{"team": "data"}',
               resource="bucket-1", category="Storage"),
        charge(account, "2024-06-02", "Compute", "4", effective="1", tags='{"team": "web"}',
               resource="vm-2"),
        charge(account, "2024-07-01", "Compute", "-1", tags='{"team": "web"}', resource="vm-1"),
        charge(account, "2024-06-02", "Network", "9", currency="EUR", provider="Other Cloud",
               category="Networking"),
    ]  # fmt: skip
    uploaded = upload(client, collection, "mixed.csv", focus_csv(rows[:4]))
    euros = upload(client, collection, "euros.csv", focus_csv(rows[4:]))
    for record in (uploaded, euros):
        wait_for_event(client, record["id"], ["lake.normalized"])
    mine = f"BillingAccountId={account}"

    days = cost(client, filter=mine, group_by="ServiceName", granularity="day")
    assert [(i["period"], i["ServiceName"], i["BillingCurrency"], i["cost"]) for i in days] == [
        ("2024-06-01", "Compute", "USD", 3.0),
        ("2024-06-01", "Storage", "USD", 5.0),
        ("2024-06-02", "Compute", "USD", 4.0),
        ("2024-06-02", "Network", "EUR", 9.0),
        ("2024-07-01", "Compute", "USD", -1.0),  # a negative cost is kept
    ]
    by_tag = cost(
        client, filter=[mine, "BillingCurrency=USD"], group_by="tag:team", cost="EffectiveCost",
        start="2024-06-01T00:00:00Z", end="2024-07-01T00:00:00Z",
    )  # fmt: skip
    assert {(i["period"], i["tag:team"]): i["cost"] for i in by_tag} == {
        ("2024-06", "web"): 3.0,
        ("2024-06", "data"): 5.0,
    }
    only_web = cost(client, filter=[mine, "tag:team=web", "ResourceId=vm-1"], granularity="none")
    assert [i["cost"] for i in only_web] == [2.0]
    top = cost(
        client, "/api/v1/lake/cost/top", by="ResourceId", n=2, filter=[mine, "BillingCurrency=USD"]
    )
    assert [(i["ResourceId"], i["cost"]) for i in top] == [("bucket-1", 5.0), ("vm-2", 4.0)]

    for params, word in [
        ({"group_by": "NoSuchColumn"}, "NoSuchColumn"),
        ({"cost": "Price"}, "cost column"),
        ({"granularity": "week"}, "granularity"),
        ({"filter": "ServiceName"}, "<column>=<value>"),
        ({"start": "2024-07-01", "end": "2024-06-01"}, "after start"),
        ({"group_by": 'tag:a"b'}, "without quotes"),
    ]:
        answer = client.get("/api/v1/lake/cost", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert word in answer.json()["detail"]
    assert client.get("/api/v1/lake/cost/top").status_code == 400


def _sql(client: httpx.Client, text: str) -> httpx.Response:
    return client.post("/api/v1/lake/sql", json={"sql": text})


def test_sql_reads_the_lake_views(client: httpx.Client, collection: str, account: str) -> None:
    rows = [charge(account, f"2024-08-0{day}", "Compute", str(day + 1)) for day in (1, 2)]
    record = upload(client, collection, "sql.csv", focus_csv(rows))
    wait_for_event(client, record["id"], ["lake.normalized"])
    answer = _sql(
        client,
        f"SELECT ServiceName, sum(BilledCost) AS total, count(*) AS n FROM focus "
        f"WHERE BillingAccountId = '{account}' GROUP BY 1",
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["columns"] == ["ServiceName", "total", "n"]
    assert body["rows"] == [["Compute", 5.0, 2]] and body["truncated"] is False
    times = _sql(
        client,
        "SELECT min(ChargePeriodStart) AS first, max(ChargePeriodEnd) AS last FROM focus "
        f"WHERE BillingAccountId = '{account}'",
    )
    assert times.json()["rows"] == [["2024-08-01T00:00:00+00:00", "2024-08-03T00:00:00+00:00"]]
    assert _sql(client, "SELECT 1 AS a, 2 AS a").json()["rows"] == [[1, 2]]
    many = _sql(client, "SELECT * FROM range(120)").json()  # the module's server cuts at 50
    assert (len(many["rows"]), many["truncated"], many["limit"]) == (50, True, 50)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM read_text('/etc/hostname')", "disabled by configuration"),
        ("SELECT * FROM 'https://example.com/x.parquet'", ""),
        ("COPY (SELECT 1) TO '/tmp/lake-escape.csv'", "only SELECT"),
        ("ATTACH '/tmp/lake-escape.db' AS other", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("LOAD httpfs", "only SELECT"),
        ("SET enable_external_access = true", "only SELECT"),
        ("PRAGMA enable_profiling", "only SELECT"),
        ("CREATE TABLE t AS SELECT 1", "only SELECT"),
        ("SELECT 1; SELECT * FROM read_csv('/etc/passwd')", "2 statements"),
        ("SELECT * FROM query('SET enable_external_access = true')", ""),
        ("SELECT nonsense FROM", ""),
        ("", "empty"),
    ],
)
def test_sql_sandbox_refuses_escapes(client: httpx.Client, text: str, word: str) -> None:
    answer = _sql(client, text)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] in (
        "urn:datoferum:problem:query-failed",
        "urn:datoferum:problem:invalid-input",
    )
    assert word in problem["detail"]
    assert not Path("/tmp/lake-escape.csv").exists() and not Path("/tmp/lake-escape.db").exists()


def test_sql_that_runs_too_long_is_stopped(client: httpx.Client) -> None:
    started = datetime.now(UTC)
    answer = _sql(
        client,
        "SELECT count(*) FROM range(100000000) a, range(100000) b WHERE a.range + b.range = -1",
    )
    took = (datetime.now(UTC) - started).total_seconds()
    assert answer.status_code == 400, answer.text
    assert "longer than 2 s" in answer.json()["detail"]
    assert took < 15
    assert _sql(client, "SELECT 42").json()["rows"] == [[42]]  # the server is fine after it


def test_roles(lake_server: LiveServer, client: httpx.Client) -> None:
    tokens = {}
    for role in ("producer", "consumer", "auditor"):
        made = client.post("/api/v1/tokens", json={"name": f"lake {role}", "role": role})
        tokens[role] = made.json()["token"]
    for role, status in (("producer", 403), ("consumer", 200), ("auditor", 200)):
        with lake_server.client(token=tokens[role]) as http:
            assert http.get("/api/v1/lake/cost").status_code == status, role
            assert http.post("/api/v1/lake/sql", json={"sql": "SELECT 1"}).status_code == status
            assert http.get("/api/v1/lake/partitions").status_code == status
            refused = http.post("/api/v1/lake/normalize", json={"file_id": "x"})
            assert refused.status_code == 403, role
            assert "normalize files into the lake" in refused.json()["detail"]
    with lake_server.client(token=None) as anonymous:
        assert anonymous.get("/api/v1/lake/cost").status_code == 401


def test_normalize_request_errors(client: httpx.Client, collection: str) -> None:
    assert client.post("/api/v1/lake/normalize", json={}).status_code == 400
    missing = client.post("/api/v1/lake/normalize", json={"file_id": "0" * 32})
    assert missing.status_code == 404
    record = upload(client, collection, "x.csv", b"a,b\n1,2\n")
    unknown = client.post(
        "/api/v1/lake/normalize", json={"file_id": record["id"], "source": "nope"}
    )
    assert unknown.status_code == 400 and "aws-cur" in unknown.json()["detail"]
    extra = client.post("/api/v1/lake/normalize", json={"file_id": record["id"], "x": 1})
    assert extra.status_code == 400


def test_own_storage_cost_per_collection(
    lake_server: LiveServer, client: httpx.Client, collection: str
) -> None:
    sizes = [1000, 250_000]
    for number, size in enumerate(sizes):
        upload(client, collection, f"blob-{number}.bin", b"x" * size)
    day = "2024-02-10"
    answer = client.post("/api/v1/lake/storage-cost", json={"day": day})
    assert answer.status_code == 202
    job = wait_for_job(client, answer.json()["id"])
    assert job["state"] == "succeeded", job
    expected = sum(sizes) / 2**30 * PRICE / calendar.monthrange(2024, 2)[1]
    mine = f"SubAccountName={collection}"
    found = cost(client, filter=["ProviderName=Datoferum", mine], group_by="tag:backend")
    assert len(found) == 1
    assert found[0]["period"] == "2024-02" and found[0]["tag:backend"] == "local"
    assert found[0]["cost"] == pytest.approx(expected, rel=1e-9)
    # again for the same day: replaced, not added
    again = wait_for_job(
        client, client.post("/api/v1/lake/storage-cost", json={"day": day}).json()["id"]
    )
    assert again["result"]["replaced"] == job["result"]["partitions"]
    found = cost(client, filter=["ProviderName=Datoferum", mine], granularity="none")
    assert found[0]["cost"] == pytest.approx(expected, rel=1e-9)
    listed = client.get("/api/v1/lake/partitions", params={"dataset": "focus"}).json()["items"]
    own = [p for p in listed if p["lineage"]["source_key"] == f"storage-cost:{day}"]
    assert own and all(p["partition"] == "provider=datoferum/billing_period=2024-02" for p in own)
    bad_day = client.post("/api/v1/lake/storage-cost", json={"day": "tomorrow"})
    assert wait_for_job(client, bad_day.json()["id"])["state"] == "failed"


def test_cli_twins(
    lake_server: LiveServer, client: httpx.Client, collection: str, account: str
) -> None:
    record = upload(
        client, collection, "cli.csv", focus_csv([charge(account, "2024-09-01", "Compute", "6")])
    )
    wait_for_event(client, record["id"], ["lake.normalized"])
    done = lake_server.cli("--json", "lake", "normalize", record["id"], "--wait")
    assert done.returncode == 0, done.stderr
    assert '"succeeded"' in done.stdout
    shown = lake_server.cli(
        "lake", "cost", "--group-by", "ServiceName", "--filter", f"BillingAccountId={account}"
    )
    assert shown.returncode == 0, shown.stderr
    assert "2024-09  Compute" in shown.stdout and "6.000000" in shown.stdout
    top = lake_server.cli(
        "lake", "top", "--by", "ServiceName", "--filter", f"BillingAccountId={account}"
    )
    assert top.returncode == 0 and "Compute" in top.stdout
    listed = lake_server.cli("lake", "partitions", "--file-id", record["id"])
    assert "provider=acme-cloud/billing_period=2024-09" in listed.stdout
    answered = lake_server.cli(
        "lake", "sql", f"SELECT count(*) AS n FROM focus WHERE BillingAccountId = '{account}'"
    )
    assert answered.returncode == 0 and answered.stdout.split() == ["n", "1"]
    refused = lake_server.cli("lake", "sql", "SELECT * FROM read_csv('/etc/passwd')")
    assert refused.returncode == 1
    assert refused.stderr.startswith("datoferum: error: ") and refused.stderr.count("\n") == 1
    failed = lake_server.cli("lake", "cost", "--group-by", "Nope")
    assert failed.returncode == 1 and "Nope" in failed.stderr


def test_real_cur_sample_lands_in_the_lake(
    client: httpx.Client, collection: str, tmp_path: Path
) -> None:
    source = fixture("billing/aws/2023-06-01.csv")
    record = upload(client, collection, "real/2023-06-01.csv", source.read_bytes())
    done = wait_for_event(client, record["id"], ["lake.normalized", "lake.normalize_failed"])
    assert done["type"] == "lake.normalized", done
    expected = convert([source], tmp_path / "all.parquet").rows
    assert sum(p["rows"] for p in partitions(client, record["id"])) == expected > 0
    assert done["details"]["rows"] == expected


def test_opencost_and_otlp_reach_the_lake(client: httpx.Client, collection: str) -> None:
    """Both kinds of input that do not come as billing columns: an OpenCost allocation response
    (FOCUS rows, recognised by its JSON envelope) and an OTLP export received over /v1/traces
    (the spans dataset), each normalized when captured and queryable with SQL."""
    allocations = json.dumps(opencost_response(days=1)).encode()
    record = upload(client, collection, "k8s/opencost-2024-05-01.json", allocations)
    done = wait_for_event(client, record["id"], ["lake.normalized", "lake.normalize_failed"])
    assert (done["type"], done["details"]["source"]) == ("lake.normalized", "opencost"), done
    parts = partitions(client, record["id"])
    assert {p["dataset"] for p in parts} == {"focus"}
    assert sum(p["rows"] for p in parts) == done["details"]["rows"] > 0

    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    export = {
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": f"svc-{collection}"}},
            ]},
            "scopeSpans": [{"scope": {"name": "lake-test"}, "spans": [{
                "traceId": trace_id, "spanId": span_id, "name": "GET /episodes",
                "kind": 2, "startTimeUnixNano": "1716800000000000000",
                "endTimeUnixNano": "1716800000250000000",
            }]}],
        }]
    }  # fmt: skip

    def telemetry() -> dict[str, dict[str, Any]]:
        listed = client.get("/api/v1/files", params={"collection": "telemetry", "limit": 1000})
        return {item["id"]: item for item in listed.json()["items"]}

    before = telemetry()
    sent = client.post("/v1/traces", json=export)
    assert sent.status_code == 200, sent.text
    (file,) = [item for key, item in telemetry().items() if key not in before]
    assert file["path"].startswith("otlp/traces/")
    done = wait_for_event(client, file["id"], ["lake.normalized", "lake.normalize_failed"])
    assert (done["type"], done["details"]["dataset"]) == ("lake.normalized", "otel_spans"), done
    found = _sql(
        client,
        f"SELECT name, service_name, duration_ns FROM otel_spans WHERE trace_id = '{trace_id}'",
    )
    assert found.status_code == 200, found.text
    assert found.json()["rows"] == [["GET /episodes", f"svc-{collection}", 250000000]]
