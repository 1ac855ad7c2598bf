"""Webhooks end to end: a real Datoferum server sends lifecycle events to a real receiver process.

Deliveries must carry valid Standard Webhooks signatures, respect type and collection filters,
be retried with the same webhook-id, end as dead letters that can be retried on request, and
arrive once per subscription and event across restarts and parallel senders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import update

from datoferum.domain.ids import utcnow
from datoferum.domain.roles import SYSTEM
from datoferum.errors import InvalidInput, InvalidSignature
from datoferum.services.webhooks import (
    Deliverer,
    DeliveryState,
    Dispatcher,
    WebhookService,
    signed_headers,
    verify_signature,
)
from datoferum.services.webhooks.subscriptions import check_patterns, type_matches
from datoferum.spine import eventlog
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import WebhookDelivery
from datoferum.spine.eventlog import NewEvent

from conftest import LiveServer, free_port

RECEIVER = Path(__file__).with_name("webhook_receiver.py")
T = TypeVar("T")


# -- the receiver process and waiting -------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class Receiver:
    """``webhook_receiver.py`` on a free loopback port, recording what it gets to a file."""

    def __init__(self, directory: Path, *, fail_first: int = 0) -> None:
        self.port = free_port()
        self.record = directory / f"received-{self.port}.jsonl"
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), str(self.record),
             "--fail-first", str(fail_first)],
        )  # fmt: skip
        wait_for(self._healthy, what="the receiver to listen")

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url("/health"), timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def control(self, *, fail: int | None = None, delay: float | None = None) -> None:
        params = {k: v for k, v in {"fail": fail, "delay": delay}.items() if v is not None}
        assert httpx.post(self.url("/control"), params=params).status_code == 204

    def received(self, path: str | None = None) -> list[Received]:
        if not self.record.exists():
            return []
        entries = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [
            Received(e["path"], e["headers"], e["body"].encode(), e["status"])
            for e in entries
            if path is None or e["path"] == path
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    live = Receiver(tmp_path)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def hooked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that looks for webhook work every 0.1 s and gives up after three attempts."""
    home = tmp_path_factory.mktemp("hooked") / "home"
    live = LiveServer(
        home, DATOFERUM_WEBHOOK_DISPATCH_SECONDS="0.1", DATOFERUM_WEBHOOK_MAX_ATTEMPTS="3"
    ).start()
    yield live
    live.stop()


@pytest.fixture
def hooked(hooked_server: LiveServer) -> Iterator[LiveServer]:
    """The webhook server, left without subscriptions by each test."""
    yield hooked_server
    with hooked_server.client() as client:
        for hook in client.get("/api/v1/webhooks").json()["items"]:
            assert client.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 200


def wait_for(check: Callable[[], T], *, timeout: float = 20.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what or check}: last saw {value!r}")
        time.sleep(0.05)


def count_reaches(receiver: Receiver, path: str, n: int, timeout: float = 20.0) -> list[Received]:
    """The requests at ``path`` once there are ``n``, checking no more follow shortly after;
    in event order (a batch is sent in parallel, so arrivals may be in any order)."""
    wait_for(lambda: len(receiver.received(path)) >= n, timeout=timeout, what=f"{n} at {path}")
    time.sleep(0.5)  # several dispatch and delivery rounds: anything extra would show now
    found = receiver.received(path)
    assert len(found) == n, [r.event["type"] for r in found]
    return sorted(found, key=lambda r: (r.event["data"]["seq"], r.headers["webhook-timestamp"]))


