"""Runs the API under granian (chosen by measurement: see docs/benchmarks.md)."""

from __future__ import annotations

import logging
import os

from granian.constants import Interfaces, Loops
from granian.server import Server

from datoferum.config import Settings
from datoferum.services.wiring import prepare

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """Migrate, bootstrap and sweep once, then serve until interrupted."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO; webhook URLs may carry a receiver's key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    secret = prepare(settings)
    if secret is not None:
        print(
            f"Generated the first admin token (also in {settings.admin_token_file}, mode 0600):\n"
            f"  {secret}\n"
            "It is shown only this once.",
            flush=True,
        )
    # Worker processes rebuild the settings from the environment; pass on what was given here.
    for name, value in settings.model_dump(exclude_none=True).items():
        if name == "bootstrap_token":
            continue
        os.environ[f"DATOFERUM_{name.upper()}"] = str(value)
    print(
        f"Datoferum listening on http://{settings.host}:{settings.port} (data in {settings.home})",
        flush=True,
    )
    Server(
        "datoferum.interfaces.http.app:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        factory=True,
        log_level=settings.log_level,  # type: ignore[arg-type]
    ).serve()
