"""A worker killed with SIGKILL half-way through a policy purging 10,000 files.

The promise under test: after a restart the purge completes, no file is ever both marked purged
and readable, no held file is touched, every purge has its certificate, and the chain verifies.

Everything runs in real processes: a ``datoferum serve`` without job threads answers the API and
a separate ``datoferum worker`` does the purging. The catalog is filled in process through the
product's own capture code (durability relaxed: the fill is set-up, not what is tested), which
takes seconds where 10,000 HTTP uploads would take a minute.

The kill is aimed rather than timed: once a couple of thousand files are purged, the worker's
process group is frozen with SIGSTOP, the catalog is read, and the group is killed only when a
purge is caught between its first and last step (a version marked ``purging``). Otherwise it is
thawed and tried again a moment later. So every run exercises the resumption of an interrupted
purge, not only the restart of a job.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from datoferum.adapters.storage.base import ObjectStat, ObjectWriter, StorageBackend
from datoferum.config import Settings
from datoferum.domain.certificates import verify as verify_certificate
from datoferum.domain.ids import utcnow
from datoferum.domain.roles import SYSTEM
from datoferum.errors import StorageUnavailable
from datoferum.services.capture import CaptureRequest
from datoferum.services.purge import BATCH as PURGE_BATCH
from datoferum.services.wiring import Services, build_services
from datoferum.services.worker import Worker
from datoferum.spine import jobs
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Certificate, Event, File, Job, Replica, Version

from conftest import LiveServer

FILES = 10_000
HOLD_EVERY = 33  # 304 of the 10,000 files are under a legal hold
KILL_AFTER = 2_000  # purged versions before the worker is killed
LEASE_SECONDS = 5
COLLECTION = "crash-purge"
POLICY = f"""
policies:
  - name: purge-everything
    description: Purges every file of the collection; held files must survive it.
    resource: file
    mode: {{type: manual}}
    filters:
      - collection: {COLLECTION}
    actions:
      - purge: {{}}