def subscribe(server: LiveServer, **body: Any) -> dict[str, Any]:
    with server.client() as client:
        answer = client.post("/api/v1/webhooks", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def upload(server: LiveServer, collection: str, path: str, content: bytes = b"x") -> str:
    with server.client() as client:
        answer = client.put(f"/api/v1/data/{collection}/{path}", content=content)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def deliveries(server: LiveServer, webhook_id: str, state: str = "") -> list[dict[str, Any]]:
    with server.client() as client:
        params = {"state": state} if state else {}
        answer = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def independent_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The signature recomputed from the spec's words, sharing no code with the product."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def expect_problem(answer: httpx.Response, status: int, code: str, detail: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == f"urn:datoferum:problem:{code}"
    assert detail in problem["detail"], problem["detail"]


# -- delivery against real processes -------------------------------------------------------------


def test_an_upload_is_delivered_with_a_valid_signature(
    hooked: LiveServer, receiver: Receiver, collection: str
) -> None:
    hook = subscribe(hooked, url=receiver.url(), event_types=["file.*"], collection=collection)
    secret = hook["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    file_id = upload(hooked, collection, "a/b.txt", b"hello")

    got = count_reaches(receiver, "/hook", 2)
    assert [r.event["type"] for r in got] == ["file.captured", "file.stored"]
    with hooked.client() as client:
        timeline = client.get(f"/api/v1/files/{file_id}/events").json()["items"]
    listed = {d["id"]: d for d in deliveries(hooked, hook["id"])}
    for request, event in zip(got, timeline, strict=True):
        headers = request.headers
        verify_signature(secret, headers, request.body)
        assert headers["webhook-signature"] == independent_signature(secret, headers, request.body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        assert headers["content-type"] == "application/json"
        body = request.event
        assert body["timestamp"] == event["time"] and body["type"] == event["type"]
        assert body["data"] == {**event, "collection": collection}
        delivery = listed[headers["webhook-id"]]
        assert delivery["state"] == "delivered" and delivery["attempts"] == 1
        assert delivery["event_seq"] == event["seq"] and delivery["last_status"] == 200

    request = got[0]
    with pytest.raises(InvalidSignature, match="no webhook-signature matches"):
        verify_signature(secret, request.headers, request.body + b" ")
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(secret, request.headers, request.body, now=time.time() + 301)


def test_the_secret_is_shown_once(hooked: LiveServer, receiver: Receiver, collection: str) -> None:
    """Neither the secret nor a key in the URL's query reaches later answers, events or logs."""
    chosen = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    key = "k" + os.urandom(8).hex()
    url = receiver.url() + "?key=" + key
    hook = subscribe(hooked, url=url, event_types=["*"], collection=collection, secret=chosen)
    assert hook["secret"] == chosen and hook["secret_hint"] == "whsec_…" + chosen[-4:]
    upload(hooked, collection, "f.bin")
    first = wait_for(lambda: receiver.received("/hook"), what="a delivery")[0]
    verify_signature(chosen, first.headers, first.body)
    with hooked.client() as client:
        later = [
            client.get("/api/v1/webhooks").text,
            client.get(f"/api/v1/webhooks/{hook['id']}").text,
            client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").text,
            client.delete(f"/api/v1/webhooks/{hook['id']}").text,
        ]
        events = client.get("/api/v1/events", params={"type": "webhook."}).text
    assert all(hook["id"] in text for text in [*later, events])
    assert json.loads(later[1])["url"] == url
    for text in [*later, events, *(r.body.decode() for r in receiver.received())]:
        assert chosen not in text and chosen[6:] not in text
    assert key not in events
    log = hooked.log.read_text()
    assert chosen[6:] not in log and key not in log


def test_type_and_collection_filters(
    hooked: LiveServer, receiver: Receiver, collection: str
) -> None:
    other = collection + "-other"
    upload(hooked, collection, "before.txt")  # before any subscription: sent to nobody
    subscribe(hooked, url=receiver.url("/stored"), event_types=["file.stored"])
    subscribe(hooked, url=receiver.url("/other"), event_types=["file.*"], collection=other)
    subscribe(hooked, url=receiver.url("/made"), event_types=["collection.created", "nope.*"])
    subscribe(hooked, url=receiver.url("/all"), event_types=["*"], collection=collection)
    upload(hooked, collection, "after.txt")
    upload(hooked, other, "elsewhere.txt")

    stored = count_reaches(receiver, "/stored", 2)
    assert {r.event["data"]["collection"] for r in stored} == {collection, other}
    assert {r.event["type"] for r in stored} == {"file.stored"}
    in_other = count_reaches(receiver, "/other", 2)
    assert [r.event["type"] for r in in_other] == ["file.captured", "file.stored"]
    assert {r.event["data"]["collection"] for r in in_other} == {other}
    made = count_reaches(receiver, "/made", 1)
    assert made[0].event["data"]["details"] == {"collection": other}
    everything = count_reaches(receiver, "/all", 2)
    assert [r.event["type"] for r in everything] == ["file.captured", "file.stored"]
    assert everything[0].event["data"]["details"]["path"] == "after.txt"
    assert len({r.event["data"]["file_id"] for r in everything}) == 1


def test_failures_are_retried_until_delivered_or_dead(
    hooked: LiveServer, tmp_path: Path, collection: str
) -> None:
    """Two receivers side by side (their backoff waits overlap): one fails twice then answers,
    the other always fails; its dead letter is listed, then retried on request."""
    flaky, broken = Receiver(tmp_path, fail_first=2), Receiver(tmp_path, fail_first=-1)
    try:
        wanted = {"event_types": ["file.stored"], "collection": collection}
        retried = subscribe(hooked, url=flaky.url(), **wanted)
        doomed = subscribe(hooked, url=broken.url(), **wanted)
        upload(hooked, collection, "retried.bin")
        got = count_reaches(flaky, "/hook", 3, timeout=30)
        (dead,) = wait_for(
            lambda: deliveries(hooked, doomed["id"], "dead"), timeout=30, what="a dead letter"
        )
        check_dead_letter(hooked, doomed["id"], dead)
        broken.control(fail=0)
        retry_dead_letter(hooked, doomed["id"], dead["id"])
        resent = broken.received()
    finally:
        flaky.stop()
        broken.stop()

    assert [r.status for r in got] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    for request in got:
        verify_signature(retried["secret"], request.headers, request.body)
    (delivery,) = deliveries(hooked, retried["id"], "delivered")
    assert delivery["id"] == got[0].headers["webhook-id"]
    assert (delivery["attempts"], delivery["last_status"], delivery["last_error"]) == (3, 200, None)

    assert [r.status for r in resent] == [500, 500, 500, 200]
    assert {r.headers["webhook-id"] for r in resent} == {dead["id"]}
    assert not deliveries(hooked, doomed["id"], "dead")


def check_dead_letter(server: LiveServer, webhook_id: str, dead: dict[str, Any]) -> None:
    """A dead letter says why it died, in the API and on the command line."""
    assert (dead["attempts"], dead["last_status"]) == (3, 500)
    assert "HTTP 500" in dead["last_error"] and dead["next_attempt_at"] is None
    listed = server.cli("webhook", "deliveries", webhook_id, "--state", "dead")
    assert listed.returncode == 0, listed.stderr
    assert dead["id"] in listed.stdout and "HTTP 500" in listed.stdout
    as_json = server.cli("--json", "webhook", "deliveries", webhook_id, "--state", "dead")
    assert [d["id"] for d in json.loads(as_json.stdout)] == [dead["id"]]


def retry_dead_letter(server: LiveServer, webhook_id: str, delivery_id: str) -> None:
    """Retry on request: pending at once, delivered soon, recorded as an event."""
    with server.client() as client:
        again = client.post(f"/api/v1/webhooks/deliveries/{delivery_id}/retry")
        assert again.status_code == 202, again.text
        assert (again.json()["state"], again.json()["attempts"]) == ("pending", 0)
        wait_for(lambda: deliveries(server, webhook_id, "delivered"), what="the retry")
        expect_problem(
            client.post(f"/api/v1/webhooks/deliveries/{delivery_id}/retry"),
            400, "invalid-input", "already delivered",
        )  # fmt: skip
        events = client.get("/api/v1/events", params={"type": "webhook."}).json()["items"]
    mine = [e["type"] for e in events if e["details"]["webhook"] == webhook_id]
    assert mine == ["webhook.created", "webhook.retried"]


def _worker(server: LiveServer) -> subprocess.Popen[bytes]:
    """A ``datoferum worker`` beside the server, once it says it is running."""
    path = server.home.parent / "worker.log"
    with path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "datoferum", "worker", "--home", str(server.home),
             "--threads", "1"],
            env=server.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_for(
        lambda: worker.poll() is not None or b"Datoferum worker running" in path.read_bytes(),
        timeout=60,
        what="the worker to start",
    )
    assert worker.poll() is None, path.read_text()
    return worker


def test_restarts_and_parallel_processes_deliver_each_event_once(
    hooked: LiveServer, receiver: Receiver, collection: str
) -> None:
    """A ``datoferum worker`` sends webhooks beside the server, which restarts meanwhile."""
    worker = _worker(hooked)
    try:
        hook = subscribe(hooked, url=receiver.url(), event_types=["file.*"], collection=collection)
        for n in range(5):
            upload(hooked, collection, f"first-{n}.bin")
        hooked.stop()
        hooked.start()
        for n in range(5):
            upload(hooked, collection, f"second-{n}.bin")
        got = count_reaches(receiver, "/hook", 20, timeout=30)
        wait_for(lambda: len(deliveries(hooked, hook["id"], "delivered")) == 20, what="delivered")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    assert len({r.headers["webhook-id"] for r in got}) == 20
    assert len({r.event["data"]["seq"] for r in got}) == 20
    assert b"Datoferum worker running" in (hooked.home.parent / "worker.log").read_bytes()


# -- bad requests --------------------------------------------------------------------------------

GOOD = {"url": "http://127.0.0.1:9/hook", "event_types": ["file.*"]}


@pytest.mark.parametrize(
    ("change", "code", "detail"),
    [
        ({"url": "ftp://example.org/x"}, "invalid-input", "must start with http:// or https://"),
        ({"url": "example.org/hook"}, "invalid-input", "must start with http:// or https://"),
        ({"url": "http:///hook"}, "invalid-input", "has no host"),
        ({"url": "http://example.org:99999/"}, "invalid-input", "cannot be parsed"),
        ({"url": "http://exa mple.org/"}, "invalid-input", "no spaces"),
        ({"url": "http://ab\u00ad.de/"}, "invalid-input", "Invalid IDNA hostname"),
        ({"url": None}, "invalid-input", 'give the target as "url"'),
        ({"event_types": ["file*"]}, "invalid-input", "invalid event type pattern 'file*'"),
        ({"event_types": ["a..b"]}, "invalid-input", "invalid event type pattern"),
        ({"event_types": ["*.stored"]}, "invalid-input", "invalid event type pattern"),
        ({"event_types": []}, "invalid-input", "list of 1 to 32 patterns"),
        ({"event_types": "file.*"}, "invalid-input", "list of 1 to 32 patterns"),
        ({"collection": "Not Valid"}, "invalid-name", "invalid collection name"),
        ({"secret": "hunter2"}, "invalid-input", "must start with 'whsec_'"),
        ({"secret": "whsec_" + base64.b64encode(b"short").decode()}, "invalid-input", "24 to 64"),
        ({"secret": "whsec_not base64!"}, "invalid-input", "followed by base64"),
    ],
)
def test_bad_subscriptions_are_refused(
    server: LiveServer, change: dict[str, Any], code: str, detail: str
) -> None:
    with server.client() as client:
        before = client.get("/api/v1/webhooks").json()["items"]
        expect_problem(client.post("/api/v1/webhooks", json={**GOOD, **change}), 400, code, detail)
        assert client.get("/api/v1/webhooks").json()["items"] == before


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        ("GET", "/api/v1/webhooks/" + "0" * 32, "no webhook with id"),
        ("GET", "/api/v1/webhooks/not-an-id", "no webhook with id"),
        ("DELETE", "/api/v1/webhooks/" + "0" * 32, "no webhook with id"),
        ("GET", "/api/v1/webhooks/" + "0" * 32 + "/deliveries", "no webhook with id"),
        ("POST", "/api/v1/webhooks/deliveries/" + "0" * 32 + "/retry", "no webhook delivery"),
    ],
)
def test_unknown_webhooks_are_404(server: LiveServer, method: str, path: str, detail: str) -> None:
    with server.client() as client:
        expect_problem(client.request(method, path), 404, "not-found", detail)


