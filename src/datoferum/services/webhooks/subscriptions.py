"""Webhook subscriptions and their deliveries as catalog records.

A subscription names a target URL, the event types it wants (``file.purged``, ``file.*`` or
``*``) and optionally one collection. Its signing secret is kept in the catalog because every
delivery is signed with it; it leaves the server once, in the answer that created it, and is
otherwise carried as a ``SecretStr`` so no repr, log line or event can show it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from sqlalchemy import Connection, delete, insert, select, update

from datoferum.domain.ids import is_id, isoformat, new_id, utcnow
from datoferum.domain.names import check_collection
from datoferum.errors import InvalidInput, NotFound
from datoferum.spine import eventlog
from datoferum.spine.catalog.schema import Event, WebhookDelivery, WebhookSubscription
from datoferum.spine.eventlog import NewEvent

from . import signing

_PATTERN = re.compile(r"\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?")
MAX_PATTERNS = 32
MAX_URL = 2048


class DeliveryState:
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender until next_attempt_at (its lease)
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed; retried only on request

    ALL = (PENDING, SENDING, DELIVERED, DEAD)


def check_patterns(patterns: object) -> tuple[str, ...]:
    """Event type patterns: exact (``file.purged``), a prefix (``file.*``) or ``*`` for all."""
    if not isinstance(patterns, list) or not 1 <= len(patterns) <= MAX_PATTERNS:
        raise InvalidInput(
            f'"event_types" must be a list of 1 to {MAX_PATTERNS} patterns, '
            'e.g. ["file.*", "token.created"] or ["*"]'
        )
    for pattern in patterns:
        if not isinstance(pattern, str) or len(pattern) > 64 or not _PATTERN.fullmatch(pattern):
            raise InvalidInput(
                f"invalid event type pattern {pattern!r}: use an event type (file.purged), "
                "a prefix ending in '.*' (file.*) or '*' for every event"
            )
    return tuple(dict.fromkeys(patterns))


def type_matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def check_url(url: object) -> str:
    """An absolute http(s) URL with a host; anything else cannot be delivered to."""
    if not isinstance(url, str) or not url:
        raise InvalidInput('give the target as "url", e.g. "https://n8n.example.org/webhook/x"')
    if len(url) > MAX_URL or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidInput(f"the webhook URL must be at most {MAX_URL} characters, no spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what validates it
        httpx.URL(url)  # what will send it must read it the same way (IDNA hosts, say)
    except (ValueError, httpx.InvalidURL) as exc:
        raise InvalidInput(f"the webhook URL {url!r} cannot be parsed: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(
            f"the webhook URL must start with http:// or https://, got {parts.scheme or 'none'!r}"
        )
    if not parts.hostname:
        raise InvalidInput(f"the webhook URL {url!r} has no host")
    return url


def _shown_url(url: str) -> str:
    """The URL without user info, query or fragment, for events: those parts may hold keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    secret: SecretStr
    event_types: tuple[str, ...]
    collection: str | None
    active: bool
    after_seq: int
    created_at: datetime
    created_by: str

    def wants(self, seq: int, event_type: str, collection: str | None) -> bool:
        """True if this subscription should receive the event."""
        if not self.active or seq <= self.after_seq:
            return False
        if self.collection is not None and collection != self.collection:
            return False
        return any(type_matches(p, event_type) for p in self.event_types)

    def as_dict(self) -> dict[str, Any]:
        """The public view: the secret appears only as a hint."""
        return {
            "id": self.id,
            "url": self.url,
            "event_types": list(self.event_types),
            "collection": self.collection,
            "active": self.active,
            "secret_hint": signing.hint(self.secret.get_secret_value()),
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
        }


def _subscription(row: Any) -> Subscription:
    return Subscription(
        row.id, row.url, SecretStr(row.secret), tuple(json.loads(row.event_types)),
        row.collection, bool(row.active), row.after_seq, row.created_at, row.created_by,
    )  # fmt: skip


def create(
    conn: Connection,
    actor: str,
    *,
    url: object,
    event_types: object,
    collection: object = None,
    secret: object = None,
) -> tuple[Subscription, str]:
    """Create a subscription; returns it and its secret (given, or generated), shown once."""
    url = check_url(url)
    patterns = check_patterns(event_types)
    if collection is not None and not isinstance(collection, str):
        raise InvalidInput('"collection" must be a collection name or null')
    if collection is not None:
        check_collection(collection)
    if secret is not None and not isinstance(secret, str):
        raise InvalidInput('"secret" must be a string "whsec_<base64>", or left out')
    secret = signing.check_secret(secret) if secret is not None else signing.new_secret()
    subscription_id, now = new_id(), utcnow()
    (created,) = eventlog.append(
        conn,
        [
            NewEvent(
                "webhook.created", actor,
                details={"webhook": subscription_id, "url": _shown_url(url),
                         "event_types": list(patterns), "collection": collection},
            )
        ],
    )  # fmt: skip
    conn.execute(
        insert(WebhookSubscription).values(
            id=subscription_id, url=url, secret=secret, event_types=json.dumps(patterns),
            collection=collection, active=True, after_seq=created.seq, created_at=now,
            created_by=actor,
        )
    )  # fmt: skip
    return get(conn, subscription_id), secret


