"""What the HDFS backend promises beyond the shared contract, checked in HDFS itself over raw
WebHDFS: the replication factor, the readable layout, leases that tell killed writers from live
ones, and errors that say what to fix."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from datoferum.adapters.storage.hdfs import WebHdfsBackend
from datoferum.domain.ids import new_id
from datoferum.errors import InvalidInput, StorageUnavailable
from servers.hdfs import HdfsServer

from conftest import free_port

MiB = 1024 * 1024
LEASE = 2.0  # seconds; short so the crash tests are quick, long enough for a loaded machine


def _webhdfs(server: HdfsServer, path: str, op: str, **params: str) -> Any:
    """One GET straight to the NameNode, bypassing the backend."""
    answer = httpx.get(
        f"{server.url}/webhdfs/v1{quote(path)}",
        params={"op": op, "user.name": server.user, **params},
    )
    answer.raise_for_status()
    return answer.json()


def _names(server: HdfsServer, path: str) -> list[str]:
    listing = _webhdfs(server, path, "LISTSTATUS")["FileStatuses"]["FileStatus"]
    return sorted(entry["pathSuffix"] for entry in listing)


def _store(backend: WebHdfsBackend, key: str, data: bytes) -> str:
    writer = backend.open_writer(key)
    writer.write(data)
    writer.commit()
    writer.release()
    return key


def _backend(server: HdfsServer, root: str, **options: Any) -> WebHdfsBackend:
    return WebHdfsBackend(server.url, user=server.user, root=root, **options)


def _eventually(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_replication_factor_is_set_on_every_file(
    hdfs_server: HdfsServer, hdfs_backend: WebHdfsBackend
) -> None:
    two = _backend(hdfs_server, hdfs_backend.root, replication=2)
    try:
        for backend, expected in ((hdfs_backend, 3), (two, 2)):
            key = _store(backend, backend.key_for("rep", f"r{expected}.bin", new_id(), 1), b"x")
            path = f"{backend.root}/{key}"
            status = _webhdfs(hdfs_server, path, "GETFILESTATUS")["FileStatus"]
            assert status["replication"] == expected
            blocks = _webhdfs(hdfs_server, path, "GETFILEBLOCKLOCATIONS")["BlockLocations"]
            assert [len(block["hosts"]) for block in blocks["BlockLocation"]] == [expected]
    finally:
        two.close()


def test_layout_is_readable_in_hdfs(hdfs_server: HdfsServer, hdfs_backend: WebHdfsBackend) -> None:
    name = "take one ü+%#?&=.mov"
    key = hdfs_backend.key_for("media", f"2024/clips/{name}", new_id(), 3)
    assert key == f"media/2024/clips/{name}/v3"
    _store(hdfs_backend, key, b"frames")
    root = hdfs_backend.root
    assert _names(hdfs_server, root) == [".staging", "media"]
    assert _names(hdfs_server, f"{root}/media/2024/clips") == [name]
    assert _names(hdfs_server, f"{root}/media/2024/clips/{name}") == ["v3"]
    assert _names(hdfs_server, f"{root}/.staging") == []  # released: no marker left
    assert b"".join(hdfs_backend.read(key)) == b"frames"


@pytest.mark.parametrize(
    "key",
    ["", "/abs/v1", "a//b/v1", "a/./v1", "a/../v1", "a\\b/v1", "a\x00b/v1", "a\nb/v1",
     "a:b/v1", ".staging/x/v1", "a/" + "x" * 256 + "/v1"],
)  # fmt: skip
def test_bad_keys_are_refused(key: str) -> None:
    backend = WebHdfsBackend("http://127.0.0.1:9", user="nobody")  # never contacted
    try:
        with pytest.raises(InvalidInput):
            backend.open_writer(key)
        with pytest.raises(InvalidInput):
            backend.stat(key)
    finally:
        backend.close()


def test_an_existing_object_is_never_replaced(hdfs_backend: WebHdfsBackend) -> None:
    key = _store(hdfs_backend, hdfs_backend.key_for("c", "same.bin", new_id(), 1), b"first")
    writer = hdfs_backend.open_writer(key)
    writer.write(b"second")
    with pytest.raises(StorageUnavailable, match="already exists"):
        writer.commit()
    writer.abort()
    assert b"".join(hdfs_backend.read(key)) == b"first"
    assert list(hdfs_backend.abandoned()) == []


def test_a_folder_in_the_way_refuses_the_commit(
    hdfs_server: HdfsServer, hdfs_backend: WebHdfsBackend
) -> None:
    """Path ``b/v1`` makes ``c/b/v1`` a folder, where version 1 of path ``b`` would go. The
    commit must fail, not move the file into that folder (which a plain RENAME would do)."""
    _store(hdfs_backend, hdfs_backend.key_for("c", "b/v1", new_id(), 1), b"nested")
    key = hdfs_backend.key_for("c", "b", new_id(), 1)
    writer = hdfs_backend.open_writer(key)
    writer.write(b"outer")
    with pytest.raises(StorageUnavailable, match="must both be directories"):
        writer.commit()
    writer.abort()
    assert _names(hdfs_server, f"{hdfs_backend.root}/c/b/v1") == ["v1"]
    assert hdfs_backend.stat(key) is None
    assert _names(hdfs_server, f"{hdfs_backend.root}/.staging") == []


def test_reads_at_the_end_are_empty(hdfs_backend: WebHdfsBackend) -> None:
    key = _store(hdfs_backend, hdfs_backend.key_for("c", "end.bin", new_id(), 1), b"12345")
    assert b"".join(hdfs_backend.read(key, 5)) == b""
    assert b"".join(hdfs_backend.read(key, 2, 0)) == b""


def test_large_folders_are_listed_and_deleted_in_batches(hdfs_backend: WebHdfsBackend) -> None:
    """20 paths in one folder: more than a listing page of the test cluster (16 entries), and
    enough deletes for the parallel path."""

    def one(number: int) -> str:
        return _store(hdfs_backend, hdfs_backend.key_for("c", f"d/{number}", new_id(), 1), b"x")

    with ThreadPoolExecutor(8) as pool:  # stored in parallel: the test is about what follows
        keys = list(pool.map(one, range(20)))
    assert sorted(hdfs_backend.object_keys()) == sorted(keys)
    absent = hdfs_backend.key_for("c", "d/absent", new_id(), 1)
    assert hdfs_backend.delete_many([absent, *keys]) == [False] + [True] * 20
    assert all(hdfs_backend.stat(key) is None for key in keys)


def test_writes_hold_a_few_chunks_not_the_file(hdfs_backend: WebHdfsBackend) -> None:
    chunk = b"\xab" * MiB
    writer = hdfs_backend.open_writer(hdfs_backend.key_for("c", "mem.bin", new_id(), 1))
    writer.write(chunk)  # connections and threads exist before measuring
    tracemalloc.start()
    try:
        for _ in range(32):
            writer.write(bytes(chunk))  # a fresh 1 MiB each time, as a network read would give
        writer.commit()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    writer.release()
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB held while writing 32 MiB"


CRASHING_WRITER = """
import sys, time
from datoferum.adapters.storage.hdfs import WebHdfsBackend