def test_bad_delivery_queries_are_400(server: LiveServer, collection: str) -> None:
    hook = subscribe(server, **GOOD, collection=collection)
    with server.client() as client:
        url = f"/api/v1/webhooks/{hook['id']}/deliveries"
        expect_problem(client.get(url, params={"state": "lost"}), 400, "invalid-input", "dead")
        expect_problem(client.get(url, params={"limit": "0"}), 400, "invalid-input", "limit")
        assert client.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 200


# -- the command line ----------------------------------------------------------------------------


def test_cli_creates_lists_and_deletes(server: LiveServer, collection: str) -> None:
    made = server.cli(
        "webhook", "create", "--url", "https://example.org/n8n", "--event", "file.*",
        "--event", "token.created", "--collection", collection,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = dict(line.split(None, 1) for line in made.stdout.splitlines()[:5])
    assert shown["secret"].startswith("whsec_") and shown["events"] == "file.* token.created"
    listed = server.cli("--json", "webhook", "list")
    mine = [w for w in json.loads(listed.stdout) if w["id"] == shown["id"]]
    assert mine and mine[0]["event_types"] == ["file.*", "token.created"]
    table = server.cli("webhook", "list").stdout
    assert shown["id"] in table and shown["secret"] not in table
    assert server.cli("webhook", "deliveries", shown["id"]).stdout.startswith("ID ")
    gone = server.cli("webhook", "delete", shown["id"])
    assert gone.returncode == 0 and f"deleted webhook {shown['id']}" in gone.stdout
    again = server.cli("webhook", "delete", shown["id"])
    assert again.returncode == 1
    assert again.stderr.startswith("datoferum: error: there is no webhook with id")
    assert len(again.stderr.splitlines()) == 1
    bad = server.cli("webhook", "create", "--url", "gopher://x", "--event", "*")
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1
    assert "http:// or https://" in bad.stderr


# -- in-process: signatures, patterns, timeouts, concurrent senders ------------------------------


def test_verify_signature_rules() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"x"}'
    headers = signed_headers(secret, "msg1", body, now=1_700_000_000)
    verify_signature(secret, headers, body, now=1_700_000_100)
    shouting = {k.upper(): v for k, v in headers.items()}
    two = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    verify_signature(secret, shouting, body, now=1_700_000_000)
    verify_signature(secret, two, body, now=1_700_000_000)
    other = "whsec_" + base64.b64encode(b"j" * 32).decode()
    refusals = {
        "no webhook-signature matches": (other, headers, body, 1_700_000_000),
        "tolerance 300 s": (secret, headers, body, 1_700_000_301),
        "a replay or a wrong clock": (secret, headers, body, 1_699_999_000),
        "are all needed": (secret, {"webhook-id": "msg1"}, body, 1_700_000_000),
        "unix seconds": (secret, {**headers, "webhook-timestamp": "1e9"}, body, 1_700_000_000),
    }
    for reason, (key, given, content, now) in refusals.items():
        with pytest.raises(InvalidSignature, match=reason):
            verify_signature(key, given, content, now=now)
    with pytest.raises(InvalidSignature):
        verify_signature(secret, {**headers, "webhook-id": "msg2"}, body, now=1_700_000_000)