def get(conn: Connection, subscription_id: str) -> Subscription:
    row = None
    if is_id(subscription_id):
        row = conn.execute(
            select(WebhookSubscription.__table__).where(WebhookSubscription.id == subscription_id)
        ).first()
    if row is None:
        raise NotFound(
            f"there is no webhook with id {subscription_id!r}: see 'datoferum webhook list'"
        )
    return _subscription(row)


def active(conn: Connection) -> list[Subscription]:
    rows = conn.execute(
        select(WebhookSubscription.__table__).where(WebhookSubscription.active.is_(True))
    ).all()
    return [_subscription(row) for row in rows]


def page(conn: Connection) -> list[Subscription]:
    rows = conn.execute(
        select(WebhookSubscription.__table__).order_by(WebhookSubscription.created_at)
    ).all()
    return [_subscription(row) for row in rows]


def remove(conn: Connection, actor: str, subscription_id: str) -> Subscription:
    """Delete a subscription with its deliveries; what is in flight may still arrive once."""
    subscription = get(conn, subscription_id)
    conn.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id))
    conn.execute(delete(WebhookSubscription).where(WebhookSubscription.id == subscription.id))
    gone = NewEvent("webhook.deleted", actor, details={"webhook": subscription.id})
    eventlog.append(conn, [gone])
    return subscription


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    event_seq: int
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        waiting = self.state in (DeliveryState.PENDING, DeliveryState.SENDING)
        return {
            "id": self.id,
            "webhook_id": self.subscription_id,
            "event_seq": self.event_seq,
            "event_type": self.event_type,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": isoformat(self.next_attempt_at) if waiting else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "delivered_at": isoformat(self.delivered_at) if self.delivered_at else None,
        }


_DELIVERY_COLUMNS = (*WebhookDelivery.__table__.columns, Event.type.label("event_type"))


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id, row.subscription_id, row.event_seq, row.event_type, row.state, row.attempts,
        row.next_attempt_at, row.last_status, row.last_error, row.delivered_at,
    )  # fmt: skip


def _deliveries() -> Any:
    return select(*_DELIVERY_COLUMNS).join(Event, Event.seq == WebhookDelivery.event_seq)


def deliveries(
    conn: Connection, subscription_id: str, *, state: str | None = None, limit: int = 100
) -> list[Delivery]:
    """A subscription's deliveries, newest event first (``state="dead"``: its dead letters)."""
    if state is not None and state not in DeliveryState.ALL:
        raise InvalidInput(
            f"unknown delivery state {state!r}; states are: {', '.join(DeliveryState.ALL)}"
        )
    subscription = get(conn, subscription_id)
    query = _deliveries().where(WebhookDelivery.subscription_id == subscription.id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    rows = conn.execute(query.order_by(WebhookDelivery.event_seq.desc()).limit(limit)).all()
    return [_delivery(row) for row in rows]


def delivery(conn: Connection, delivery_id: str) -> Delivery:
    row = None
    if is_id(delivery_id):
        row = conn.execute(_deliveries().where(WebhookDelivery.id == delivery_id)).first()
    if row is None:
        raise NotFound(f"there is no webhook delivery with id {delivery_id!r}")
    return _delivery(row)


def retry(conn: Connection, actor: str, delivery_id: str) -> Delivery:
    """Send a dead (or waiting) delivery again now, with a fresh round of attempts."""
    found = delivery(conn, delivery_id)
    if found.state == DeliveryState.DELIVERED:
        raise InvalidInput(f"delivery {delivery_id} was already delivered; there is nothing to do")
    if found.state == DeliveryState.SENDING:
        raise InvalidInput(f"delivery {delivery_id} is being sent right now; look again shortly")
    conn.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == found.id, WebhookDelivery.state == found.state)
        .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=utcnow())
    )
    eventlog.append(
        conn,
        [
            NewEvent(
                "webhook.retried", actor,
                details={"webhook": found.subscription_id, "delivery": found.id},
            )
        ],
    )  # fmt: skip
    return delivery(conn, delivery_id)


def new_rows(
    subscriptions: Sequence[Subscription],
    events: Sequence[eventlog.EventRecord],
    collections: dict[int, str | None],
) -> list[dict[str, Any]]:
    """One delivery row per (subscription, event) that matches."""
    now = utcnow()
    return [
        {"id": new_id(), "subscription_id": sub.id, "event_seq": event.seq,
         "state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": now}
        for event in events
        for sub in subscriptions
        if sub.wants(event.seq, event.type, collections.get(event.seq))
    ]  # fmt: skip
