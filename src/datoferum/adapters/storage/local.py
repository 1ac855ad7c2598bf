"""Local-disk backend: bytes in a directory tree, made durable with fsync before they count.

Layout under the root::

    objects/<last 3 hex digits of key>/<key>    committed objects (4,096 shards)
    staging/<last 2 hex digits of key>/<key>.part    writes in flight (flock held; 256 shards)

A commit fsyncs the staged file, hard-links it into ``objects/`` and fsyncs that directory, so the
object is durable and visible while the staging name still exists. Only after the catalog commit is
the staging name removed. A writer holds an exclusive ``flock`` on its staged file for its whole
life; the lock dies with the process, which is how the sweep tells abandoned writes from live ones.

Staging is sharded too, for speed rather than size: one upload's staging name is removed right
after a catalog commit whose flush starts a journal commit of the file system, and on ext4 the
next upload creating its name in that same directory block would wait for that commit's I/O (a
third of the time of a small upload, measured). Spread over 256 directories, consecutive uploads
touch different blocks. Staging names written flat under ``staging/`` by earlier versions are
still found by the sweep.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from datoferum.adapters import unlinker
from datoferum.adapters.parallel import each
from datoferum.adapters.storage.base import Capabilities, ObjectStat
from datoferum.errors import InvalidInput, StorageUnavailable

READ_CHUNK = 1024 * 1024
SHARDS = 4096
STAGING_SHARDS = 256
#: Ask the kernel to start writeback every this many bytes, so the final fsync has little left.
WRITEBACK_EVERY = 8 * 1024 * 1024
#: A staged file younger than this is never called abandoned (covers the create-then-lock step).
MIN_ABANDONED_AGE = 1.0
_SYNC_FILE_RANGE_WRITE = 2
#: Directory fsyncs of a batch delete (where there is no syncfs) are spread over threads.
PARALLEL_SYNCS = 64
SYNC_THREADS = 4
#: Deletions of at least this many objects run in the helper process (``unlinker``), where
#: they overlap with the caller's Python work instead of contending with it for the GIL.
OFFLOADED_DELETES = 256


def _libc_function(name: str, *argtypes: Any) -> Any:
    """A C library function where the platform has it (Linux), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = getattr(libc, name)
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = list(argtypes)
    return function


_sync_file_range = _libc_function(
    "sync_file_range", ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint
)
_syncfs = _libc_function("syncfs", ctypes.c_int)


_KEY = re.compile(r"[0-9a-f]{4,}")


def _check_key(key: str) -> str:
    if _KEY.fullmatch(key) is None:
        raise InvalidInput(f"storage key {key!r} is not a lowercase hex id")
    return key


def _fsync(path: Path | str, flags: int = os.O_RDONLY | os.O_CLOEXEC) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path | str) -> None:
    _fsync(path, os.O_RDONLY | os.O_DIRECTORY)


