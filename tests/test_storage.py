"""The local backend's own rules: hex keys, and writers killed mid-write found and swept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datoferum.adapters.storage.base import StorageBackend
from datoferum.adapters.storage.local import MIN_ABANDONED_AGE, LocalDiskBackend
from datoferum.config import Settings
from datoferum.domain.ids import new_id
from datoferum.domain.roles import SYSTEM
from datoferum.services.capture import CaptureRequest
from datoferum.services.sweep import sweep
from datoferum.services.wiring import build_services, prepare


@pytest.fixture(params=["local", "local-relaxed"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageBackend]:
    yield LocalDiskBackend(tmp_path / "store", durable=request.param == "local")


def test_keys_must_be_hex_ids(backend: StorageBackend) -> None:
    from datoferum.errors import InvalidInput

    for bad in ("../etc", "ABCDEF01", "", "ab/cd"):
        with pytest.raises(InvalidInput):
            backend.open_writer(bad)


_HOLDER = """
import sys, time
from pathlib import Path
from datoferum.adapters.storage.local import LocalDiskBackend
backend = LocalDiskBackend(Path(sys.argv[1]))
writer = backend.open_writer(sys.argv[2])
writer.write(b"abandoned bytes")
if sys.argv[3] == "commit":
    writer.commit()
print("ready", flush=True)
time.sleep(60)
"""


def _die_while_writing(root: Path, key: str, stage: str) -> None:
    """Start a process that writes ``key``, then SIGKILL it (its lock dies with it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(root), key, stage], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    backend = LocalDiskBackend(root)
    time.sleep(MIN_ABANDONED_AGE + 0.2)
    assert key not in list(backend.abandoned()), "a live writer's staging file was taken"
    holder.kill()
    holder.wait()
    holder.stdout.close()


@pytest.mark.parametrize("stage", ["write", "commit"])
def test_killed_writer_is_swept_and_recorded(tmp_path: Path, stage: str) -> None:
    settings = Settings(home=tmp_path / "home")
    prepare(settings)
    services = build_services(settings)
    try:
        key = new_id()
        _die_while_writing(settings.local_storage_root, key, stage)
        storage = services.storage
        assert list(storage.abandoned()) == [key]
        assert (storage.stat(key) is not None) == (stage == "commit")
        report = sweep(services.catalog, storage)
        assert report.removed == [key]
        assert storage.stat(key) is None
        assert list(storage.abandoned()) == []
        events = services.audit.events(type_prefix="storage.orphan_removed")
        assert [e.details["key"] for e in events] == [key]
        assert events[0].details["committed"] == (stage == "commit")
        assert services.audit.verify().ok
    finally:
        services.close()


def test_sweep_finishes_a_write_the_catalog_already_has(tmp_path: Path) -> None:
    """A crash after the catalog commit but before the staging name is dropped loses nothing."""
    settings = Settings(home=tmp_path / "home")
    prepare(settings)
    services = build_services(settings)
    try:
        capture = services.capture.start(CaptureRequest("crash", "kept.bin", SYSTEM))
        capture.write(b"kept bytes")
        capture._writer.commit()
        decided = services.capture.classify(capture.request, b"kept bytes", 10)
        services.capture.record(capture.request, capture.version_id, 10, "0" * 64, decided)
        capture._writer._close()  # type: ignore[attr-defined]  # the process "dies" here
        time.sleep(MIN_ABANDONED_AGE + 0.2)
        report = sweep(services.catalog, services.storage)
        assert report.completed == [capture.version_id] and report.removed == []
        assert b"".join(services.storage.read(capture.version_id)) == b"kept bytes"
        assert list(services.storage.abandoned()) == []
    finally:
        services.close()


def test_staging_is_sharded_and_the_flat_layout_is_still_swept(tmp_path: Path) -> None:
    """Writes stage in per-key shard directories; a staged write left flat under ``staging/`` by
    an earlier layout is still reported abandoned, and forgetting it removes it."""
    backend = LocalDiskBackend(tmp_path / "store")
    key = new_id()
    writer = backend.open_writer(key)
    writer.write(b"sharded")
    staged = backend.staging_path(key)
    assert staged.parent.name == key[-2:] and staged.exists()
    writer.abort()
    assert not staged.exists()

    flat_key = new_id()
    flat = tmp_path / "store" / "staging" / f"{flat_key}.part"
    flat.write_bytes(b"left by an older layout")
    old = time.time() - MIN_ABANDONED_AGE - 5
    os.utime(flat, (old, old))
    assert list(backend.abandoned()) == [flat_key]
    backend.forget_staging(flat_key)
    assert not flat.exists()
    assert list(backend.abandoned()) == []


def test_a_staging_shard_removed_behind_the_servers_back_is_made_again(tmp_path: Path) -> None:
    backend = LocalDiskBackend(tmp_path / "store")
    key = new_id()
    backend.staging_path(key).parent.rmdir()
    writer = backend.open_writer(key)
    writer.write(b"still works")
    writer.commit()
    writer.release()
    assert b"".join(backend.read(key)) == b"still works"
