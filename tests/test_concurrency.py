"""Two servers and two workers on one MariaDB catalog, under 2,000 concurrent uploads.

What a scaled-out deployment promises: every upload that got a 201 is in the catalog exactly
once, versions of one path are numbered 1..N without gaps or twins however the requests race,
the event chain stays one unbroken chain, every job runs exactly once, and no deadlock reaches a
client (the catalog retries the rare deadlock a lock order cannot exclude).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from databases import DatabaseServers
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Event, File, Job, Version

from conftest import ADMIN_TOKEN, LiveServer

UPLOADS = 2000
PATHS = 400  # five versions each, racing
COLLECTION = "concurrent"
POLICY = f"""
policies:
  - name: tag-concurrent
    resource: file
    mode: {{type: manual}}
    filters:
      - collection: {COLLECTION}
    actions:
      - tag: {{seen: "yes"}}
"""


class Worker:
    """A ``datoferum worker`` process."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.log = home.parent / f"{home.name}-worker.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "datoferum", "worker", "--home", str(home),
                 "--threads", "2"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def deployment(
    tmp_path: Path, database_servers: DatabaseServers
) -> Iterator[tuple[list[LiveServer], Catalog]]:
    url = database_servers.database_url("mariadb")
    assert url is not None
    objects = str(tmp_path / "objects")
    servers = []
    workers = []
    try:
        for name in ("a", "b"):  # one after the other: the first one migrates the catalog
            server = LiveServer(
                tmp_path / name,
                database_url=url,
                DATOFERUM_STORAGE_ROOT=objects,
                DATOFERUM_JOB_THREADS="0",
            )
            servers.append(server.start())
        for name in ("a", "b"):  # the servers' environment: the same catalog and objects
            workers.append(Worker(tmp_path / name, servers[0].env))
        catalog = Catalog(url)
        yield servers, catalog
        catalog.dispose()
    finally:
        for worker in workers:
            worker.stop()
        for server in servers:
            server.stop()


def _body(number: int) -> bytes:
    return f"upload {number}\n".encode() * (1 + number % 50)


def _wait_for_jobs(catalog: Catalog, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with catalog.reading() as conn:
            states = Counter(conn.scalars(select(Job.state).where(Job.kind == "policy.run")))
        if states["succeeded"] == count:
            return
        assert not states["failed"], states
        time.sleep(0.5)
    raise AssertionError(f"policy runs not done after {timeout} s: {states}")


def test_two_servers_two_workers_2000_uploads(
    deployment: tuple[list[LiveServer], Catalog],
) -> None:
    servers, catalog = deployment
    clients = [
        httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                     timeout=120, limits=httpx.Limits(max_connections=16))
        for s in servers
    ]  # fmt: skip
    try:
        applied = clients[0].post("/api/v1/policies", content=POLICY)
        assert applied.status_code == 200, applied.text

        def upload(number: int) -> tuple[int, int, str]:
            client = clients[number % 2]
            path = f"p{number % PATHS:04d}.txt"
            answer = client.put(f"/api/v1/data/{COLLECTION}/{path}", content=_body(number))
            if number % 200 == 0:  # jobs queued on both servers while the uploads go on
                queued = client.post("/api/v1/policies/tag-concurrent/run", json={})
                assert queued.status_code == 202, queued.text
            return number, answer.status_code, answer.text[:300]

        started = time.monotonic()
        with ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(upload, range(UPLOADS)))
        elapsed = time.monotonic() - started
        print(f"{UPLOADS} uploads through two servers in {elapsed:.1f} s")
        failed = [(n, code, text) for n, code, text in statuses if code != 201]
        assert not failed, failed[:20]
        _wait_for_jobs(catalog, UPLOADS // 200, 180)

        with catalog.reading() as conn:
            files = conn.execute(
                select(File.id, File.path, File.latest_version).where(File.path.like("p%.txt"))
            ).all()
            versions = conn.execute(
                select(Version.file_id, Version.number, Version.sha256, Version.size)
            ).all()
            captured = conn.execute(
                select(func.count()).select_from(Event).where(Event.type == "file.captured")
            ).scalar_one()
            attempts = conn.execute(
                select(Job.attempts).where(Job.kind == "policy.run")
            ).scalars().all()  # fmt: skip
        assert len(files) == PATHS
        assert captured == UPLOADS
        assert len(versions) == UPLOADS
        numbers: dict[str, list[int]] = {}
        for version in versions:
            numbers.setdefault(version.file_id, []).append(version.number)
        for file in files:
            assert sorted(numbers[file.id]) == list(range(1, UPLOADS // PATHS + 1)), file.path
            assert file.latest_version == UPLOADS // PATHS
        assert attempts == [1] * (UPLOADS // 200)  # each job ran once, on one worker

        # Every stored version is the bytes of one of the uploads to its path, intact.
        expected = {hashlib.sha256(_body(n)).hexdigest() for n in range(UPLOADS)}
        assert {v.sha256 for v in versions} <= expected
        assert len({v.sha256 for v in versions}) == len({_body(n) for n in range(UPLOADS)})
        for number in range(0, UPLOADS, 97):
            path = f"p{number % PATHS:04d}.txt"
            answer = clients[1 - number % 2].get(f"/api/v1/data/{COLLECTION}/{path}")
            assert answer.status_code == 200
            assert hashlib.sha256(answer.content).hexdigest() in expected

        verified = clients[0].get("/api/v1/audit/verify").json()
        assert verified["ok"] is True, verified
        for server in servers:
            log = server.log.read_text()
            assert "Deadlock" not in log and "Traceback" not in log, log[-3000:]
    finally:
        for client in clients:
            client.close()