def test_event_type_patterns() -> None:
    assert type_matches("*", "file.purged")
    assert type_matches("file.*", "file.purged") and not type_matches("file.*", "filex.purged")
    assert not type_matches("file.*", "file") and type_matches("file.purged", "file.purged")
    assert check_patterns(["file.*", "file.*", "token.created"]) == ("file.*", "token.created")
    for bad in (["file.**"], ["*file"], [""], [3], ["file.purged "]):
        with pytest.raises(InvalidInput):
            check_patterns(bad)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    migrate.upgrade(catalog)
    yield catalog
    catalog.dispose()


def _events(catalog: Catalog, n: int) -> None:
    with catalog.writing() as conn:
        eventlog.append(conn, [NewEvent("test.ping", "test", details={"n": i}) for i in range(n)])


def _make_due(catalog: Catalog) -> None:
    """Skip the backoff wait."""
    with catalog.writing() as conn:
        conn.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == DeliveryState.PENDING)
            .values(next_attempt_at=utcnow())
        )


def test_timeouts_and_refused_connections_are_retried_then_dead(
    catalog: Catalog, receiver: Receiver
) -> None:
    service = WebhookService(catalog)
    slow, _ = service.create(SYSTEM, url=receiver.url("/slow"), event_types=["test.*"])
    closed, _ = service.create(SYSTEM, url=f"http://127.0.0.1:{free_port()}/", event_types=["*"])
    receiver.control(delay=1.0)
    _events(catalog, 1)
    assert Dispatcher(catalog).run_once() >= 1
    deliverer = Deliverer(catalog, timeout_seconds=0.3, max_attempts=2)
    try:
        assert deliverer.run_once() == 2
        (timed_out,) = service.deliveries(slow.id)
        (refused,) = service.deliveries(closed.id)
        assert timed_out.state == refused.state == DeliveryState.PENDING
        assert timed_out.last_error == "no answer within 0.3 s"
        assert (refused.last_error or "").startswith("ConnectError")
        assert deliverer.run_once() == 0  # backing off
        _make_due(catalog)
        assert deliverer.run_once() == 2
    finally:
        deliverer.close()
    states = {d.state for hook in (slow, closed) for d in service.deliveries(hook.id)}
    assert states == {DeliveryState.DEAD}


