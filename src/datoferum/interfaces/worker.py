"""``datoferum worker``: job workers and the scheduler in a process of their own."""

from __future__ import annotations

import logging
import signal
import threading

from datoferum.config import Settings
from datoferum.services.wiring import build_services
from datoferum.spine.catalog import migrate


def run_worker(settings: Settings, threads: int) -> None:
    """Run until SIGINT or SIGTERM; the job in progress on each thread finishes its step."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO; webhook URLs may carry a receiver's key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    services = build_services(settings)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        migrate.upgrade(services.catalog)
        background = services.background(threads)
        background.start()
        print(
            f"Datoferum worker running {threads} job threads (data in {settings.home})", flush=True
        )
        stopping.wait()
        background.stop()
    finally:
        services.close()
