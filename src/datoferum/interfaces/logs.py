"""Logging set-up shared by the server and the worker processes."""

from __future__ import annotations

import logging

from datoferum.config import Settings

#: Libraries kept at WARNING whatever the product's level: their debug and info lines carry
#: request URLs (webhook receivers' keys), signed request headers and response bodies, and would
#: drown the product's own lines.
QUIET = ("alembic", "httpx", "httpcore", "botocore", "boto3", "s3transfer", "urllib3", "hvac")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