def test_parallel_senders_send_each_delivery_once(catalog: Catalog, receiver: Receiver) -> None:
    service = WebhookService(catalog)
    hook, _ = service.create(SYSTEM, url=receiver.url(), event_types=["test.ping"])
    receiver.control(delay=0.05)
    _events(catalog, 40)
    Dispatcher(catalog, batch=7).drain()
    senders = [Deliverer(Catalog(catalog.url), timeout_seconds=5, max_attempts=1) for _ in "ab"]
    threads = [threading.Thread(target=sender.drain) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for sender in senders:
        sender.close()
        sender.catalog.dispose()
    got = receiver.received()
    assert len(got) == 40 and len({r.headers["webhook-id"] for r in got}) == 40
    assert {d.state for d in service.deliveries(hook.id)} == {DeliveryState.DELIVERED}


def test_a_vanished_senders_claims_come_back(catalog: Catalog, receiver: Receiver) -> None:
    """A delivery left ``sending`` by a process that died is sent again once its lease ends,
    unless that was its last attempt."""
    service = WebhookService(catalog)
    hook, _ = service.create(SYSTEM, url=receiver.url(), event_types=["test.ping"])
    _events(catalog, 2)
    Dispatcher(catalog).run_once()
    first, second = service.deliveries(hook.id)
    with catalog.writing() as conn:
        for delivery, attempts in ((first, 1), (second, 2)):
            conn.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .values(state=DeliveryState.SENDING, attempts=attempts, next_attempt_at=utcnow())
            )
    deliverer = Deliverer(catalog, timeout_seconds=5, max_attempts=2)
    try:
        assert deliverer.run_once() == 1
    finally:
        deliverer.close()
    outcome = {d.id: d for d in service.deliveries(hook.id)}
    assert (outcome[first.id].state, outcome[first.id].attempts) == ("delivered", 2)
    assert outcome[second.id].state == "dead"
    assert outcome[second.id].last_error == "the sender stopped during the last attempt"
    assert [r.headers["webhook-id"] for r in receiver.received()] == [first.id]
