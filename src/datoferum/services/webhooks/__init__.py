"""Webhooks: lifecycle events pushed to HTTP receivers (n8n, Airflow, anything that listens),
signed per Standard Webhooks.

Two background loops per process: the dispatcher turns new events into deliveries (one per
matching subscription), the deliverer sends them with retries. Both are safe to run in every
server and worker process at once.
"""

from __future__ import annotations

import threading

from datoferum.config import Settings
from datoferum.services.background import Loop, every
from datoferum.spine.catalog.database import Catalog

from .delivery import Deliverer
from .dispatch import Dispatcher
from .service import WebhookService
from .signing import new_secret, signed_headers, verify_signature
from .subscriptions import Delivery, DeliveryState, Subscription

__all__ = [
    "Deliverer",
    "Delivery",
    "DeliveryState",
    "Dispatcher",
    "Subscription",
    "WebhookService",
    "loops",
    "new_secret",
    "signed_headers",
    "verify_signature",
]


def loops(catalog: Catalog, settings: Settings) -> list[tuple[str, Loop]]:
    """The dispatch and delivery loops, or none if this process is to send no webhooks."""
    seconds = settings.webhook_dispatch_seconds
    if seconds <= 0:
        return []
    dispatcher = Dispatcher(catalog)

    def deliver(stop: threading.Event) -> None:
        deliverer = Deliverer(
            catalog,
            timeout_seconds=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
        )
        try:
            every(seconds, deliverer.drain, "webhook delivery")(stop)
        finally:
            deliverer.close()

    return [
        ("datoferum-webhook-dispatch", every(seconds, dispatcher.drain, "webhook dispatch")),
        ("datoferum-webhook-delivery", deliver),
    ]
