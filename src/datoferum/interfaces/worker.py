"""``datoferum worker``: job workers and the scheduler in a process of their own."""

from __future__ import annotations

import signal
import threading

from datoferum.config import Settings
from datoferum.interfaces.logs import configure_logging
from datoferum.interfaces.process import settle_heap
from datoferum.services.wiring import build_services
from datoferum.spine.catalog import migrate


def run_worker(settings: Settings, threads: int) -> None:
    """Run until SIGINT or SIGTERM; the job in progress on each thread finishes its step."""
    configure_logging(settings)
    services = build_services(settings)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        migrate.upgrade(services.catalog)
        settle_heap()
        background = services.background(threads)
        background.start()
        print(
            f"Datoferum worker running {threads} job threads (data in {settings.home})", flush=True
        )
        stopping.wait()
        background.stop()
    finally:
        services.close()
