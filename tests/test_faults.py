"""Fault injection on a real HDFS: the NameNode, then a DataNode, stopped while files arrive under
the storage policy ``safe`` (a copy on the local disk, then one on HDFS with replication 3).

The promise: uploads succeed on the first copy whatever HDFS does; placements that cannot reach
HDFS fail with a transient error and are tried again, never dropped, however long the outage;
once the daemon is back every version is ``stored`` with an HDFS copy whose bytes hash to its
sha256 and whose blocks have three replicas again; and the audit chain verifies.

The cluster (``scripts/servers/hdfs-daemons``) runs each daemon in a JVM of its own, so one can be
stopped and started again on its ports with its data. It belongs to this module (one per xdist
worker that runs these tests) and to no other test, since these tests break it on purpose; each
test begins by starting whatever an earlier one may have left stopped.

Jobs run in the test's own thread, ``Worker.run_once`` at a time, and retries are made due at
once instead of waiting out their backoff, so each test takes as long as HDFS itself needs
(about 11 s to count a stopped DataNode dead, a few seconds to restart a daemon).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import update

from datoferum.adapters.storage.hdfs import WebHdfsBackend
from datoferum.config import Settings
from datoferum.domain.ids import utcnow
from datoferum.domain.records import FileRecord, State
from datoferum.domain.roles import SYSTEM
from datoferum.domain.storage_layout import Copy
from datoferum.services.capture import CaptureRequest
from datoferum.services.files import get_file
from datoferum.services.placement import JOB as PLACEMENT
from datoferum.services.wiring import Services, build_services
from datoferum.services.worker import Worker
from datoferum.spine import eventlog, jobs
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.schema import Job
from datoferum.spine.jobs import JobRecord, JobState
from servers.hdfs import unique_root

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "servers" / "hdfs-daemons"
#: The first start may download Hadoop (~140 MB) from Maven Central.
START_TIMEOUT = 900
#: Stopping a DataNode waits until the NameNode counts it dead; starting waits out safe mode.
CHANGE_TIMEOUT = 300
FILES = 20
#: Sizes cycled through: empty, small, and (with the cluster's 1 MiB blocks) up to three blocks.
SIZES = (0, 1_000, 200_000, 1_500_000, 2_600_000)
#: Failed attempts while the NameNode is down: with the queue's backoff (1, 2, 4 ... s, capped at
#: ten minutes) a worker makes about this many in the first quarter of an hour of an outage.
OUTAGE_ATTEMPTS = 10
#: Seconds HDFS gets to bring every block back to three replicas once a DataNode returns.
CATCH_UP_SECONDS = 60
LAYOUT = """
backends:
  local: {{type: local, root: "{local}"}}
  hdfs: {{type: hdfs, url: "{url}", user: "{user}", root: "{root}", timeout: 30}}
policies:
  hot: [local]
  safe: [local, {{backend: hdfs, replication: 3}}]
default: safe
"""


@dataclass(frozen=True)
class FaultCluster:
    """The cluster in ``state``, driven through the script."""

    state: Path
    url: str
    user: str

    def command(self, *args: str) -> list[str]:
        return [str(SCRIPT), *args[:1], str(self.state), *args[1:]]

    def run(self, *args: str) -> None:
        done = subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=CHANGE_TIMEOUT
        )
        if done.returncode != 0:
            raise RuntimeError(f"hdfs-daemons {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def webhdfs(self, path: str, op: str) -> Any:
        """One GET straight to the NameNode, bypassing the backend."""
        answer = httpx.get(
            f"{self.url}/webhdfs/v1{quote(path)}", params={"op": op, "user.name": self.user}
        )
        answer.raise_for_status()
        return answer.json()


def _start(state: Path) -> FaultCluster:
    done = subprocess.run(
        [SCRIPT, "start", state, "--owner", str(os.getpid())],
        capture_output=True, text=True, timeout=START_TIMEOUT,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{SCRIPT} start {state} failed:\n{done.stderr[-3000:]}")
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return FaultCluster(
        state, env["DATOFERUM_TEST_WEBHDFS_URL"], env["DATOFERUM_TEST_WEBHDFS_USER"]
    )


@pytest.fixture(scope="module")
def fault_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultCluster]:
    """This module's own cluster; the watchdog (``--owner``) stops it if the run is killed."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"HDFS fault tests need {' and '.join(missing)}: install Java 17+ and Maven "
            "(Debian: apt-get install -y openjdk-17-jdk-headless maven)"
        )
    state = tmp_path_factory.mktemp("hdfs-faults")
    cluster = _start(state)
    yield cluster
    subprocess.run([SCRIPT, "stop", state], check=True, capture_output=True, timeout=120)


