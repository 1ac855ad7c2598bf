"""Bad billing exports through a real server: the file stays captured, the normalization fails
with a reason a person can act on, on the file's timeline, and nothing reaches the lake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

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


@pytest.fixture(scope="module")
def lake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("lake-bad") / "home"
    live = LiveServer(home, DATOFERUM_LAKE_WATCH_SECONDS="0.2").start()
    yield live
    live.stop()


@pytest.fixture
def client(lake_server: LiveServer) -> Iterator[httpx.Client]:
    with lake_server.client() as http:
        yield http


def _account() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


def _nothing_half_written(client: httpx.Client) -> None:
    """Every object on the backend is a captured version or a registered lake object."""
    queued = client.post("/api/v1/storage/report", json={})
    report = wait_for_job(client, queued.json()["id"])["result"]["reports"][0]
    assert report["unknown_objects"]["count"] == 0, report


def _failed_job(client: httpx.Client, file_id: str) -> dict[str, Any]:
    """The file's normalization job, once it has ended: the failure event commits before the
    worker marks the job failed."""
    listed = client.get("/api/v1/jobs", params={"kind": "lake.normalize", "limit": 1000})
    job_id = next(j["id"] for j in listed.json()["items"] if j["payload"]["file_id"] == file_id)
    job = wait_for_job(client, job_id)
    assert job["state"] == "failed", job
    return job


def _failed(client: httpx.Client, record: dict[str, Any], collection: str) -> str:
    """The reason of the failure recorded on the file's timeline, after checking its effects."""
    failure = wait_for_event(client, record["id"], ["lake.normalized", "lake.normalize_failed"])
    assert failure["type"] == "lake.normalize_failed", failure
    reason: str = failure["details"]["reason"]
    assert f"{collection}/{record['path']}" in reason  # named as people know it, not a disk path
    assert "/objects/" not in reason
    job = _failed_job(client, record["id"])
    assert job["last_error"] == reason and job["attempts"] == 1  # terminal: not retried
    assert partitions(client, record["id"]) == []
    file = client.get(f"/api/v1/files/{record['id']}").json()
    assert file["state"] == "stored"  # the file stays captured and readable
    assert client.get(f"/api/v1/data/{collection}/{record['path']}").status_code == 200
    _nothing_half_written(client)
    return reason


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        (
            "truncated.csv",
            focus_csv([charge("a1", "2024-05-01", "Compute", "1")])
            + b"a1,USD,2024-05-01T00:00:00Z,2024-06-01T00:00:00Z,2024-05-02",
            ["expected 21 fields, found 5", "truncated"],
        ),
        (
            "latin1.csv",
            focus_csv([charge("a1", "2024-05-01", "Compute", "1")]).replace(
                b"Compute use", "Compute usé".encode("latin-1")
            ),
            ["not UTF-8 text"],
        ),
        (
            "currencies.csv",
            focus_csv(
                [
                    charge("a1", "2024-05-01", "Compute", "1"),
                    charge("a1", "2024-05-02", "Compute", "2", currency="EUR"),
                ]
            ),
            ["row 3", "BillingCurrency EUR differs from USD", "one currency"],
        ),
        (
            "nan.csv",
            focus_csv([charge("a1", "2024-05-01", "Compute", "NaN")]),
            ["row 2", "not a finite number"],
        ),
    ],
)
def test_bad_export_fails_with_its_reason_on_the_timeline(
    client: httpx.Client, collection: str, name: str, body: bytes, words: list[str]
) -> None:
    record = upload(client, collection, name, body)
    reason = _failed(client, record, collection)
    for word in words:
        assert word in reason, reason


def test_a_failure_deep_in_a_big_export_leaves_nothing_behind(
    client: httpx.Client, collection: str
) -> None:
    account = _account()
    good = [charge(account, f"2024-05-{1 + n % 28:02d}", "Compute", "0.5") for n in range(70_000)]
    bad = charge(account, "2024-05-03", "Compute", "not-a-cost")
    record = upload(client, collection, "big.csv", focus_csv([*good, bad]))
    reason = _failed(client, record, collection)
    assert "row 70002" in reason and "not-a-cost" in reason
    assert cost(client, filter=f"BillingAccountId={account}") == []


def test_a_bad_new_version_keeps_the_rows_of_the_good_one(
    client: httpx.Client, collection: str
) -> None:
    account = _account()
    first = upload(
        client, collection, "e.csv", focus_csv([charge(account, "2024-05-01", "A", "3")])
    )
    wait_for_event(client, first["id"], ["lake.normalized"])
    second = upload(
        client, collection, "e.csv", focus_csv([charge(account, "2024-05-01", "A", "inf")])
    )
    failure = wait_for_event(client, second["id"], ["lake.normalize_failed"])
    assert failure["version"] == 2
    assert [p["lineage"]["version"] for p in partitions(client, first["id"])] == [1]
    assert cost(client, filter=f"BillingAccountId={account}")[0]["cost"] == 3.0
    _nothing_half_written(client)


def test_negative_costs_are_kept(client: httpx.Client, collection: str) -> None:
    account = _account()
    rows = [
        charge(account, "2024-05-01", "Compute", "-2.5"),
        charge(account, "2024-05-02", "Compute", "1"),
    ]
    record = upload(client, collection, "credits.csv", focus_csv(rows))
    done = wait_for_event(client, record["id"], ["lake.normalized", "lake.normalize_failed"])
    assert done["type"] == "lake.normalized", done
    assert cost(client, filter=f"BillingAccountId={account}")[0]["cost"] == -1.5


def test_unknown_format_is_not_detected_and_fails_when_asked(
    client: httpx.Client, collection: str
) -> None:
    record = upload(client, collection, "inventory.csv", b"name,size\nvm-1,3\n")
    other = upload(
        client, collection, "after.csv", focus_csv([charge("z", "2024-05-01", "A", "1")])
    )
    wait_for_event(client, other["id"], ["lake.normalized"])  # the watcher has passed both
    assert not [e for e in events(client, record["id"]) if e["type"].startswith("lake.")]
    job = normalize(client, record["id"])
    assert job["state"] == "failed"
    assert "unknown format" in job["last_error"] and "aws-cur" in job["last_error"]
    reason = _failed(client, record, collection)
    assert reason == job["last_error"]
