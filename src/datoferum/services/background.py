"""Threads that run beside the HTTP server, or alone under ``datoferum worker``:
job workers, the scheduler and the sweep. Each loop survives its own failures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Loop = Callable[[threading.Event], None]


def every(seconds: float, step: Callable[[], object], name: str) -> Loop:
    """A loop that calls ``step`` every ``seconds`` until stopped, logging (not dying on) errors."""

    def loop(stop: threading.Event) -> None:
        while not stop.wait(seconds):
            try:
                step()
            except Exception:
                log.exception("%s failed; trying again in %s s", name, seconds)

    return loop


class Background:
    def __init__(self, loops: list[tuple[str, Loop]]) -> None:
        self._loops = loops
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, loop in self._loops:
            thread = threading.Thread(target=loop, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every loop to stop and wait for it (a job in progress finishes its step)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