@pytest.fixture
def cluster(fault_cluster: FaultCluster) -> FaultCluster:
    """The module's cluster with every daemon running (an earlier failure may have left one
    stopped)."""
    fault_cluster.run("start")
    return fault_cluster


@pytest.fixture
def services(
    cluster: FaultCluster, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Services]:
    layout = tmp_path / "storage.yaml"
    layout.write_text(
        LAYOUT.format(
            local=tmp_path / "hot", url=cluster.url, user=cluster.user, root=unique_root(request)
        )
    )
    built = build_services(Settings(home=tmp_path / "home", storage_config=layout))
    migrate.upgrade(built.catalog)
    yield built
    built.close()
    _close_hdfs(built)


def _close_hdfs(services: Services) -> None:
    """Close the HDFS backends' connections: ``Services.close`` leaves them to the garbage
    collector, whose ResourceWarnings would fail whichever test happens to be running then."""
    layout = services.backends.layout
    copies = [Copy(name) for name in layout.backends]
    copies += [copy for policy in layout.policies.values() for copy in policy.copies]
    for copy in copies:
        backend = services.backends.for_copy(copy)
        if isinstance(backend, WebHdfsBackend):
            backend.close()


def _upload(services: Services, name: str, number: int) -> tuple[FileRecord, bytes]:
    data = os.urandom(SIZES[number % len(SIZES)])
    capture = services.capture.start(CaptureRequest("faults", f"{name}/{number:03}.bin", SYSTEM))
    return capture.finish(data), data


def _record(services: Services, file_id: str) -> FileRecord:
    with services.catalog.reading() as conn:
        return get_file(conn, file_id)


def _make_due(services: Services) -> None:
    """Queued jobs run now rather than after their backoff."""
    with services.catalog.writing() as conn:
        conn.execute(
            update(Job)
            .where(Job.state == JobState.QUEUED)
            .values(run_at=utcnow() - timedelta(seconds=1))
        )


def _run_due(services: Services, limit: int | None = None) -> int:
    """Run due jobs until none is left due or ``limit`` have run; returns how many ran. (A job
    that fails is queued again with a backoff, and may come due again before the end.)"""
    worker = Worker(services.catalog, services.handlers, heartbeat_seconds=0)
    ran = 0
    while (limit is None or ran < limit) and worker.run_once() is not None:
        ran += 1
    return ran


def _placements(services: Services) -> list[JobRecord]:
    with services.catalog.reading() as conn:
        return jobs.page(conn, kind=PLACEMENT, limit=1000)


def _place_everything(services: Services, rounds: int = 10) -> None:
    """Run placements, retrying the failed ones at once, until none is left queued."""
    for _ in range(rounds):
        _make_due(services)
        _run_due(services)
        if all(job.state != JobState.QUEUED for job in _placements(services)):
            return
    queued = [job.last_error for job in _placements(services) if job.state == JobState.QUEUED]
    raise AssertionError(f"placements still failing after {rounds} rounds: {queued[:3]}")


def _hdfs_path(services: Services, record: FileRecord) -> tuple[WebHdfsBackend, str, str]:
    """The HDFS backend, the key of the record's copy there, and its path in HDFS."""
    backend = services.backends["hdfs"]
    assert isinstance(backend, WebHdfsBackend)
    (replica,) = [r for r in record.current.replicas if r.backend == "hdfs"]
    return backend, replica.key, backend.object_path(replica.key)


def _replicas_per_block(cluster: FaultCluster, path: str) -> list[int]:
    located = cluster.webhdfs(path, "GETFILEBLOCKLOCATIONS")["BlockLocations"]["BlockLocation"]
    return [len(set(block["names"])) for block in located]