def _fsync_existing(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # deleted since: nothing to make durable
        _fsync(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _storage_error(action: str, exc: OSError) -> StorageUnavailable:
    if exc.errno == errno.ENOSPC:
        return StorageUnavailable(f"the local storage is full while trying to {action}")
    return StorageUnavailable(f"local storage failed to {action}: {exc.strerror or exc}")


class LocalWriter:
    """A staged write into ``staging/``; see the module docstring for the commit protocol.

    Paths are kept as strings: for a small upload, building ``Path`` objects cost as much as the
    system calls they name."""

    def __init__(self, backend: LocalDiskBackend, key: str) -> None:
        self.key = key
        self._backend = backend
        self._staged = backend._staging_name(key)
        self._final = backend._object_name(key)
        self._fd: int | None = None
        self._written = 0
        self._flushed = 0
        self._committed = False

    def _open(self) -> int:
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            try:
                try:
                    fd = os.open(self._staged, flags, 0o640)
                except FileNotFoundError:  # a shard removed behind our back: make it again
                    Path(self._staged).parent.mkdir(exist_ok=True)
                    fd = os.open(self._staged, flags, 0o640)
            except OSError as exc:
                raise _storage_error("create a staging file", exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                raise _storage_error("lock a staging file", exc) from exc
            self._fd = fd
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self._open()
        try:
            _write_all(fd, data)
        except OSError as exc:
            raise _storage_error("write", exc) from exc
        self._written += len(data)
        if (
            _sync_file_range is not None
            and self._backend.durable
            and self._written - self._flushed >= WRITEBACK_EVERY
        ):
            _sync_file_range(
                fd, self._flushed, self._written - self._flushed, _SYNC_FILE_RANGE_WRITE
            )
            self._flushed = self._written

    def commit(self, *, flush: bool = True) -> None:
        fd = self._open()
        try:
            # Link first, then fsync: the file's fsync usually commits the new directory entry in
            # the same journal transaction, which makes the directory fsync that POSIX requires
            # nearly free. Nothing reads objects/ before the catalog row exists, and a crash here
            # leaves the staging name, so the sweep removes the early link.
            self._backend.link_into_place(self._staged, self._final)
            if flush and self._backend.durable:
                os.fsync(fd)
                _fsync_dir(self._final.rpartition("/")[0])
        except OSError as exc:
            raise _storage_error("commit an object", exc) from exc
        self._committed = True

    def release(self) -> None:
        try:
            _unlink(self._staged)
        finally:
            self._close()

    def abort(self) -> None:
        try:
            if self._committed:
                _unlink(self._final)
            _unlink(self._staged)
        finally:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # noqa: PTH108 - see LocalWriter on strings


class LocalDiskBackend:
    """Stores objects as files under one directory."""

    capabilities = Capabilities(local_paths=True)

    def __init__(self, root: Path, *, name: str = "local", durable: bool = True) -> None:
        self.name = name
        self.root = root
        self.durable = durable
        self._objects = root / "objects"
        self._objects_name = str(self._objects)
        self._staging = root / "staging"
        self._staging_name_root = str(self._staging)
        for directory in (self._objects, self._staging):
            directory.mkdir(parents=True, exist_ok=True)
        self._make_shards(self._objects, [f"{n:03x}" for n in range(SHARDS)], ".shards-ready")
        self._make_shards(
            self._staging, [f"{n:02x}" for n in range(STAGING_SHARDS)], ".staging-shards-ready"
        )

    def _make_shards(self, parent: Path, names: list[str], ready: str) -> None:
        """Create every shard directory once, so uploads never create (and flush) one."""
        marker = self.root / ready
        if marker.exists():
            return
        for name in names:
            (parent / name).mkdir(exist_ok=True)
        if self.durable:
            _fsync_dir(parent)
        marker.touch()

    def object_path(self, key: str) -> Path:
        return Path(self._object_name(key))

    def _object_name(self, key: str) -> str:
        """The object's path as a string: pathlib costs more than the unlink in a batch delete."""
        _check_key(key)
        return f"{self._objects_name}/{key[-3:]}/{key}"

    def staging_path(self, key: str) -> Path:
        return Path(self._staging_name(key))

    def _staging_name(self, key: str) -> str:
        _check_key(key)
        return f"{self._staging_name_root}/{key[-2:]}/{key}.part"

    def _staged_entries(self) -> Iterator[os.DirEntry[str]]:
        """Every staging name: in the shards, and flat under ``staging/`` (older layout)."""
        for entry in os.scandir(self._staging):
            if entry.is_dir(follow_symlinks=False):
                yield from os.scandir(entry.path)
            else:
                yield entry

    def link_into_place(self, staged: str, final: str) -> None:
        try:
            os.link(staged, final)
        except FileNotFoundError:  # a shard directory removed behind our back: recreate it
            Path(final).parent.mkdir(exist_ok=True)
            if self.durable:
                _fsync_dir(self._objects)
            os.link(staged, final)

    def key_for(self, collection: str, path: str, version_id: str, number: int) -> str:
        return version_id

    def close(self) -> None:
        """Nothing to release: files are opened per call."""

    def open_writer(self, key: str) -> LocalWriter:
        return LocalWriter(self, _check_key(key))

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self.object_path(key)
        if not path.exists():
            raise StorageUnavailable(f"object {key} is missing from local storage")
        with path.open("rb", buffering=0) as handle:
            handle.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = handle.read(size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def stat(self, key: str) -> ObjectStat | None:
        try:
            return ObjectStat(key, os.stat(self._object_name(key)).st_size)  # noqa: PTH116
        except FileNotFoundError:
            return None

    def stat_many(self, keys: Sequence[str]) -> list[ObjectStat | None]:
        return [self.stat(key) for key in keys]

    def delete(self, key: str) -> bool:
        return self.delete_many([key])[0]

    def delete_many(self, keys: Sequence[str]) -> list[bool]:
        """Unlink every object, then make the unlinks durable: with one ``syncfs`` where Linux
        has it, else an fsync of each directory that lost an object."""
        paths = [self._object_name(key) for key in keys]
        try:
            if len(paths) >= OFFLOADED_DELETES:
                existed = unlinker.HELPER.unlink_all(paths)
            else:
                existed = unlinker.unlink_all(paths)
        except OSError as error:
            raise StorageUnavailable(f"deleting from {self._objects} failed: {error}") from error
        if self.durable:
            parents = list(
                {
                    path[: -len(key) - 1]
                    for key, path, gone in zip(keys, paths, existed, strict=True)
                    if gone
                }
            )
            if len(parents) > 1 and _syncfs is not None:
                self._sync_file_system()
            else:
                each(_fsync_dir, parents, threads=SYNC_THREADS, at_least=PARALLEL_SYNCS,
                     name="fsync")  # fmt: skip
        return existed

    def flush_objects(self, keys: Sequence[str]) -> None:
        if not self.durable or not keys:
            return
        if _syncfs is not None:
            self._sync_file_system()  # one call for the batch, whatever its size
            return
        paths = [self._object_name(key) for key in keys]
        each(_fsync_existing, paths, threads=SYNC_THREADS, at_least=PARALLEL_SYNCS, name="fsync")
        parents = list({path.rpartition("/")[0] for path in paths})
        each(_fsync_dir, parents, threads=SYNC_THREADS, at_least=PARALLEL_SYNCS, name="fsync")

    def restore(self, key: str, data: bytes) -> None:
        final = self._object_name(key)
        try:
            with open(final, "rb") as handle:
                intact = handle.read(len(data) + 1) == data
        except FileNotFoundError:
            intact = False
        try:
            if intact:
                _fsync(final)
            else:
                # Written aside and renamed over: a crash during the restore leaves the old
                # object (restored again next time) or the new one, never a mix.
                staged = self._staging_name(key)
                fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                Path(staged).replace(final)
            _fsync_dir(final.rpartition("/")[0])
        except OSError as exc:
            raise _storage_error(f"restore object {key}", exc) from exc

    def _sync_file_system(self) -> None:
        """One ``syncfs`` instead of an fsync per directory: each directory fsync also flushes
        the disk's cache, so a batch spread over hundreds of shards paid hundreds of flushes."""
        fd = os.open(self._objects, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) != 0:
                reason = os.strerror(ctypes.get_errno())
                raise StorageUnavailable(f"syncfs of {self._objects} failed: {reason}")
        finally:
            os.close(fd)

    def object_keys(self) -> Iterator[str]:
        for shard in sorted(os.scandir(self._objects), key=lambda entry: entry.name):
            if shard.is_dir(follow_symlinks=False):
                for entry in os.scandir(shard.path):
                    if entry.is_file(follow_symlinks=False):
                        yield entry.name

    def local_path(self, key: str) -> Path | None:
        return self.object_path(key)

    def abandoned(self) -> Iterator[str]:
        now = time.time()
        for entry in self._staged_entries():
            if not entry.name.endswith(".part"):
                continue
            try:
                if now - entry.stat().st_mtime < MIN_ABANDONED_AGE:
                    continue
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer holds it
            finally:
                os.close(fd)
            yield entry.name.removesuffix(".part")

    def forget_staging(self, key: str) -> None:
        self.staging_path(key).unlink(missing_ok=True)
        (self._staging / f"{key}.part").unlink(missing_ok=True)  # the older, flat layout

    def check(self) -> None:
        for directory in (self._objects, self._staging):
            if not os.access(directory, os.W_OK | os.X_OK):
                raise StorageUnavailable(f"local storage directory {directory} is not writable")
