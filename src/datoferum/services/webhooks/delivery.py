"""The deliverer: sends due deliveries, signed, and records how each attempt went.

Deliveries are claimed before they are sent: the claim sets the state to ``sending`` and
``next_attempt_at`` to the end of a lease, in one short transaction (``SKIP LOCKED`` where the
engine has it; on SQLite ``BEGIN IMMEDIATE`` lets one claimer in at a time). So two processes
never send the same delivery at once, and a delivery whose sender died is claimed again when its
lease runs out. The attempt counter doubles as a fencing token: a sender records its result only
if the delivery is still at the attempt it claimed.

A delivery succeeds on a 2xx answer; any other status (redirects included), a timeout or a
connection failure is retried with the job queue's exponential backoff, and after the last
attempt the delivery is ``dead`` until someone retries it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from sqlalchemy import Connection, and_, select, update

from datoferum import __version__
from datoferum.domain.ids import isoformat, utcnow
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import WebhookDelivery, WebhookSubscription
from datoferum.spine.eventlog import EventRecord
from datoferum.spine.jobs import backoff

from . import signing
from .dispatch import collections_of
from .subscriptions import DeliveryState

log = logging.getLogger(__name__)

BATCH = 16
PARALLEL = 4
_MAX_ERROR = 1000


def payload(event: EventRecord, collection: str | None) -> bytes:
    """The body of a delivery: the event, with its file's collection when known."""
    data = {**event.as_dict(), "collection": collection}
    body = {"type": event.type, "timestamp": isoformat(event.time), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery, ready to send."""

    delivery_id: str
    attempt: int
    subscription_id: str
    url: str
    secret: SecretStr
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _due(now: datetime) -> Any:
    return and_(
        WebhookDelivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        WebhookDelivery.next_attempt_at <= now,
    )


def _host(url: str) -> str:
    """Where a delivery goes, for logs: the URL's path or query may carry a key."""
    return urlsplit(url).netloc.rpartition("@")[2]


class Deliverer:
    def __init__(
        self,
        catalog: Catalog,
        *,
        timeout_seconds: float,
        max_attempts: int,
        batch: int = BATCH,
        parallel: int = PARALLEL,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.catalog = catalog
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.batch = batch
        self.parallel = parallel
        # Long enough for a whole batch of slow receivers, so a live sender keeps its claims.
        self.lease = timedelta(seconds=timeout_seconds * math.ceil(batch / parallel) + 30)
        self._http = httpx.Client(
            timeout=timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": f"datoferum/{__version__}"},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def run_once(self) -> int:
        """Claim up to a batch of due deliveries, send them and record the outcomes."""
        now = utcnow()
        with self.catalog.reading() as conn:  # most ticks find nothing: no write lock for them
            if conn.execute(select(WebhookDelivery.id).where(_due(now)).limit(1)).first() is None:
                return 0
        with self.catalog.writing() as conn:
            attempts = self._prepare(conn, self._claim(conn))
        if not attempts:
            return 0
        outcomes = self._send_all(attempts)
        with self.catalog.writing() as conn:
            for attempt, outcome in zip(attempts, outcomes, strict=True):
                self._record(conn, attempt, outcome)
        return len(attempts)

    def drain(self, budget_seconds: float = 30.0) -> int:
        """Send batches until nothing is due (or the time budget is spent)."""
        deadline = time.monotonic() + budget_seconds
        total = 0
        while True:
            sent = self.run_once()
            total += sent
            if sent < self.batch or time.monotonic() > deadline:
                return total

    def _claim(self, conn: Connection) -> dict[str, int]:
        """Take due deliveries (id -> attempt number); a vanished sender's last try is dead."""
        now = utcnow()
        query = (
            select(WebhookDelivery.id, WebhookDelivery.state, WebhookDelivery.attempts)
            .where(_due(now))
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(self.batch)
        )
        if conn.dialect.name in ("postgresql", "mysql", "mariadb"):
            query = query.with_for_update(skip_locked=True)
        claimed: dict[str, int] = {}
        for row in conn.execute(query).all():
            mine = (WebhookDelivery.id == row.id, _due(now))
            if row.state == DeliveryState.SENDING and row.attempts >= self.max_attempts:
                conn.execute(
                    update(WebhookDelivery)
                    .where(*mine)
                    .values(
                        state=DeliveryState.DEAD,
                        last_error="the sender stopped during the last attempt",
                    )
                )
                continue
            taken = conn.execute(
                update(WebhookDelivery)
                .where(*mine)
                .values(
                    state=DeliveryState.SENDING,
                    attempts=row.attempts + 1,
                    next_attempt_at=now + self.lease,
                )
            ).rowcount
            if taken == 1:
                claimed[row.id] = row.attempts + 1
        return claimed

    def _prepare(self, conn: Connection, claimed: dict[str, int]) -> list[Attempt]:
        """What to send for each claimed delivery: its target, secret and signed body."""
        if not claimed:
            return []
        rows = conn.execute(
            select(
                WebhookDelivery.id, WebhookDelivery.event_seq, WebhookSubscription.id.label("sub"),
                WebhookSubscription.url, WebhookSubscription.secret,
            )
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.id.in_(list(claimed)))
        ).all()  # fmt: skip
        events = {
            seq: event
            for seq in {row.event_seq for row in rows}
            for event in eventlog.page(conn, after_seq=seq - 1, limit=1)
        }
        collections = collections_of(conn, list(events.values()))
        return [
            Attempt(row.id, claimed[row.id], row.sub, row.url, SecretStr(row.secret),
                    payload(events[row.event_seq], collections.get(row.event_seq)))
            for row in rows
            if row.event_seq in events
        ]  # fmt: skip

    def _send_all(self, attempts: list[Attempt]) -> list[Outcome]:
        if len(attempts) == 1:
            return [self._send(attempts[0])]
        with ThreadPoolExecutor(min(self.parallel, len(attempts)), "datoferum-webhook") as pool:
            return list(pool.map(self._send, attempts))

    def _send(self, attempt: Attempt) -> Outcome:
        """One POST; failures of the network become an outcome, never an exception."""
        headers = {
            "content-type": "application/json",
            **signing.signed_headers(
                attempt.secret.get_secret_value(), attempt.delivery_id, attempt.body
            ),
        }
        try:
            with self._http.stream(
                "POST", attempt.url, content=attempt.body, headers=headers
            ) as response:  # the answer's body is not read: only its status counts
                status = response.status_code
        except httpx.TimeoutException:
            return Outcome(None, f"no answer within {self.timeout_seconds:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:_MAX_ERROR])
        if 200 <= status < 300:
            return Outcome(status, None)
        return Outcome(status, f"the receiver answered HTTP {status}")

    def _record(self, conn: Connection, attempt: Attempt, outcome: Outcome) -> None:
        now = utcnow()
        values: dict[str, Any] = {"last_status": outcome.status, "last_error": outcome.error}
        if outcome.ok:
            values.update(state=DeliveryState.DELIVERED, delivered_at=now)
        elif attempt.attempt >= self.max_attempts:
            values["state"] = DeliveryState.DEAD
        else:
            values.update(
                state=DeliveryState.PENDING, next_attempt_at=now + backoff(attempt.attempt)
            )
        still_mine = conn.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == attempt.delivery_id,
                WebhookDelivery.state == DeliveryState.SENDING,
                WebhookDelivery.attempts == attempt.attempt,
            )
            .values(**values)
        ).rowcount
        if still_mine and not outcome.ok:
            log.warning(
                "webhook delivery %s to %s (webhook %s) failed, attempt %d of %d: %s%s",
                attempt.delivery_id, _host(attempt.url), attempt.subscription_id,
                attempt.attempt, self.max_attempts, outcome.error,
                "; it is dead now" if values["state"] == DeliveryState.DEAD else "",
            )  # fmt: skip
