"""A real HDFS (``scripts/servers/hdfs``: one NameNode, three DataNodes) and WebHDFS backends on it.

One cluster serves a whole test run. Under pytest-xdist every worker runs the script on the same
state directory, beside the workers' own temporary directories: the script's lock lets the first
worker start the cluster and the others reuse it, and its watchdog stops it when the run's main
process exits. Without xdist the fixture stops the cluster itself. With
``DATOFERUM_TEST_WEBHDFS_URL`` (and ``DATOFERUM_TEST_WEBHDFS_USER``) set, the tests use that HDFS
and start nothing.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from datoferum.adapters.storage.hdfs import WebHdfsBackend

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "servers" / "hdfs"
#: The first start downloads Hadoop (~140 MB) from Maven Central.
START_TIMEOUT = 900


@dataclass(frozen=True)
class HdfsServer:
    url: str
    user: str


def _start(state: str, owner: int) -> HdfsServer:
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"HDFS tests need {' and '.join(missing)}: install Java 17+ and Maven "
            "(Debian: apt-get install -y openjdk-17-jdk-headless maven)"
        )
    done = subprocess.run(
        [SCRIPT, "start", state, "--owner", str(owner)],
        capture_output=True, text=True, timeout=START_TIMEOUT,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{SCRIPT} start {state} failed:\n{done.stderr[-3000:]}")
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return HdfsServer(env["DATOFERUM_TEST_WEBHDFS_URL"], env["DATOFERUM_TEST_WEBHDFS_USER"])


@pytest.fixture(scope="session")
def hdfs_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HdfsServer]:
    """The HDFS of this test run: given by the environment, or started (once per run)."""
    url = os.environ.get("DATOFERUM_TEST_WEBHDFS_URL")
    if url:
        yield HdfsServer(url, os.environ.get("DATOFERUM_TEST_WEBHDFS_USER", getpass.getuser()))
        return
    worker = hasattr(request.config, "workerinput")
    base = tmp_path_factory.getbasetemp()
    # xdist workers' temporary directories share a parent, and their parent process is the run's.
    state = str((base.parent if worker else base) / "hdfs")
    yield _start(state, os.getppid() if worker else os.getpid())
    if not worker:
        subprocess.run([SCRIPT, "stop", state], check=True, capture_output=True, timeout=120)


def unique_root(request: pytest.FixtureRequest) -> str:
    """A root of the test's own, named after it so a person can find it in HDFS."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    return f"/tests/{name}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hdfs_backend(
    hdfs_server: HdfsServer, request: pytest.FixtureRequest
) -> Iterator[WebHdfsBackend]:
    """A backend under a fresh root, removed afterwards (large test objects add up)."""
    backend = WebHdfsBackend(hdfs_server.url, user=hdfs_server.user, root=unique_root(request))
    yield backend
    backend.hdfs.delete(backend.root, recursive=True)
    backend.close()