def _assert_all_placed(
    services: Services, cluster: FaultCluster, uploads: list[tuple[FileRecord, bytes]]
) -> None:
    """Every version stored, its HDFS copy whole, every block on three DataNodes, nothing left in
    staging, one copy made per version, and the chain intact."""
    paths = []
    for uploaded, data in uploads:
        record = _record(services, uploaded.id)
        assert record.current.state == State.STORED
        states = {r.backend: r.state for r in record.current.replicas}
        assert states == {"local": "present", "hdfs": "present"}
        backend, key, path = _hdfs_path(services, record)
        stored = b"".join(backend.read(key))
        assert hashlib.sha256(stored).hexdigest() == record.current.sha256
        assert stored == data
        assert cluster.webhdfs(path, "GETFILESTATUS")["FileStatus"]["replication"] == 3
        with services.catalog.reading() as conn:
            types = [e.type for e in eventlog.for_file(conn, record.id)]
        assert types.count("replica.created") == 1 and types.count("file.placed") == 1
        paths.append(path)
    deadline = time.monotonic() + CATCH_UP_SECONDS
    short = paths
    while short:
        short = [p for p in short if any(n < 3 for n in _replicas_per_block(cluster, p))]
        if short and time.monotonic() > deadline:
            raise AssertionError(f"{len(short)} files still lack replicas, e.g. {short[0]}")
        time.sleep(0.5)
    hdfs = services.backends["hdfs"]
    assert isinstance(hdfs, WebHdfsBackend)
    staging = cluster.webhdfs(f"{hdfs.root}/.staging", "LISTSTATUS")
    assert staging["FileStatuses"]["FileStatus"] == []
    assert all(job.state == JobState.SUCCEEDED for job in _placements(services))
    assert services.audit.verify().ok


def test_a_stopped_namenode_delays_placement_and_loses_nothing(
    cluster: FaultCluster, services: Services
) -> None:
    cluster.run("stop-namenode")
    uploads = [_upload(services, "namenode-down", n) for n in range(FILES)]
    for record, data in uploads:
        assert record.current.state == State.PLACING
        assert b"".join(services.access.read(record, 0, len(data))) == data

    for attempt in range(1, OUTAGE_ATTEMPTS + 1):
        _make_due(services)
        # Due since a second ago, each comes before any retried in this round (due a second on).
        assert _run_due(services, limit=FILES) == FILES  # every placement tried, none given up
        placements = _placements(services)
        assert {(job.state, job.attempts) for job in placements} == {(JobState.QUEUED, attempt)}
    for job in placements:
        assert job.last_error is not None
        assert f"the HDFS NameNode at {cluster.url} cannot be reached" in job.last_error
    assert all(_record(services, r.id).current.state == State.PLACING for r, _ in uploads)

    cluster.run("start-namenode")
    _place_everything(services)
    _assert_all_placed(services, cluster, uploads)


def test_a_stopped_datanode_does_not_stop_placement(
    cluster: FaultCluster, services: Services
) -> None:
    uploads = [_upload(services, "before", n) for n in range(5)]
    _place_everything(services)
    # Uploads and placements go on while the DataNode stops and until the NameNode counts it
    # dead (about 11 s): first HDFS still sends writes to it, then it is stale and avoided.
    stopping = subprocess.Popen(
        cluster.command("stop-datanode", "2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while stopping.poll() is None:
        uploads.append(_upload(services, "during", len(uploads)))
        _run_due(services)
    _out, errors = stopping.communicate()
    assert stopping.returncode == 0, errors
    # Counted dead, it gets no more writes: placements succeed at once on the other two.
    after = [_upload(services, "after", len(uploads) + n) for n in range(5)]
    _run_due(services)
    assert [_record(services, r.id).current.state for r, _ in after] == [State.STORED] * 5
    uploads += after
    _place_everything(services)  # what failed while HDFS still sent writes to the stopped one
    for record, _data in uploads:
        assert _record(services, record.id).current.state == State.STORED
    cluster.run("start-datanode", "2")
    _assert_all_placed(services, cluster, uploads)