url, user, root, key, lease, commit = sys.argv[1:]
writer = WebHdfsBackend(url, user=user, root=root, lease_seconds=float(lease)).open_writer(key)
writer.write(b"partial" * 1000)
if commit == "commit":
    writer.commit()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("stage", ["commit", "upload"])
def test_a_killed_writer_is_abandoned_once_its_lease_runs_out(
    hdfs_server: HdfsServer, hdfs_backend: WebHdfsBackend, stage: str
) -> None:
    sweeper = _backend(hdfs_server, hdfs_backend.root, lease_seconds=LEASE)
    key = sweeper.key_for("crash", "clip.bin", new_id(), 1)
    args = [hdfs_server.url, hdfs_server.user, sweeper.root, key, str(LEASE), stage]
    command = [sys.executable, "-c", CRASHING_WRITER, *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            time.sleep(LEASE * 1.5)
            assert list(sweeper.abandoned()) == []  # alive: its heartbeat renews the lease
        finally:
            child.kill()
    try:
        assert _eventually(lambda: list(sweeper.abandoned()) == [key], LEASE * 3)
        assert (sweeper.stat(key) is not None) == (stage == "commit")
        sweeper.delete(key)  # what the sweep does when the catalog does not know the key
        sweeper.forget_staging(key)
        assert list(sweeper.abandoned()) == []
        assert _names(hdfs_server, f"{sweeper.root}/.staging") == []
    finally:
        sweeper.close()


def test_a_dropped_writer_stops_renewing_its_lease(
    hdfs_server: HdfsServer, hdfs_backend: WebHdfsBackend
) -> None:
    backend = _backend(hdfs_server, hdfs_backend.root, lease_seconds=LEASE)
    try:
        key = backend.key_for("drop", "clip.bin", new_id(), 1)
        writer = backend.open_writer(key)
        writer.write(b"data")
        writer.commit()
        del writer  # neither released nor aborted: a bug in the caller, found by the sweep
        gc.collect()
        assert _eventually(lambda: list(backend.abandoned()) == [key], LEASE * 3)
    finally:
        backend.close()


def test_a_marker_without_its_key_is_removed(
    hdfs_server: HdfsServer, hdfs_backend: WebHdfsBackend
) -> None:
    """A writer killed between making its marker and labelling it left nothing else behind."""
    marker = f"{hdfs_backend.root}/.staging/{'0' * 64}"
    for op, params in (("MKDIRS", {}), ("SETTIMES", {"modificationtime": "1000"})):
        answer = httpx.put(
            f"{hdfs_server.url}/webhdfs/v1{marker}",
            params={"op": op, "user.name": hdfs_server.user, **params},
        )
        answer.raise_for_status()
    assert list(hdfs_backend.abandoned()) == []
    assert _names(hdfs_server, f"{hdfs_backend.root}/.staging") == []


def test_an_unreachable_namenode_fails_clearly() -> None:
    port = free_port()
    backend = WebHdfsBackend(f"http://127.0.0.1:{port}", user="someone", timeout=5)
    attempts: list[Callable[[], object]] = [
        backend.check,
        lambda: backend.stat("c/p/v1"),
        lambda: b"".join(backend.read("c/p/v1")),
        lambda: backend.open_writer("c/p/v1").write(b"x"),
        lambda: backend.delete_many(["c/p/v1"]),
        lambda: list(backend.abandoned()),
    ]
    try:
        for attempt in attempts:
            with pytest.raises(StorageUnavailable) as caught:
                attempt()
            detail = caught.value.detail
            assert f"HDFS NameNode at http://127.0.0.1:{port} cannot be reached" in detail
            assert "check that it runs" in detail
            assert "someone" not in detail and "?" not in detail  # no query, no credential
    finally:
        backend.close()
