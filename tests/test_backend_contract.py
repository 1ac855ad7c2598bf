"""The storage backend contract: what every backend (local disk, HDFS, S3) must do alike.

The same tests run on each backend: committed writes read back whole and by range with the same
sha256, nothing is visible before the commit or after an abort, deletes (one and many) leave
nothing behind, a large object streams through bounded buffers, and concurrent writers do not
disturb each other. Backends of real servers come from the fixtures in ``tests/servers``; a
server that is not installed skips its backend locally and fails the run in CI.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.ids import new_id

from conftest import SERVER_BACKENDS

MiB = 1024 * 1024


@pytest.fixture(params=["local", "local-relaxed", *SERVER_BACKENDS])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageBackend]:
    if request.param.startswith("local"):
        from datoferum.adapters.storage.local import LocalDiskBackend

        yield LocalDiskBackend(tmp_path / "store", durable=request.param == "local")
    else:
        yield request.getfixturevalue(f"{request.param}_backend")


def _key(backend: StorageBackend, path: str = "") -> str:
    version_id = new_id()
    return backend.key_for("contract", path or f"dir/{version_id}.bin", version_id, 1)


def _chunks(size: int, seed: bytes = b"") -> Iterator[bytes]:
    """Deterministic, incompressible-looking bytes, made a block at a time (never all at once)."""
    block = 0
    left = size
    while left:
        step = min(MiB, left)
        digest = hashlib.sha256(seed + block.to_bytes(8, "big")).digest()
        yield (digest * (step // len(digest) + 1))[:step]
        left -= step
        block += 1


def _store(backend: StorageBackend, chunks: Iterator[bytes] | list[bytes], key: str = "") -> str:
    key = key or _key(backend)
    writer = backend.open_writer(key)
    for chunk in chunks:
        writer.write(chunk)
    writer.commit()
    writer.release()
    return key


def _sha256(parts: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def test_write_commit_read(backend: StorageBackend) -> None:
    data = os.urandom(5000)
    key = _store(backend, [data[start : start + 1000] for start in range(0, 5000, 1000)])
    assert b"".join(backend.read(key)) == data
    stat = backend.stat(key)
    assert stat is not None and stat.size == 5000
    assert key not in list(backend.abandoned())


def test_ranged_reads(backend: StorageBackend) -> None:
    data = os.urandom(10_000)
    key = _store(backend, [data])
    assert b"".join(backend.read(key, 100, 50)) == data[100:150]
    assert b"".join(backend.read(key, 9990)) == data[9990:]
    assert b"".join(backend.read(key, 0, 1)) == data[:1]
    assert b"".join(backend.read(key, 5000, 10_000)) == data[5000:]


def test_uncommitted_write_is_invisible(backend: StorageBackend) -> None:
    key = _key(backend)
    writer = backend.open_writer(key)
    writer.write(b"partial")
    assert backend.stat(key) is None
    writer.abort()
    assert backend.stat(key) is None
    assert key not in list(backend.abandoned())


def test_abort_after_commit_removes_the_object(backend: StorageBackend) -> None:
    key = _key(backend)
    writer = backend.open_writer(key)
    writer.write(b"data")
    writer.commit()
    assert backend.stat(key) is not None
    writer.abort()
    assert backend.stat(key) is None
    writer.abort()  # twice is harmless


def test_failure_mid_write_leaves_nothing(backend: StorageBackend) -> None:
    """A writer whose source fails half-way is aborted: no object, no staged leftovers."""
    key = _key(backend)
    writer = backend.open_writer(key)

    def source() -> Iterator[bytes]:
        yield from _chunks(3 * MiB)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        for chunk in source():
            writer.write(chunk)
    writer.abort()
    assert backend.stat(key) is None
    assert key not in list(backend.abandoned())


def test_delete(backend: StorageBackend) -> None:
    key = _store(backend, [b"x"])
    assert backend.delete(key) is True
    assert backend.stat(key) is None
    assert backend.delete(key) is False


def test_read_of_a_missing_object_fails_clearly(backend: StorageBackend) -> None:
    from datoferum.errors import StorageUnavailable

    key = _key(backend)
    with pytest.raises(StorageUnavailable):
        b"".join(backend.read(key))


def test_delete_many(backend: StorageBackend) -> None:
    keys = [_store(backend, [f"object {n}".encode()]) for n in range(5)]
    absent = _key(backend)
    assert backend.delete_many([*keys, absent]) == [True] * 5 + [False]
    assert all(backend.stat(key) is None for key in keys)


def test_stat_many_answers_in_order(backend: StorageBackend) -> None:
    first, second = _store(backend, [b"one"]), _store(backend, [b"three"])
    absent = _key(backend)
    found = backend.stat_many([second, absent, first])
    assert [None if stat is None else (stat.key, stat.size) for stat in found] == [
        (second, 5),
        None,
        (first, 3),
    ]
    assert backend.stat_many([]) == []


def test_empty_object(backend: StorageBackend) -> None:
    key = _store(backend, [])
    stat = backend.stat(key)
    assert stat is not None and stat.size == 0
    assert b"".join(backend.read(key)) == b""


def test_large_object_streams_and_checksums(backend: StorageBackend) -> None:
    size = 64 * MiB + 123  # more than one multipart part or HDFS packet run, not block-aligned
    key = _store(backend, _chunks(size, b"large"))
    stat = backend.stat(key)
    assert stat is not None and stat.size == size
    assert _sha256(backend.read(key)) == _sha256(_chunks(size, b"large"))
    tail = b"".join(backend.read(key, size - 1000))
    assert tail == b"".join(_chunks(size, b"large"))[-1000:]


def test_concurrent_writers(backend: StorageBackend) -> None:
    def one(number: int) -> tuple[str, str]:
        seed = str(number).encode()
        key = _store(backend, _chunks(256 * 1024 + number, seed))
        return key, _sha256(_chunks(256 * 1024 + number, seed))

    with ThreadPoolExecutor(8) as pool:
        stored = list(pool.map(one, range(16)))
    assert len({key for key, _ in stored}) == 16
    for key, digest in stored:
        assert _sha256(backend.read(key)) == digest


def test_readable_paths_are_kept_apart(backend: StorageBackend) -> None:
    """Two versions of one path, and paths that differ only in a suffix, never share bytes."""
    first = backend.key_for("contract", "media/take.mov", new_id(), 1)
    second = backend.key_for("contract", "media/take.mov", new_id(), 2)
    other = backend.key_for("contract", "media/take.mov.bak", new_id(), 1)
    assert len({first, second, other}) == 3
    for key, data in ((first, b"one"), (second, b"two"), (other, b"other")):
        _store(backend, [data], key)
    assert [b"".join(backend.read(k)) for k in (first, second, other)] == [b"one", b"two", b"other"]


def test_keys_lists_committed_objects_only(backend: StorageBackend) -> None:
    stored = {_store(backend, [f"listed {n}".encode()]) for n in range(3)}
    staged = backend.open_writer(_key(backend))
    staged.write(b"not yet")
    try:
        listed = set(backend.object_keys())
        assert stored <= listed
        assert staged.key not in listed
    finally:
        staged.abort()
    removed = next(iter(stored))
    backend.delete(removed)
    assert removed not in set(backend.object_keys())
