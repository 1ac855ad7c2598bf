"""A helper process that unlinks big batches of files, so deleting overlaps with Python work.

A thread that loops over ``os.unlink`` needs the GIL back after every call. While another thread
of the process is busy in Python (a purge certifying one batch while the next batch's bytes are
deleted), the interpreter hands the GIL over only every few milliseconds, so the deleting thread
stalls: measured here, deleting 500 files on threads while the main thread computed took longer
than doing the two one after the other. A process of its own has its own GIL and another core.

The helper is this module's :func:`serve` in a new interpreter: it reads one batch per line
(a JSON array of paths) and answers one line (a JSON array of booleans: whether each existed,
or ``{"error": ...}``). It is started on first use, shared by the whole server process, and
restarted if it dies; when it cannot run, or is busy with another batch, the batch runs in the
calling process instead: slower, never wrong. It only ever unlinks the paths it is sent.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO

from datoferum.adapters.parallel import each

log = logging.getLogger(__name__)

#: Batches of at least this many paths are spread over this many threads: unlink waits in the
#: kernel with the GIL released, so a few hundred go about as fast as the disk allows.
PARALLEL = 64
THREADS = 4


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)  # noqa: PTH108 (a string path: pathlib costs more than the call)
    except FileNotFoundError:
        return False
    return True


def unlink_all(paths: Sequence[str]) -> list[bool]:
    """Unlink every path on a few threads; whether each existed."""
    return each(_unlink, paths, threads=THREADS, at_least=PARALLEL, name="unlink")


class Unlinker:
    """The client side: sends batches to the helper process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._failed = False

    def unlink_all(self, paths: Sequence[str]) -> list[bool]:
        """Whether each path existed; raises ``OSError`` for a path that could not be removed."""
        if not self._lock.acquire(blocking=False):  # another batch is in the helper
            return unlink_all(paths)
        try:
            return self._in_helper(paths)
        finally:
            self._lock.release()

    def _in_helper(self, paths: Sequence[str]) -> list[bool]:
        process = self._started()
        if process is None:
            return unlink_all(paths)
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(list(paths)) + "\n")
            stdin.flush()
            answer = stdout.readline()
        except OSError:
            answer = ""
        if not answer:
            log.warning("the unlink helper stopped; the batch runs here and a new one will start")
            self._stop()
            return unlink_all(paths)
        result = json.loads(answer)
        if isinstance(result, dict):
            raise OSError(result.get("error", "the unlink helper failed"))
        return [bool(existed) for existed in result]

    def _started(self) -> subprocess.Popen[str] | None:
        if self._process is not None:
            if self._process.poll() is None:
                return self._process
            self._stop()  # it died since the last batch: release its pipes, start another
        if self._failed:
            return None
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"from {__name__} import serve; serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            )  # fmt: skip
        except OSError as error:
            log.warning("no unlink helper (%s); batches are deleted in the server process", error)
            self._failed = True
            return None
        return self._process

    def _stop(self, *, grace: float = 0.0) -> None:
        """End the helper: close its input (on which it exits by itself), give it ``grace``
        seconds to do so, then kill it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        """Stop the helper, letting it finish the batch it may be on."""
        with self._lock:
            self._stop(grace=5.0)

    def forget(self) -> None:
        """Drop the helper without stopping it: a forked child must not talk to its parent's."""
        self._process = None
        self._lock = threading.Lock()


#: The process's one helper, shared by every local disk.
HELPER = Unlinker()
atexit.register(HELPER.close)
os.register_at_fork(after_in_child=HELPER.forget)


def serve(requests: IO[str] = sys.stdin, answers: IO[str] = sys.stdout) -> None:
    """The helper's loop: a batch per line in, whether each path existed per line out."""
    for line in requests:
        try:
            answer: object = unlink_all(json.loads(line))
        except OSError as error:
            answer = {"error": str(error)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