"""


@dataclass(frozen=True)
class Stored:
    file_id: str
    collection: str
    path: str
    key: str
    sha256: str


def _content(number: int) -> bytes:
    return f"file {number}\n".encode() * (1 + number % 17)


def _fill(home: Path) -> tuple[list[Stored], set[str]]:
    """Capture the files and hold some of them; returns the files and the held file ids."""
    services = build_services(Settings(home=home, durability="relaxed"))
    try:
        migrate.upgrade(services.catalog)
        files = []
        for number in range(FILES):
            path = f"site-{number % 40:02d}/run-{number:05d}.dat"
            capture = services.capture.start(
                CaptureRequest(COLLECTION, path, SYSTEM, metadata={"run": str(number)})
            )
            record = capture.finish(_content(number))
            (replica,) = record.current.replicas
            files.append(Stored(record.id, COLLECTION, path, replica.key, record.current.sha256))
        held = {f.file_id for f in files[::HOLD_EVERY]}
        for file_id in sorted(held):
            services.holds.place(
                SYSTEM, scope="file", target=file_id, reason="litigation 7", owner="legal"
            )
    finally:
        services.close()
    return files, held


def _object(home: Path, key: str) -> Path:
    return home / "objects" / "objects" / key[-3:] / key


class WorkerProcess:
    """A ``datoferum worker`` in its own process group, so a kill reaches all of it at once."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.log = home.parent / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "datoferum", "worker", "--home", str(self.home),
                 "--threads", "2"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None and self.process.poll() is None, self.tail()
        return self.process.pid

    def signal(self, signum: int) -> None:
        os.killpg(self.pid, signum)

    def freeze(self) -> None:
        """SIGSTOP the group and wait until every thread is stopped: the catalog then shows
        exactly what a kill at this instant would leave behind."""
        self.signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self.pid}/task")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = [
                (t / "stat").read_text().rsplit(")", 1)[1].split()[0] for t in tasks.iterdir()
            ]
            if all(state in "tT" for state in states):
                return
            time.sleep(0.001)
        raise AssertionError("the worker did not stop")

    def kill(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _states(catalog: Catalog) -> Counter[str]:
    with catalog.reading() as conn:
        rows = conn.execute(select(Version.state, func.count()).group_by(Version.state)).all()
    return Counter(dict(rows))


def _versions(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """file id -> (state of its version, state of its file row)."""
    with catalog.reading() as conn:
        rows = conn.execute(
            select(Version.file_id, Version.state, File.state.label("file_state")).join(
                File, File.id == Version.file_id
            )
        ).all()
    return {row.file_id: (row.state, row.file_state) for row in rows}


def _check_disk(home: Path, files: list[Stored], held: set[str], catalog: Catalog) -> Counter[str]:
    """The invariants that hold at every instant; returns the version states seen."""
    states = _versions(catalog)
    seen: Counter[str] = Counter()
    for stored in files:
        state, _ = states[stored.file_id]
        seen[state] += 1
        present = _object(home, stored.key).exists()
        if state == "purged":
            assert not present, f"{stored.path} is marked purged but its bytes are on disk"
        elif state == "stored":
            assert present, f"{stored.path} is stored but its bytes are gone"
        else:
            assert state == "purging", f"{stored.path} is {state}"
        if stored.file_id in held:
            assert state == "stored", f"held file {stored.path} is {state}"
            data = _object(home, stored.key).read_bytes()
            assert hashlib.sha256(data).hexdigest() == stored.sha256
    return seen


def _catch_mid_purge(worker: WorkerProcess, catalog: Catalog) -> None:
    """Freeze the worker until a purge is caught between its first and last step, then kill."""
    for _attempt in range(2_000):
        worker.freeze()
        if _states(catalog)["purging"]:
            worker.kill()
            return
        worker.signal(signal.SIGCONT)
        time.sleep(random.uniform(0.001, 0.01))
    raise AssertionError("never caught a purge half-way in 2,000 tries")


def _wait(condition: Any, timeout: float, what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert worker.process is not None and worker.process.poll() is None, worker.tail()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{worker.tail()}")


def _purge_events(catalog: Catalog) -> dict[str, list[tuple[str, int | None]]]:
    with catalog.reading() as conn:
        rows = conn.execute(
            select(Event.type, Event.file_id, Event.version).where(
                Event.type.in_(("file.purge_started", "file.purged", "file.purge_refused"))
            )
        ).all()
    found: dict[str, list[tuple[str, int | None]]] = {}
    for row in rows:
        found.setdefault(row.type, []).append((row.file_id, row.version))
    return found


@pytest.mark.slow
def test_worker_killed_mid_purge_finishes_after_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    started = time.monotonic()
    files, held = _fill(home)
    print(f"filled {FILES} files and {len(held)} holds in {time.monotonic() - started:.1f} s")
    assert all(_object(home, f.key).exists() for f in files)
    env = {
        **os.environ, "DATOFERUM_JOB_THREADS": "0",
        "DATOFERUM_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }  # fmt: skip
    server = LiveServer(home, DATOFERUM_JOB_THREADS="0")
    worker = WorkerProcess(home, {k: v for k, v in env.items() if k != "DATOFERUM_TOKEN"})
    catalog = Catalog(f"sqlite:///{home / 'catalog.db'}")
    try:
        server.start()
        with server.client() as client:
            applied = client.post("/api/v1/policies", content=POLICY)
            assert applied.status_code == 200, applied.text
            queued = client.post("/api/v1/policies/purge-everything/run", json={})
            assert queued.status_code == 202, queued.text
            job_id = queued.json()["id"]

        worker.start()
        _wait(lambda: _states(catalog)["purged"] >= KILL_AFTER, 120, "purges", worker)
        print(f"{KILL_AFTER} purged after {time.monotonic() - started:.1f} s")
        _catch_mid_purge(worker, catalog)
        killed_at = time.monotonic()

        # What the kill left: some purged, one batch caught half-way, the rest (and the held)
        # intact.
        seen = _check_disk(home, files, held, catalog)
        assert 1 <= seen["purging"] <= PURGE_BATCH, seen
        assert KILL_AFTER <= seen["purged"] < FILES - len(held)
        states = _versions(catalog)
        interrupted = [f for f in files if states[f.file_id][0] == "purging"]
        gone = sum(not _object(home, f.key).exists() for f in interrupted)
        print(
            f"killed with {seen['purged']} purged and {len(interrupted)} past the first step "
            f"of their purge, {gone} of them with their bytes deleted"
        )
        with server.client() as client:
            for stored in interrupted[:50]:
                refused = client.get(f"/api/v1/data/{COLLECTION}/{stored.path}")
                assert refused.status_code == 404, "a version being purged must not be readable"
            job = client.get(f"/api/v1/jobs/{job_id}").json()
            assert job["state"] == "running" and job["attempts"] == 1
            lease_until = datetime.fromisoformat(job["lease_until"])

        # A new worker leaves the job alone while the dead one's lease lasts, then takes it.
        worker.start()
        with server.client() as client:
            while datetime.now(UTC) < lease_until - timedelta(seconds=0.5):
                assert client.get(f"/api/v1/jobs/{job_id}").json()["attempts"] == 1
                time.sleep(0.2)

        def job_ended() -> bool:
            with server.client() as client:
                state = client.get(f"/api/v1/jobs/{job_id}").json()["state"]
            return state in ("succeeded", "failed", "cancelled")

        _wait(job_ended, 180, "the purge job to end", worker)
        print(f"job done {time.monotonic() - killed_at:.1f} s after the kill")
        with server.client() as client:
            job = client.get(f"/api/v1/jobs/{job_id}").json()
        assert job["state"] == "succeeded", job
        assert job["attempts"] == 2, job
        worker.stop()

        _check_final(home, files, held, catalog, server, interrupted)
    finally:
        worker.kill()
        server.stop()
        catalog.dispose()
    print(f"whole test: {time.monotonic() - started:.1f} s")


def _check_final(
    home: Path,
    files: list[Stored],
    held: set[str],
    catalog: Catalog,
    server: LiveServer,
    interrupted: list[Stored],
) -> None:
    purged = [f for f in files if f.file_id not in held]
    seen = _check_disk(home, files, held, catalog)
    assert seen == Counter({"purged": len(purged), "stored": len(held)}), seen
    states = _versions(catalog)
    assert all(states[f.file_id] == ("purged", "purged") for f in purged)
    assert all(states[f.file_id] == ("stored", "stored") for f in files if f.file_id in held)
    with catalog.reading() as conn:
        replicas = {row.key: row.state for row in conn.execute(select(Replica.key, Replica.state))}
        certificates = conn.execute(
            select(Certificate.file_id, Certificate.version, Certificate.id)
        ).all()
    assert all(replicas[f.key] == "deleted" for f in purged)
    assert all(replicas[f.key] == "present" for f in files if f.file_id in held)

    # One certificate per purged version, none for a held file.
    certified = Counter((row.file_id, row.version) for row in certificates)
    assert len(certificates) == len(purged)
    assert set(certified) == {(f.file_id, 1) for f in purged}
    assert set(certified.values()) == {1}

    # Each purge started once and finished once (the interrupted ones included); held files
    # were refused, never started.
    events = _purge_events(catalog)
    started, done = events["file.purge_started"], events["file.purged"]
    assert len(started) >= len(done)
    assert Counter(started) == Counter(done) == Counter((f.file_id, 1) for f in purged)
    assert {file_id for file_id, _ in events["file.purge_refused"]} == held

    with server.client() as client:
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
        sample = [*interrupted[:50], *random.sample(purged, 200)]
        for stored in sample:
            answer = client.get(f"/api/v1/data/{COLLECTION}/{stored.path}")
            assert answer.status_code == 404, (stored.path, answer.status_code)
        for stored in [f for f in files if f.file_id in held][:50]:
            answer = client.get(f"/api/v1/data/{COLLECTION}/{stored.path}")
            assert answer.status_code == 200
            assert hashlib.sha256(answer.content).hexdigest() == stored.sha256
        _check_certificate(client, interrupted[0])


def _check_certificate(client: httpx.Client, stored: Stored) -> None:
    """The resumed purge's certificate verifies offline and names its own event."""
    (exported,) = client.get(f"/api/v1/files/{stored.file_id}/certificates").json()["items"]
    key = client.get("/api/v1/keys").json()["public_key_pem"].encode()
    document = verify_certificate(exported, key)
    assert document["file"]["id"] == stored.file_id
    assert document["sha256"] == stored.sha256
    assert document["cause"]["policy"] == "purge-everything"
    events = client.get(f"/api/v1/files/{stored.file_id}/events").json()["items"]
    (purged,) = [e for e in events if e["type"] == "file.purged"]
    assert purged["details"]["certificate"] == document["id"]
    assert document["chain"] == {"seq": purged["seq"], "hash": purged["hash"]}


# -- the same resumption, in process and fast: a purge stopped after its first step -------------


class FailingDeletes(StorageBackend):
    """A storage backend whose batch deletes fail once ``allowed`` objects are deleted; the rest
    is passed to ``backend``."""

    def __init__(self, backend: StorageBackend, allowed: int) -> None:
        self.backend = backend
        self.allowed = allowed
        self.name = backend.name
        self.capabilities = backend.capabilities

    def delete_many(self, keys: Sequence[str]) -> list[bool]:
        existed = [self.backend.delete(key) for key in keys[: self.allowed]]
        self.allowed -= len(existed)
        if len(existed) < len(keys):
            raise StorageUnavailable("the disk went away")
        return existed

    def delete(self, key: str) -> bool:
        return self.backend.delete(key)

    def key_for(self, collection: str, path: str, version_id: str, number: int) -> str:
        return self.backend.key_for(collection, path, version_id, number)

    def open_writer(self, key: str) -> ObjectWriter:
        return self.backend.open_writer(key)

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self.backend.read(key, offset, length)

    def stat(self, key: str) -> ObjectStat | None:
        return self.backend.stat(key)

    def stat_many(self, keys: Sequence[str]) -> list[ObjectStat | None]:
        return self.backend.stat_many(keys)

    def object_keys(self) -> Iterator[str]:
        return self.backend.object_keys()

    def local_path(self, key: str) -> Path | None:
        return self.backend.local_path(key)

    def abandoned(self) -> Iterator[str]:
        return self.backend.abandoned()

    def forget_staging(self, key: str) -> None:
        self.backend.forget_staging(key)

    def check(self) -> None:
        self.backend.check()

    def close(self) -> None:
        self.backend.close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build_services(Settings(home=tmp_path / "home", durability="relaxed"))
    migrate.upgrade(built.catalog)
    yield built
    built.close()


def _capture(services: Services, count: int) -> list[str]:
    ids = []
    for number in range(count):
        capture = services.capture.start(CaptureRequest(COLLECTION, f"f{number}.dat", SYSTEM))
        ids.append(capture.finish(_content(number)).id)
    return ids


def _version_states(services: Services, ids: list[str]) -> list[str]:
    states = _versions(services.catalog)
    return [states[file_id][0] for file_id in ids]


def _make_due(catalog: Catalog) -> None:
    with catalog.writing() as conn:
        conn.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))


def test_policy_run_finishes_its_interrupted_purges(services: Services) -> None:
    ids = _capture(services, 3)
    services.policies.apply("test", POLICY, "test")
    job = services.policies.start("test", "purge-everything")
    storage = services.storage
    services.purge.backends = {storage.name: FailingDeletes(storage, allowed=1)}
    worker = Worker(services.catalog, services.handlers, heartbeat_seconds=0)
    assert worker.run_once() is not None
    # The three were purged as one batch: all past the first step, one with its bytes gone.
    assert _version_states(services, ids) == ["purging"] * 3
    with services.catalog.reading() as conn:
        assert jobs.get(conn, job.id).state == "queued"  # a transient failure: retried

    services.purge.backends = {storage.name: storage}
    _make_due(services.catalog)
    assert worker.run_once() is not None
    assert _version_states(services, ids) == ["purged"] * 3
    with services.catalog.reading() as conn:
        done = jobs.get(conn, job.id)
    assert done.state == "succeeded" and done.result is not None
    assert done.result["resumed"] == 3 and done.result["outcomes"] == {"purged": 3}
    events = _purge_events(services.catalog)
    assert Counter(events["file.purge_started"]) == Counter(events["file.purged"])
    assert len(events["file.purged"]) == 3
    with services.catalog.reading() as conn:
        assert conn.execute(select(func.count()).select_from(Certificate)).scalar() == 3
    # The resumed purge is certified with the cause it started with.
    (certificate,) = services.certificates.for_file(ids[1])
    assert certificate.document["cause"]["job"] == job.id
    assert certificate.document["actor"] == "policy:purge-everything"


def test_retention_sweep_finishes_an_interrupted_purge(services: Services) -> None:
    (file_id,) = _capture(services, 1)
    past = datetime(2000, 1, 1)
    services.retention.change("test", file_id, 1, past, reason="expired", then="purge")
    storage = services.storage
    services.purge.backends = {storage.name: FailingDeletes(storage, allowed=0)}
    assert services.retention.sweep()["failed"] == 1
    assert _version_states(services, [file_id]) == ["purging"]
    services.purge.backends = {storage.name: storage}
    assert services.retention.sweep()["purged"] == 1
    assert _version_states(services, [file_id]) == ["purged"]
    assert len(services.certificates.for_file(file_id)) == 1
