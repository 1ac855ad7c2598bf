"""Reading, mapping and writing a conversion at the same time.

Parsing CSV blocks, computing columns and encoding Parquet all run in Arrow's C++ code, which
lets go of the GIL; run one after the other they leave a second core idle for two thirds of the
time. ``ahead`` reads the next batch in a thread while the current one is mapped; ``behind``
writes the previous batch in a thread. Both hand over through a queue of ``DEPTH`` items, so
memory stays a few batches whatever the file's size, and both re-raise a failure of their
thread in the caller, in order: a bad row deep in a file is reported exactly as without threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: Items waiting between two threads (each is one batch of rows). The Parquet writer takes
#: batches in bursts: it gathers a row group (some five batches of a CUR) and then encodes it
#: at once, and a shorter queue left the mapping thread waiting, and a core idle, while it did:
#: a million CUR rows converted in 1.21 s with 2 batches a queue, 1.07 s with 8. Memory stays
#: bounded: two queues of 8 batches of about 6 MB for a wide CUR.
DEPTH = 8
_DONE = object()
#: How often a thread blocked on a full queue checks whether the other side stopped.
_POLL_SECONDS = 0.05


def _put(handoff: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=_POLL_SECONDS)
        except queue.Full:
            continue
        return True
    return False


def ahead(items: Iterator[T], name: str) -> Iterator[T]:
    """``items``, produced by a thread of their own up to ``DEPTH`` ahead of the caller."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=DEPTH)
    stop = threading.Event()

    def produce() -> None:
        ending: tuple[object, BaseException | None] = (_DONE, None)
        try:
            for item in items:
                if not _put(handoff, (item, None), stop):
                    return
        except BaseException as error:  # re-raised in the caller
            ending = (_DONE, error)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        _put(handoff, ending, stop)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


@contextmanager
def behind(consume: Callable[[T], None], name: str) -> Iterator[Callable[[T], None]]:
    """A ``put(item)`` that hands ``item`` to ``consume`` in a thread of its own. Leaving the
    block waits for every item to be consumed and re-raises the thread's failure, if any; a
    failure of the thread also surfaces at the next ``put``. Leaving it with an exception
    drops what was not consumed yet."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=DEPTH)
    abandoned = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        while (item := handoff.get()) is not _DONE:
            if failure or abandoned.is_set():
                continue  # drain, so that the caller never waits on a full queue
            try:
                consume(item)
            except BaseException as error:  # re-raised in the caller
                failure.append(error)

    def put(item: T) -> None:
        if failure:
            raise failure[0]
        handoff.put(item)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield put
    except BaseException:
        abandoned.set()
        raise
    finally:
        handoff.put(_DONE)
        thread.join()
    if failure:
        raise failure[0]
