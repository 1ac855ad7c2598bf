"""Scrubs find corrupt and missing copies and repair them; the dark-data report finds strays.

On two local disks standing in for two backends (see layouts.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datoferum.domain.records import FileRecord
from datoferum.domain.roles import SYSTEM
from datoferum.services.capture import CaptureRequest
from datoferum.services.files import get_file
from datoferum.services.scrub import RateLimit
from datoferum.services.wiring import Services
from datoferum.services.worker import Worker
from datoferum.spine import eventlog, jobs
from datoferum.spine.jobs import NewJob
from layouts import two_disk_services, two_disks

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


@pytest.fixture
def services(tmp_path: Path, database_url: str | None) -> Iterator[Services]:
    built = two_disk_services(tmp_path, database_url, "safe", scrub_bytes_per_second=0)
    yield built
    built.close()


def _run(services: Services, kind: str | None = None, **payload: Any) -> dict[str, Any] | None:
    """Queue ``kind`` (if given), run every queued job, and return the queued job's result."""
    queued = None
    if kind is not None:
        with services.catalog.writing() as conn:
            queued = jobs.enqueue(conn, NewJob(kind, payload), "token:test").id
    worker = Worker(services.catalog, services.handlers, heartbeat_seconds=0)
    while worker.run_once() is not None:
        pass
    if queued is None:
        return None
    with services.catalog.reading() as conn:
        return jobs.get(conn, queued).result


def _stored(services: Services, path: str, data: bytes) -> FileRecord:
    capture = services.capture.start(CaptureRequest("media", path, SYSTEM))
    record = capture.finish(data)
    _run(services)  # placement: the second copy
    with services.catalog.reading() as conn:
        return get_file(conn, record.id)


def _path_on(services: Services, record: FileRecord, backend: str) -> Path:
    (replica,) = [r for r in record.current.replicas if r.backend == backend]
    path = services.backends[backend].local_path(replica.key)
    assert path is not None
    return path


def _events(services: Services, file_id: str) -> list[str]:
    with services.catalog.reading() as conn:
        return [e.type for e in eventlog.for_file(conn, file_id)]


def test_scrub_repairs_a_corrupt_and_a_missing_copy(services: Services) -> None:
    good = _stored(services, "good.bin", os.urandom(10_000))
    rotten = _stored(services, "rotten.bin", os.urandom(20_000))
    lost = _stored(services, "lost.bin", os.urandom(30_000))
    original = _path_on(services, rotten, "cold").read_bytes()
    broken = bytearray(original)
    broken[5000] ^= 0xFF  # one flipped bit: same size, wrong bytes
    _path_on(services, rotten, "cold").write_bytes(bytes(broken))
    _path_on(services, lost, "local").unlink()

    counts = _run(services, "scrub")
    assert counts is not None
    assert counts["checked"] == 6 and counts["ok"] == 4
    assert (counts["corrupt"], counts["missing"], counts["repaired"]) == (1, 1, 2)
    assert _path_on(services, rotten, "cold").read_bytes() == original
    assert _path_on(services, lost, "local").exists()
    assert _events(services, rotten.id)[-2:] == ["replica.corrupt", "replica.repaired"]
    assert _events(services, lost.id)[-2:] == ["replica.missing", "replica.repaired"]
    assert "replica.corrupt" not in _events(services, good.id)
    again = _run(services, "scrub")
    assert again is not None and again["ok"] == 6 and again["repaired"] == 0


def test_a_copy_with_no_good_twin_stays_out_of_service(services: Services) -> None:
    record = _stored(services, "both-bad.bin", b"precious" * 100)
    for backend in ("local", "cold"):
        _path_on(services, record, backend).write_bytes(b"garbage!" * 100)
    counts = _run(services, "scrub")
    assert counts is not None and counts["corrupt"] == 2 and counts["unrepaired"] == 2
    with services.catalog.reading() as conn:
        states = {r.backend: r.state for r in get_file(conn, record.id).current.replicas}
    assert states == {"local": "corrupt", "cold": "corrupt"}
    assert _events(services, record.id).count("replica.unrepaired") == 2


