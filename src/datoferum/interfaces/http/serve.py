"""Runs the API under granian (chosen by measurement: see docs/benchmarks.md)."""

from __future__ import annotations

import logging
import os

from granian.constants import Interfaces, Loops
from granian.server import Server
from pydantic import SecretStr

from datoferum.config import Settings
from datoferum.interfaces.logs import configure_logging
from datoferum.services.wiring import prepare

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """Migrate, bootstrap and sweep once, then serve until interrupted."""
    configure_logging(settings)
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
        # The worker processes read their settings from the environment; str() of a secret
        # is its mask, so secrets are passed as their values.
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        os.environ[f"DATOFERUM_{name.upper()}"] = text
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
