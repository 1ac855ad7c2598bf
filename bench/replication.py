"""Replication of a large file into HDFS, against Hadoop's own ``hdfs dfs -put`` of the same bytes.

One real HDFS (``scripts/servers/hdfs``: a NameNode and three DataNodes in one JVM, on loopback,
with its data on the disk under test) serves the whole case. A storage layout
``safe: [local, {backend: hdfs, replication: 3}]`` makes every capture land on the local disk and
wait, ``placing``, for its HDFS copy. Each run then times one of:

* **Datoferum**: ``PlacementService.place`` of a version captured just before (outside the
  timing), exactly what a ``placement`` job does: stage a marker, stream the bytes from the local
  disk to a DataNode over WebHDFS while hashing them, compare the sha256 with the version's, rename
  the file into place and record the copy (two catalog transactions with ``full`` durability);
* **Hadoop**: ``FsShell -D dfs.replication=3 -put -f FILE hdfs://...`` in a fresh JVM, which is
  what ``hdfs dfs -put`` runs (the native RPC client, writing ``FILE._COPYING_`` then renaming it).
  The time includes the JVM's start-up, since that is what a user of ``hdfs dfs`` pays; a no-op
  ``FsShell -ls /`` run is timed too, and a second reference series subtracts it, so readers can
  see how much of the gap is the JVM (roughly: the copy loop still runs in a cold JVM).

Fairness rules, as for the other cases:

* Every run writes to a new name: Datoferum's copy lands at ``<collection>/take-rN.bin/v1``, the
  reference at ``/bench/rN``. A fresh capture per run is how a placement job finds its work in the
  product (no catalog rows are edited behind its back); the capture is not timed.
* Both read their source from the page cache: the payload and each captured object were just
  written (and flushed), and a GiB read from memory costs a fraction of a second next to the
  transfer. The page cache is the common case for a placement that follows an upload, and it keeps
  the virtual disk's bimodal read speed out of the comparison.
* Before every timed run the copies of the earlier run have been deleted (Datoferum's by a purge,
  the reference's by a WebHDFS ``DELETE``), the NameNode has handed out every block invalidation,
  and ``sync`` has flushed what the DataNodes left dirty, so no run pays for the one before.
* Every copy is checked before its time counts: its length, its replication factor, and its HDFS
  checksum (MD5 of the per-block MD5s of CRC32Cs, computed by the DataNodes from the stored bytes),
  which must be the same for every copy of both systems (both clients write with Hadoop's default
  128 MiB blocks and a CRC32C per 512 bytes). The first copy is also read back and its
  sha256 compared with the payload's, so that common checksum is known to be the right bytes. For
  Datoferum, the version's recorded sha256 must be the payload's and the placement must have
  recorded the HDFS copy as present.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from datoferum.config import Settings
from datoferum.domain.records import State
from datoferum.domain.roles import SYSTEM
from datoferum.services.capture import CaptureRequest
from datoferum.services.files import get_file
from datoferum.services.purge import PurgeRequest
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate

from bench import client
from bench.report import Comparison, Series, interleave
from bench.tools import MissingTool

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "servers" / "hdfs"
POM = ROOT / "servers" / "hdfs" / "pom.xml"
#: The first start downloads Hadoop (~140 MB) from Maven Central.
START_TIMEOUT = 900.0
FSSHELL = "org.apache.hadoop.fs.FsShell"
#: What Hadoop's ``hdfs`` launcher adds to every JVM it starts (``HADOOP_OPTS``' default).
JVM_OPTIONS = ("-Djava.net.preferIPv4Stack=true",)
REPLICATION = 3
#: How the placement answer names the copy it made.
HDFS_COPY = f"hdfs(replication={REPLICATION})"
COLLECTION = "replication"
HDFS_ROOT = "/datoferum"
CAUSE = {"direct": True, "reason": "benchmark"}
#: Deleted blocks normally leave within a DataNode heartbeat or two (3 s each).
SETTLE_TIMEOUT = 120.0

LAYOUT = """\
backends:
  local: {{type: local, root: "{local}"}}
  hdfs: {{type: hdfs, url: "{url}", user: "{user}", root: "{root}"}}
policies:
  safe: [local, {{backend: hdfs, replication: {replication}}}]