def test_dark_data_report(services: Services) -> None:
    kept = _stored(services, "kept.bin", b"kept")
    gone = _stored(services, "gone.bin", b"gone")
    _path_on(services, gone, "cold").unlink()
    stray_key = "f" * 32
    stray = services.backends["cold"].local_path(stray_key)
    assert stray is not None
    stray.write_bytes(b"nobody knows me")
    result = _run(services, "storage.report", backend="cold")
    assert result is not None
    (report,) = result["reports"]
    assert report["unknown_objects"] == {"count": 1, "keys": [stray_key]}
    assert report["missing_copies"]["count"] == 1
    assert report["missing_copies"]["items"][0]["file_id"] == gone.id
    assert kept.id not in str(report)
    every = _run(services, "storage.report")
    assert every is not None and [r["backend"] for r in every["reports"]] == ["local", "cold"]


def test_the_rate_limit_paces_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr("datoferum.services.scrub.time.sleep", sleep)
    limit = RateLimit(1_000_000, clock=lambda: now[0])
    for _ in range(10):
        limit.spend(500_000)
    assert sum(slept) == pytest.approx(5.0)
    unlimited = RateLimit(0, clock=lambda: now[0])
    unlimited.spend(10**12)
    assert sum(slept) == pytest.approx(5.0)


def test_storage_over_http_and_the_cli(tmp_path: Path, database_url: str | None) -> None:
    from conftest import LiveServer

    layout = two_disks(tmp_path, "safe")
    server = LiveServer(
        tmp_path / "home", database_url=database_url, DATOFERUM_STORAGE_CONFIG=str(layout)
    ).start()
    try:
        with server.client() as client:
            stored = client.put("/api/v1/data/media/a.bin", content=b"abc" * 1000)
            assert stored.status_code == 201 and stored.json()["state"] == "placing"
            shown = client.get("/api/v1/storage").json()
            assert [b["name"] for b in shown["backends"]] == ["local", "cold"]
            refused = client.post("/api/v1/storage/report", json={"backend": "tape"})
            assert refused.status_code == 404 and "local, cold" in refused.json()["detail"]
        listed = server.cli("storage", "show")
        assert listed.returncode == 0, listed.stderr
        assert "safe (default)" in listed.stdout and "local, cold" in listed.stdout
        scrubbed = server.cli("storage", "scrub", "--wait")
        assert scrubbed.returncode == 0, scrubbed.stderr
        assert "succeeded" in scrubbed.stdout and "'checked'" in scrubbed.stdout
        reported = server.cli("storage", "report", "--backend", "cold", "--wait")
        assert reported.returncode == 0, reported.stderr
        assert "cold: 0 unknown object(s), 0 missing copy(ies)" in reported.stdout
        wrong = server.cli("storage", "report", "--backend", "tape")
        assert wrong.returncode != 0 and "no backend 'tape'" in wrong.stderr
        with server.client() as client:
            record = client.get(f"/api/v1/files/{stored.json()['id']}").json()
        assert record["state"] == "stored"  # the server's own worker placed it
    finally:
        server.stop()


def test_a_scrub_requeues_placements_that_gave_up(services: Services) -> None:
    from sqlalchemy import update

    from datoferum.spine.catalog.schema import Job

    capture = services.capture.start(CaptureRequest("media", "stuck.bin", SYSTEM))
    record = capture.finish(b"stuck while the backend was away")
    with services.catalog.writing() as conn:  # its placement ran out of attempts
        conn.execute(update(Job).where(Job.kind == "placement").values(state="failed"))
    counts = _run(services, "scrub")
    assert counts is not None and counts["placements_requeued"] == 1
    with services.catalog.reading() as conn:
        placed = get_file(conn, record.id)
    assert placed.current.state == "stored"
    assert {r.backend for r in placed.current.replicas} == {"local", "cold"}
