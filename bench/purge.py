"""Purge execution on the local backend, against removing the same files with ``os.remove``.

Each run captures a fresh set of small files through the product's own capture path (outside
the timing), flushes everything with ``sync``, then times one of:

* ``PurgeService.purge_many`` of every file, as a policy run, the retention sweep and an erasure
  request do: the three steps (mark ``purging`` with the ``file.purge_started`` event, delete and
  check the bytes, mark ``purged`` with the ``file.purged`` event and a signed certificate) in
  batches, once with the default ``full`` durability and once with ``relaxed``;
* ``os.remove`` of the very same object files (so the same sizes, directories and disk), plain,
  and followed by an ``fsync`` of the directory, the durable equivalent of what ``full`` does
  to the bytes.

The catalog rows of the files removed behind the product's back stay; they cost nothing here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from datoferum.config import Settings
from datoferum.domain.roles import SYSTEM
from datoferum.interfaces.process import settle_heap
from datoferum.services.capture import CaptureRequest
from datoferum.services.purge import PurgeRequest
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.schema import Certificate

from bench.report import Comparison, Series, interleave

CAUSE = {"direct": True, "reason": "benchmark"}


def _services(home: Path, durability: str) -> Services:
    # Every setting given, so no DATOFERUM_* variable of the shell changes what is measured.
    return build_services(
        Settings(
            home=home, database_url=None, storage_root=None, durability=durability,
            policy_dir=None,
        )
    )  # fmt: skip


class Store:
    """One data directory, with services at both durabilities (they share the catalog)."""

    def __init__(self, home: Path, files: int, size: int) -> None:
        self.files = files
        self.size = size
        self.relaxed = _services(home, "relaxed")
        migrate.upgrade(self.relaxed.catalog)
        self.full = _services(home, "full")
        settle_heap()  # as `datoferum worker` and `serve` do once their services are built
        self._runs = 0

    def fill(self) -> list[tuple[str, Path]]:
        """Capture ``files`` new files; returns each one's id and object path."""
        self._runs += 1
        collection = f"purge-{self._runs}"
        made = []
        for number in range(self.files):
            capture = self.relaxed.capture.start(
                CaptureRequest(collection, f"shoot/take-{number:05d}.dat", SYSTEM)
            )
            record = capture.finish(os.urandom(self.size))
            (replica,) = record.current.replicas
            path = self.relaxed.storage.local_path(replica.key)
            assert path is not None
            made.append((record.id, path))
        os.sync()  # the timed part must not pay for flushing what the fill left dirty
        return made

    def close(self) -> None:
        self.full.close()
        self.relaxed.close()


def _certificates(services: Services) -> int:
    with services.catalog.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(Certificate)).scalar_one())


def _purge(store: Store, services: Services) -> Callable[[int], float]:
    def measure(_run: int) -> float:
        made = store.fill()
        before = _certificates(services)
        started = time.perf_counter()
        requests = [PurgeRequest(file_id, 1, CAUSE, "benchmark") for file_id, _path in made]
        for outcome in services.purge.purge_many(requests):
            if outcome.outcome != "purged":
                raise RuntimeError(
                    f"purge of {outcome.file_id} ended {outcome.outcome}: {outcome.detail}"
                )
        elapsed = time.perf_counter() - started
        if any(path.exists() for _, path in made):
            raise RuntimeError("a purged file is still on disk")
        if _certificates(services) - before != len(made):
            raise RuntimeError("not every purge issued its certificate")
        return len(made) / elapsed

    return measure


def _remove(store: Store, *, flush: bool) -> Callable[[int], float]:
    def measure(_run: int) -> float:
        paths = [(str(path), str(path.parent)) for _file_id, path in store.fill()]
        started = time.perf_counter()
        for path, parent in paths:
            os.remove(path)  # noqa: PTH107 (the reference is the bare system call)
            if flush:
                directory = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        return len(paths) / (time.perf_counter() - started)

    return measure


def execute(workdir: Path, runs: int, files: int, size: int = 4096) -> list[Comparison]:
    store = Store(workdir / "purge" / "home", files, size)
    try:
        full = Series("Datoferum purge", "files/s", work=files)
        relaxed = Series("Datoferum purge durability=relaxed", "files/s", work=files)
        plain = Series("os.remove", "files/s", work=files)
        flushed = Series("os.remove + directory fsync", "files/s", work=files)
        interleave(
            runs,
            [
                (full, _purge(store, store.full)),
                (plain, _remove(store, flush=False)),
                (flushed, _remove(store, flush=True)),
                (relaxed, _purge(store, store.relaxed)),
            ],
        )
    finally:
        store.close()
    label = f"Purge of {files:,} x {size // 1024} KiB files"
    return [
        Comparison(label, full, plain, 0.5),
        Comparison(label, full, flushed, None),
        Comparison(label, relaxed, plain, None, note="durability=relaxed"),
    ]