default: safe
"""
#: A client configuration directory, as ``$HADOOP_CONF_DIR`` is for ``hdfs dfs``: FsShell
#: insists on finding ``core-site.xml`` on its classpath.
CORE_SITE = """\
<?xml version="1.0"?>
<configuration>
  <property><name>fs.defaultFS</name><value>{uri}</value></property>
</configuration>
"""


def _classpath_file() -> Path:
    """Where the HDFS scripts cache the minicluster's classpath, which holds Hadoop's client too
    (``classpath_file`` in ``scripts/servers/hadoop-common.sh``: its name, keyed by the pom, is an
    interface the scripts keep for the benchmarks)."""
    cache = Path(os.environ.get("DATOFERUM_CACHE", Path.home() / ".cache" / "datoferum"))
    key = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    return cache / "hdfs" / f"classpath-{key}.txt"


def check_tools() -> None:
    """Fail early, saying what to install, when the cluster cannot be started (Maven is needed
    only while Hadoop has not been resolved into the cache)."""
    needed = [("java", "openjdk-17-jdk-headless")]
    if not _classpath_file().is_file():
        needed.append(("mvn", "maven"))
    for tool, package in needed:
        if shutil.which(tool) is None:
            raise MissingTool(f"the replication case needs {tool}: `apt-get install -y {package}`")


def _classpath() -> str:
    """The classpath the script resolved on its first start (so it exists once a cluster is up)."""
    found = _classpath_file()
    if not found.is_file():
        raise RuntimeError(f"{SCRIPT} left no classpath at {found}; has its cache moved?")
    return found.read_text().strip()


@dataclass(frozen=True)
class Cluster:
    """The addresses ``scripts/servers/hdfs start`` wrote to its ``env`` file."""

    webhdfs: str
    user: str
    uri: str


@contextmanager
def hdfs_cluster(state: Path) -> Iterator[Cluster]:
    """One cluster for the case, stopped at the end even on errors; the script's watchdog (owner:
    this process) also stops it should the benchmark be killed outright."""
    state.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [SCRIPT, "start", state, "--owner", str(os.getpid())],
            capture_output=True, text=True, timeout=START_TIMEOUT, check=False,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{SCRIPT} start failed:\n{done.stderr[-3000:]}")
        env = dict(
            line.split("=", 1) for line in (state / "env").read_text().splitlines() if "=" in line
        )
        yield Cluster(
            env["DATOFERUM_TEST_WEBHDFS_URL"],
            env["DATOFERUM_TEST_WEBHDFS_USER"],
            env["DATOFERUM_TEST_HDFS_URI"],
        )
    finally:
        subprocess.run([SCRIPT, "stop", state], capture_output=True, timeout=120, check=False)


class Namenode:
    """Plain WebHDFS and JMX calls for what the harness checks and cleans, apart from the code
    under test (``follow_redirects``: checksums and reads are answered by DataNodes)."""

    def __init__(self, cluster: Cluster) -> None:
        self._url = cluster.webhdfs
        self._http = httpx.Client(
            params={"user.name": cluster.user}, timeout=120, follow_redirects=True
        )

    def close(self) -> None:
        self._http.close()

    def _op(self, method: str, path: str, op: str, **params: str) -> Any:
        answer = self._http.request(
            method, f"{self._url}/webhdfs/v1{path}", params={"op": op, **params}
        )
        answer.raise_for_status()
        return answer.json()

    def mkdirs(self, path: str) -> None:
        self._op("PUT", path, "MKDIRS")

    def delete(self, path: str) -> None:
        if not self._op("DELETE", path, "DELETE", recursive="true")["boolean"]:
            raise RuntimeError(f"HDFS did not delete {path}")

    def status(self, path: str) -> dict[str, Any]:
        status: dict[str, Any] = self._op("GET", path, "GETFILESTATUS")["FileStatus"]
        return status

    def checksum(self, path: str) -> str:
        return str(self._op("GET", path, "GETFILECHECKSUM")["FileChecksum"]["bytes"])

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        with self._http.stream("GET", f"{self._url}/webhdfs/v1{path}", params={"op": "OPEN"}) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes(MiB):
                digest.update(chunk)
        return digest.hexdigest()

    def _namesystem(self) -> dict[str, Any]:
        query = {"qry": "Hadoop:service=NameNode,name=FSNamesystem"}
        answer = self._http.get(f"{self._url}/jmx", params=query)
        answer.raise_for_status()
        bean: dict[str, Any] = answer.json()["beans"][0]
        return bean

    def blocks(self) -> int:
        return int(self._namesystem()["BlocksTotal"])

    def settle(self, blocks: int) -> None:
        """Wait until deleted files' blocks are out of the NameNode's books and their deletion
        has been handed to the DataNodes (the NameNode removes blocks in the background), then
        flush what the DataNodes left dirty: the next run starts from a quiet disk."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            state = self._namesystem()
            if int(state["BlocksTotal"]) <= blocks and int(state["PendingDeletionBlocks"]) == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"HDFS still deletes blocks after {SETTLE_TIMEOUT:.0f} s")
            time.sleep(0.2)
        os.sync()


