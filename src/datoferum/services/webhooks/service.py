"""What the interfaces call: subscriptions and deliveries, each in its own transaction."""

from __future__ import annotations

from datoferum.domain.roles import Principal
from datoferum.spine.catalog.database import Catalog

from . import subscriptions
from .subscriptions import Delivery, Subscription


class WebhookService:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(
        self,
        actor: Principal,
        *,
        url: object,
        event_types: object,
        collection: object = None,
        secret: object = None,
    ) -> tuple[Subscription, str]:
        """Subscribe ``url`` to events; the secret is returned here and never again."""
        with self.catalog.writing() as conn:
            return subscriptions.create(
                conn, actor.subject, url=url, event_types=event_types, collection=collection,
                secret=secret,
            )  # fmt: skip

    def list_subscriptions(self) -> list[Subscription]:
        with self.catalog.reading() as conn:
            return subscriptions.page(conn)

    def get(self, subscription_id: str) -> Subscription:
        with self.catalog.reading() as conn:
            return subscriptions.get(conn, subscription_id)

    def delete(self, actor: Principal, subscription_id: str) -> Subscription:
        with self.catalog.writing() as conn:
            return subscriptions.remove(conn, actor.subject, subscription_id)

    def deliveries(
        self, subscription_id: str, *, state: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        with self.catalog.reading() as conn:
            return subscriptions.deliveries(conn, subscription_id, state=state, limit=limit)

    def retry(self, actor: Principal, delivery_id: str) -> Delivery:
        with self.catalog.writing() as conn:
            return subscriptions.retry(conn, actor.subject, delivery_id)
