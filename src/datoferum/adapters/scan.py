"""Reading a large file once, start to end, without filling the page cache with it.

A conversion reads a billing export of gigabytes exactly once. When the export is not in the
operating system's page cache to begin with, every page read takes a fresh page of memory and
the cache ends up holding gigabytes nobody reads again, pushing out what other work keeps warm
(the catalog, the lake's recent partitions). Fresh pages also cost system time: on a virtual
machine that hands free memory back to its host, each one is a fault in the host, and reading
an uncached 1 GB CSV took 0.6 to 1.3 s of system time there, against 0.12 to 0.15 s when the
pages already read were dropped as the read went on (``POSIX_FADV_DONTNEED``).

A file that *is* cached is read as it is: the lake converts an export right after its capture,
while it is still in the cache, and dropping it then would only make the next reader fetch it
from disk again (on the 10 M-row benchmark, converting a cached file while dropping it ran at
0.82x of leaving it).
"""

from __future__ import annotations

import io
import mmap
import os
from pathlib import Path

#: Places sampled, evenly over the file, to judge whether it is in the page cache.
SAMPLES = 16
#: A file with fewer sampled places cached than this share is read with drop-behind.
CACHED_SHARE = 0.5
#: Files smaller than this are read as they are: what they take from the cache is small.
SMALLEST_BYTES = 64 << 20
#: Bytes read between two drops: each drop is a system call that walks the range's pages.
DROP_BYTES = 16 << 20


def cached_share(descriptor: int) -> float | None:
    """The share of ``SAMPLES`` evenly spread bytes of the open file that are in the page
    cache, or ``None`` where the system cannot tell (no ``RWF_NOWAIT``). Each probe asks for
    one byte without waiting for the disk; a miss may start the kernel's read-ahead there,
    so call it once, before reading."""
    nowait = getattr(os, "RWF_NOWAIT", None)
    if nowait is None:
        return None
    size = os.fstat(descriptor).st_size
    probe = bytearray(1)
    cached = 0
    for sample in range(SAMPLES):
        try:
            cached += os.preadv(descriptor, [probe], size * sample // SAMPLES, nowait) > 0
        except BlockingIOError:
            continue
        except OSError:  # a file system that does not take the flag
            return None
    return cached / SAMPLES


class DropBehind(io.RawIOBase):
    """A file read front to back that drops from the page cache what it has read."""

    def __init__(self, descriptor: int) -> None:
        super().__init__()
        self._descriptor = descriptor
        self._position = 0
        self._dropped = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for -1), read straight into one ``bytes``:
        the base class would read into a scratch buffer and copy it twice."""
        if size < 0:
            return self.readall()
        data = os.read(self._descriptor, size)
        self._advance(len(data))
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        count = os.readv(self._descriptor, [buffer])
        self._advance(count)
        return count

    def _advance(self, count: int) -> None:
        self._position += count
        if self._position - self._dropped >= DROP_BYTES:
            self._drop()

    def _drop(self, through_end: bool = False) -> None:
        """Drop what was read since the last drop. The kernel keeps a page the range covers
        only in part, so each range starts on a page boundary, and the last one runs to the
        end of the file."""
        length = 0 if through_end else self._position - self._dropped
        os.posix_fadvise(self._descriptor, self._dropped, length, os.POSIX_FADV_DONTNEED)
        self._dropped = self._position - self._position % mmap.PAGESIZE

    def close(self) -> None:
        if not self.closed:
            try:
                self._drop(through_end=True)
            finally:
                os.close(self._descriptor)
        super().close()


def uncached(path: Path) -> DropBehind | None:
    """``path`` opened for a drop-behind read when it is large and mostly not in the page
    cache; ``None`` when it should be read as usual (small, cached, or a system that cannot
    tell or drop)."""
    if not hasattr(os, "posix_fadvise") or path.stat().st_size < SMALLEST_BYTES:
        return None
    descriptor = os.open(path, os.O_RDONLY)
    handed_over = False
    try:
        share = cached_share(descriptor)
        if share is None or share >= CACHED_SHARE:
            return None
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        handed_over = True
        return DropBehind(descriptor)
    finally:
        if not handed_over:
            os.close(descriptor)