class Verifier:
    """Checks that a copy in HDFS is the payload, whichever system wrote it (module docstring)."""

    def __init__(self, namenode: Namenode, size: int, sha256: str) -> None:
        self._namenode = namenode
        self._size = size
        self._sha256 = sha256
        self._checksum: str | None = None

    def check(self, path: str) -> None:
        status = self._namenode.status(path)
        if status["type"] != "FILE" or int(status["length"]) != self._size:
            raise RuntimeError(f"{path} holds {status['length']} bytes, not {self._size}")
        if int(status["replication"]) != REPLICATION:
            raise RuntimeError(f"{path} has replication {status['replication']}, not 3")
        checksum = self._namenode.checksum(path)
        if self._checksum is None:
            if self._namenode.sha256(path) != self._sha256:
                raise RuntimeError(f"{path} read back does not match the payload's sha256")
            self._checksum = checksum
        elif checksum != self._checksum:
            raise RuntimeError(f"{path} has HDFS checksum {checksum}, not {self._checksum}")


class Datoferum:
    """The product's services in this process, on a layout that places every upload in HDFS."""

    def __init__(self, home: Path, cluster: Cluster, payload: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        layout = home / "storage.yaml"
        layout.write_text(
            LAYOUT.format(
                local=home / "objects", url=cluster.webhdfs, user=cluster.user,
                root=HDFS_ROOT, replication=REPLICATION,
            )
        )  # fmt: skip
        # Every setting given, so no DATOFERUM_* variable of the shell changes what is measured.
        self.services: Services = build_services(
            Settings(
                home=home, database_url=None, storage_root=None, durability="full",
                policy_dir=None, storage_config=layout,
            )
        )  # fmt: skip
        migrate.upgrade(self.services.catalog)
        self._payload = payload

    def capture(self, run: int) -> tuple[str, str]:
        """Upload the payload as a new file (``full`` durability, so it is flushed); returns the
        file and version ids. The new version is ``placing``: its HDFS copy is missing."""
        capture = self.services.capture.start(
            CaptureRequest(COLLECTION, f"take-r{run}.bin", SYSTEM)
        )
        with self._payload.open("rb", buffering=0) as source:
            while chunk := source.read(client.CHUNK):
                capture.write(chunk)
        record = capture.finish()
        if record.current.state != State.PLACING:
            raise RuntimeError(f"the capture is {record.current.state}, not placing")
        return record.id, record.current.id

    def placed_copy(self, file_id: str, sha256: str) -> str:
        """The HDFS path of the version's copy, once the catalog says it is present and the
        version stored with the payload's sha256."""
        with self.services.catalog.reading() as conn:
            version = get_file(conn, file_id).current
        if version.state != State.STORED or version.sha256 != sha256:
            raise RuntimeError(
                f"the placed version is {version.state} with sha256 {version.sha256}"
            )
        copies = [r for r in version.replicas if r.backend == "hdfs" and r.state == "present"]
        if len(copies) != 1:
            raise RuntimeError(f"the catalog records no present HDFS copy: {version.replicas}")
        return f"{HDFS_ROOT}/{copies[0].key}"

    def purge(self, file_id: str) -> None:
        """Delete both copies through the product, which checks that each is gone."""
        (outcome,) = self.services.purge.purge_many([PurgeRequest(file_id, 1, CAUSE, "benchmark")])
        if outcome.outcome != "purged":
            raise RuntimeError(f"the purge of {file_id} ended {outcome.outcome}: {outcome.detail}")

    def close(self) -> None:
        self.services.close()


class FsShell:
    """Hadoop's command-line client, started as ``hdfs dfs`` starts it: a fresh JVM per command."""

    def __init__(self, workdir: Path, cluster: Cluster) -> None:
        conf = workdir / "hadoop-conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "core-site.xml").write_text(CORE_SITE.format(uri=cluster.uri))
        self._argv = ["java", *JVM_OPTIONS, "-cp", f"{conf}:{_classpath()}", FSSHELL]
        self._log = workdir / "fsshell.log"

    def run(self, *args: str) -> float:
        """Run one command; wall time in seconds, JVM start-up included."""
        with self._log.open("ab") as log:
            started = time.perf_counter()
            done = subprocess.run(
                [*self._argv, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=False
            )
            elapsed = time.perf_counter() - started
        if done.returncode:
            tail = self._log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"FsShell {' '.join(args)} exited with {done.returncode}:\n{tail}")
        return elapsed


class Rounds:
    """The three measures of one round, sharing the cluster, the payload and the checks."""

    def __init__(
        self, base: Path, cluster: Cluster, namenode: Namenode, ours: Datoferum, payload: Path
    ) -> None:
        self.cluster = cluster
        self.namenode = namenode
        self.ours = ours
        self.payload = payload
        self.mib = payload.stat().st_size / MiB
        with payload.open("rb") as source:
            self.sha256 = hashlib.file_digest(source, "sha256").hexdigest()
        self.verifier = Verifier(namenode, payload.stat().st_size, self.sha256)
        self.shell = FsShell(base, cluster)
        namenode.mkdirs("/bench")
        self.idle = namenode.blocks()  # what the cluster holds between runs
        self._put_seconds = 0.0

    def datoferum(self, run: int) -> float:
        file_id, version_id = self.ours.capture(run)
        self.namenode.settle(self.idle)
        started = time.perf_counter()
        answer = self.ours.services.placement.place(version_id, SYSTEM.subject)
        elapsed = time.perf_counter() - started
        if answer.get("outcome") != "placed" or answer.get("copied") != [HDFS_COPY]:
            raise RuntimeError(f"the placement answered {answer}")
        self.verifier.check(self.ours.placed_copy(file_id, self.sha256))
        self.ours.purge(file_id)
        return self.mib / elapsed

    def hadoop(self, run: int) -> float:
        path = f"/bench/r{run}"
        self.namenode.settle(self.idle)
        replication = f"dfs.replication={REPLICATION}"
        seconds = self.shell.run(
            "-D", replication, "-put", "-f", str(self.payload), self.cluster.uri + path
        )
        self.verifier.check(path)
        self.namenode.delete(path)
        self._put_seconds = seconds
        return self.mib / seconds

    def hadoop_without_jvm(self, _run: int) -> float:
        """The same round's ``-put`` less a no-op ``-ls /`` (JVM start-up, configuration, one
        NameNode call): roughly what the transfer itself took."""
        self.namenode.settle(self.idle)
        return self.mib / (self._put_seconds - self.shell.run("-ls", "/"))


def replicate(workdir: Path, runs: int, mib: int) -> list[Comparison]:
    """The case: one cluster and one catalog for every run, so only the copies differ."""
    base = workdir / "replication"
    base.mkdir(parents=True)
    print(f"Writing a fresh random {mib} MiB file, starting HDFS ...", flush=True)
    payload = client.random_file(base / "payload.bin", mib * MiB)
    with hdfs_cluster(base / "hdfs") as cluster:
        namenode = Namenode(cluster)
        ours = Datoferum(base / "home", cluster, payload)
        try:
            rounds = Rounds(base, cluster, namenode, ours, payload)
            placement = Series("Datoferum placement", "MiB/s", work=mib)
            put = Series("hdfs dfs -put", "MiB/s", work=mib)
            bare = Series("hdfs dfs -put less JVM start", "MiB/s", work=mib)
            interleave(
                runs,
                [
                    (placement, rounds.datoferum),
                    (put, rounds.hadoop),
                    (bare, rounds.hadoop_without_jvm),
                ],
            )
        finally:
            ours.close()
            namenode.close()
    size = f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib} MiB"
    label = f"{size} replicated into HDFS"
    return [
        Comparison(label, placement, put, 0.8),
        Comparison(label, placement, bare, None, note="less FsShell's start-up"),
    ]
