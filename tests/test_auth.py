"""Authentication and authorization: who may call what, and how a bad token is refused.

Every endpoint except ``/healthz``, ``/readyz``, ``/openapi.json`` and pick-and-go link downloads
(``/l/{secret}``, where the secret is the credential) needs a bearer token; the role of the token
decides what it may do. Secrets are kept only as hashes and never logged.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from conftest import ADMIN_TOKEN, LiveServer

ROLES = ("admin", "producer", "consumer", "auditor")
EVERYONE = frozenset(ROLES)
PUBLIC = ("/healthz", "/readyz", "/openapi.json")
#: Public too, but the address itself is the credential (tested in test_links.py).
PUBLIC_BY_SECRET = ("/l/{secret}",)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    url: str  # may hold {collection}, {file_id} and {role}
    template: str  # as documented in /openapi.json ("" if undocumented)
    roles: frozenset[str]  # who may call it
    ok: int  # the status a permitted caller gets
    json: dict[str, Any] | None = None


DATA = "/api/v1/data/{collection}/{path}"
READERS = frozenset({"admin", "auditor"})
LAKE = frozenset({"admin", "consumer", "auditor"})
ENDPOINTS = [
    Endpoint("put-data", "PUT", "/api/v1/data/{collection}/by-{role}.bin", DATA,
             frozenset({"admin", "producer"}), 201),
    Endpoint("put-without-path", "PUT", "/api/v1/data/{collection}", "",
             frozenset({"admin", "producer"}), 400),
    Endpoint("get-data", "GET", "/api/v1/data/{collection}/shared.bin", DATA,
             frozenset({"admin", "consumer"}), 200),
    Endpoint("head-data", "HEAD", "/api/v1/data/{collection}/shared.bin", DATA,
             frozenset({"admin", "consumer"}), 200),
    Endpoint("list-files", "GET", "/api/v1/files?collection={collection}", "/api/v1/files",
             EVERYONE, 200),
    Endpoint("get-file", "GET", "/api/v1/files/{file_id}", "/api/v1/files/{file_id}",
             EVERYONE, 200),
    Endpoint("file-events", "GET", "/api/v1/files/{file_id}/events",
             "/api/v1/files/{file_id}/events", frozenset({"admin", "auditor"}), 200),
    Endpoint("events", "GET", "/api/v1/events?limit=5", "/api/v1/events",
             frozenset({"admin", "auditor"}), 200),
    Endpoint("audit-verify", "GET", "/api/v1/audit/verify", "/api/v1/audit/verify",
             frozenset({"admin", "auditor"}), 200),
    Endpoint("list-tokens", "GET", "/api/v1/tokens", "/api/v1/tokens", frozenset({"admin"}), 200),
    Endpoint("create-token", "POST", "/api/v1/tokens", "/api/v1/tokens", frozenset({"admin"}),
             201, {"name": "made in the role matrix", "role": "consumer"}),
    Endpoint("revoke-token", "DELETE", "/api/v1/tokens/000000000000",
             "/api/v1/tokens/{token_id}", frozenset({"admin"}), 404),
    Endpoint("whoami", "GET", "/api/v1/whoami", "/api/v1/whoami", EVERYONE, 200),
    Endpoint("list-jobs", "GET", "/api/v1/jobs", "/api/v1/jobs", READERS, 200),
    Endpoint("get-job", "GET", "/api/v1/jobs/" + "0" * 32, "/api/v1/jobs/{job_id}", READERS, 404),
    Endpoint("cancel-job", "POST", "/api/v1/jobs/" + "0" * 32 + "/cancel",
             "/api/v1/jobs/{job_id}/cancel", frozenset({"admin"}), 404),
    Endpoint("queue", "GET", "/api/v1/queue", "/api/v1/queue", READERS, 200),
    Endpoint("stats", "GET", "/api/v1/stats", "/api/v1/stats", EVERYONE, 200),
    Endpoint("activity", "GET", "/api/v1/stats/activity?days=7", "/api/v1/stats/activity",
             EVERYONE, 200),
    # A permitted caller would get an endless stream; a bad ``after`` ends it at a 400.
    Endpoint("event-stream", "GET", "/api/v1/events/stream?after=soon", "/api/v1/events/stream",
             frozenset({"admin", "auditor"}), 400),
    Endpoint("list-webhooks", "GET", "/api/v1/webhooks", "/api/v1/webhooks",
             frozenset({"admin"}), 200),
    Endpoint("create-webhook", "POST", "/api/v1/webhooks", "/api/v1/webhooks",
             frozenset({"admin"}), 201,
             {"url": "http://127.0.0.1:9/matrix", "event_types": ["file.purged"],
              "collection": "{collection}-hooked"}),
    Endpoint("get-webhook", "GET", "/api/v1/webhooks/" + "0" * 32,
             "/api/v1/webhooks/{webhook_id}", frozenset({"admin"}), 404),
    Endpoint("delete-webhook", "DELETE", "/api/v1/webhooks/" + "0" * 32,
             "/api/v1/webhooks/{webhook_id}", frozenset({"admin"}), 404),
    Endpoint("webhook-deliveries", "GET", "/api/v1/webhooks/" + "0" * 32 + "/deliveries",
             "/api/v1/webhooks/{webhook_id}/deliveries", frozenset({"admin"}), 404),
    Endpoint("retry-webhook-delivery", "POST",
             "/api/v1/webhooks/deliveries/" + "0" * 32 + "/retry",
             "/api/v1/webhooks/deliveries/{delivery_id}/retry", frozenset({"admin"}), 404),
    Endpoint("public-key", "GET", "/api/v1/keys", "/api/v1/keys", EVERYONE, 200),
    Endpoint("get-certificate", "GET", "/api/v1/certificates/" + "0" * 32,
             "/api/v1/certificates/{certificate_id}", READERS, 404),
    Endpoint("file-certificates", "GET", "/api/v1/files/{file_id}/certificates",
             "/api/v1/files/{file_id}/certificates", READERS, 200),
    Endpoint("list-holds", "GET", "/api/v1/holds", "/api/v1/holds", READERS, 200),
    Endpoint("place-hold", "POST", "/api/v1/holds", "/api/v1/holds", frozenset({"admin"}), 201,
             {"scope": "collection", "target": "{collection}-held", "reason": "matrix",
              "owner": "matrix-{role}"}),
    Endpoint("get-hold", "GET", "/api/v1/holds/" + "0" * 32, "/api/v1/holds/{hold_id}",
             READERS, 404),
    Endpoint("release-hold", "POST", "/api/v1/holds/" + "0" * 32 + "/release",
             "/api/v1/holds/{hold_id}/release", frozenset({"admin"}), 404, {"reason": "matrix"}),
    Endpoint("send-signal", "POST", "/api/v1/files/{file_id}/signals",
             "/api/v1/files/{file_id}/signals", frozenset({"admin", "producer", "consumer"}), 201,
             {"name": "matrix"}),
    Endpoint("file-signals", "GET", "/api/v1/files/{file_id}/signals",
             "/api/v1/files/{file_id}/signals", EVERYONE, 200),
    Endpoint("retention", "POST", "/api/v1/files/" + "0" * 32 + "/retention",
             "/api/v1/files/{file_id}/retention", frozenset({"admin"}), 404,
             {"version": 1, "retain_until": "2031-01-01T00:00:00Z", "reason": "matrix"}),
    Endpoint("list-policies", "GET", "/api/v1/policies", "/api/v1/policies", READERS, 200),
    Endpoint("apply-policies", "POST", "/api/v1/policies", "/api/v1/policies",
             frozenset({"admin"}), 400, {"not": "yaml policies"}),
    Endpoint("policy-history", "GET", "/api/v1/policies/none", "/api/v1/policies/{name}",
             READERS, 404),
    Endpoint("delete-policy", "DELETE", "/api/v1/policies/none", "/api/v1/policies/{name}",
             frozenset({"admin"}), 404),
    Endpoint("run-policy", "POST", "/api/v1/policies/none/run", "/api/v1/policies/{name}/run",
             frozenset({"admin"}), 404, {"dry_run": True}),
    Endpoint("bulk-signals", "POST", "/api/v1/signals", "/api/v1/signals", frozenset({"admin"}),
             200, {"name": "matrix", "query": [{"collection": "{collection}"}], "dry_run": True}),
    Endpoint("reclassify", "POST", "/api/v1/classify", "/api/v1/classify", frozenset({"admin"}),
             202, {"query": [{"collection": "{collection}"}]}),
    Endpoint("create-link", "POST", "/api/v1/files/{file_id}/links",
             "/api/v1/files/{file_id}/links", frozenset({"admin", "consumer"}), 201,
             {"max_picks": 1}),
    Endpoint("list-links", "GET", "/api/v1/files/{file_id}/links",
             "/api/v1/files/{file_id}/links", frozenset({"admin", "consumer", "auditor"}), 200),
    Endpoint("all-links", "GET", "/api/v1/links", "/api/v1/links",
             frozenset({"admin", "consumer", "auditor"}), 200),
    Endpoint("revoke-link", "DELETE", "/api/v1/links/" + "0" * 32, "/api/v1/links/{link_id}",
             frozenset({"admin", "consumer"}), 404),
    Endpoint("purge", "POST", "/api/v1/files/" + "0" * 32 + "/purge",
             "/api/v1/files/{file_id}/purge", frozenset({"admin"}), 404, {"reason": "matrix"}),
    Endpoint("erasure", "POST", "/api/v1/erasure", "/api/v1/erasure", frozenset({"admin"}), 200,
             {"value": "matrix-{role}", "reason": "matrix"}),
    Endpoint("list-erasure", "GET", "/api/v1/erasure", "/api/v1/erasure", frozenset({"admin"}),
             200),
    Endpoint("get-erasure", "GET", "/api/v1/erasure/" + "0" * 32, "/api/v1/erasure/{request_id}",
             frozenset({"admin"}), 404),
    Endpoint("storage-layout", "GET", "/api/v1/storage", "/api/v1/storage", READERS, 200),
    Endpoint("scrub", "POST", "/api/v1/storage/scrub", "/api/v1/storage/scrub",
             frozenset({"admin"}), 202),
    Endpoint("storage-report", "POST", "/api/v1/storage/report", "/api/v1/storage/report",
             frozenset({"admin"}), 404, {"backend": "no-such-backend"}),
    # OTLP/JSON export requests without items: accepted, and nothing to store.
    *(Endpoint(f"otlp-{signal}", "POST", f"/v1/{signal}", f"/v1/{signal}",
               frozenset({"admin", "producer"}), 200, {root: []})
      for signal, root in (("traces", "resourceSpans"), ("metrics", "resourceMetrics"),
                           ("logs", "resourceLogs"))),
    Endpoint("lake-normalize", "POST", "/api/v1/lake/normalize", "/api/v1/lake/normalize",
             frozenset({"admin"}), 202, {"file_id": "{file_id}"}),
    Endpoint("lake-storage-cost", "POST", "/api/v1/lake/storage-cost",
             "/api/v1/lake/storage-cost", frozenset({"admin"}), 202, {"day": "2024-01-01"}),
    Endpoint("lake-partitions", "GET", "/api/v1/lake/partitions", "/api/v1/lake/partitions",
             LAKE, 200),
    Endpoint("lake-cost", "GET", "/api/v1/lake/cost?group_by=ServiceName", "/api/v1/lake/cost",
             LAKE, 200),
    Endpoint("lake-top", "GET", "/api/v1/lake/cost/top?by=ServiceName", "/api/v1/lake/cost/top",
             LAKE, 200),
    Endpoint("lake-sql", "POST", "/api/v1/lake/sql", "/api/v1/lake/sql", LAKE, 200,
             {"sql": "SELECT 1"}),
]  # fmt: skip
ENDPOINT_IDS = [e.name for e in ENDPOINTS]
BY_NAME = {e.name: e for e in ENDPOINTS}


@pytest.fixture(scope="module")
def place(server: LiveServer) -> dict[str, str]:
    """A collection holding one file every role can be pointed at."""
    collection = "auth-" + uuid.uuid4().hex[:12]
    with server.client() as client:
        answer = client.put(f"/api/v1/data/{collection}/shared.bin", content=b"shared bytes")
        assert answer.status_code == 201, answer.text
    return {"collection": collection, "file_id": answer.json()["id"]}


def _filled(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every string's {placeholders} filled, however deep."""
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {key: _filled(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, names) for item in value]
    return value


def call(
    server: LiveServer,
    endpoint: Endpoint,
    place: dict[str, str],
    authorization: str | None,
    *,
    role: str = "anonymous",
    request_id: str | None = None,
) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    if request_id:
        headers["X-Request-Id"] = request_id
    url = endpoint.url.format(role=role, **place)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        if endpoint.method == "PUT":
            return client.put(url, content=b"bytes from " + role.encode(), headers=headers)
        body = _filled(endpoint.json, {"role": role, **place})
        return client.request(endpoint.method, url, json=body, headers=headers)


def expect_problem(answer: httpx.Response, status: int, code: str, detail: str) -> None:
    assert answer.status_code == status, answer.text
    if answer.request.method == "HEAD":
        return  # no body to look at
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == f"urn:datoferum:problem:{code}"
    assert problem["status"] == status
    assert detail in problem["detail"], problem["detail"]


def events_of(client: httpx.Client, correlation_id: str) -> list[dict[str, Any]]:
    """Every event a request caused, found by its correlation id."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/api/v1/events", params={"after": after, "limit": 10000}).json()
        found += [e for e in page["items"] if e["correlation_id"] == correlation_id]
        if page["next_after"] is None:
            return found
        after = page["next_after"]


def create_token(server: LiveServer, role: str, **extra: Any) -> dict[str, Any]:
    with server.client() as client:
        answer = client.post("/api/v1/tokens", json={"name": f"auth {role}", "role": role, **extra})
    assert answer.status_code == 201, answer.text
    token: dict[str, Any] = answer.json()
    return token


def revoke(server: LiveServer, token_id: str) -> httpx.Response:
    with server.client() as client:
        return client.delete(f"/api/v1/tokens/{token_id}")


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def wait_until_expired(token: dict[str, Any]) -> None:
    remaining = parse_time(token["expires_at"]) - time.time()
    time.sleep(max(0.0, remaining) + 0.2)


@pytest.fixture(scope="module")
def dead_tokens(server: LiveServer, place: dict[str, str]) -> dict[str, str]:
    """A revoked token (used first, so it was cached) and an expired one."""
    revoked = create_token(server, "admin")
    whoami = BY_NAME["whoami"]
    assert call(server, whoami, place, f"Bearer {revoked['token']}").status_code == 200
    assert revoke(server, revoked["id"]).status_code == 200
    expired = create_token(server, "admin", expires_in_days=1e-5)  # about 0.9 s
    wait_until_expired(expired)
    return {"revoked": revoked["token"], "expired": expired["token"]}


# -- a token is needed --------------------------------------------------------------------------

BAD_CREDENTIALS = {
    "missing": (None, "this endpoint needs a token"),
    "basic-scheme": ("Basic YWRtaW46c2VjcmV0", "must have the form 'Bearer <token>'"),
    "token-scheme": (f"Token {ADMIN_TOKEN}", "must have the form 'Bearer <token>'"),
    "no-scheme": (ADMIN_TOKEN, "must have the form 'Bearer <token>'"),
    "empty-bearer": ("Bearer", "must have the form 'Bearer <token>'"),
    "unknown": ("Bearer dtf_" + "x" * 43, "the bearer token is not valid"),
    "almost-admin": ("Bearer " + ADMIN_TOKEN[:-1] + "1", "the bearer token is not valid"),
    "revoked": ("revoked", "the bearer token was revoked at"),
    "expired": ("expired", "the bearer token expired at"),
}


@pytest.mark.parametrize("kind", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_bad_credentials_get_401(
    server: LiveServer,
    place: dict[str, str],
    dead_tokens: dict[str, str],
    endpoint: Endpoint,
    kind: str,
) -> None:
    authorization, detail = BAD_CREDENTIALS[kind]
    if authorization in dead_tokens:
        authorization = f"Bearer {dead_tokens[authorization]}"
    answer = call(server, endpoint, place, authorization, role=f"anon-{kind}")
    expect_problem(answer, 401, "unauthenticated", detail)
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_nothing_was_done_for_unauthenticated_callers(
    server: LiveServer, place: dict[str, str]
) -> None:
    rid = "auth-" + uuid.uuid4().hex
    put, get = BY_NAME["put-data"], BY_NAME["get-data"]
    assert call(server, put, place, None, role="nobody", request_id=rid).status_code == 401
    assert call(server, get, place, None, request_id=rid).status_code == 401
    with server.client() as client:
        assert client.get(put.url.format(role="nobody", **place)).status_code == 404
        assert not events_of(client, rid)


@pytest.mark.parametrize("path", PUBLIC)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"], ids=["none", "bad"])
def test_public_endpoints_need_no_token(
    server: LiveServer, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = httpx.get(server.url + path, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"


def test_the_matrix_covers_every_documented_endpoint(server: LiveServer) -> None:
    """If the API grows an endpoint, this suite must learn who may call it."""
    document = httpx.get(server.url + "/openapi.json", timeout=30).json()
    documented = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in PUBLIC or path in PUBLIC_BY_SECRET:
                assert operation.get("security") == [], (method, path)
                continue
            assert operation.get("security") != [], f"{method} {path} claims to be public"
            documented.add((method.upper(), path))
    assert document["security"] == [{"bearer": []}]
    covered = {(e.method, e.template) for e in ENDPOINTS if e.template}
    assert covered == documented


def test_bearer_scheme_is_case_insensitive(server: LiveServer) -> None:
    answer = httpx.get(
        server.url + "/api/v1/whoami", headers={"Authorization": f"bearer {ADMIN_TOKEN}"}
    )
    assert answer.status_code == 200
    assert answer.json()["role"] == "admin"


# -- revocation and expiry ----------------------------------------------------------------------


def test_revocation_takes_effect_at_once(server: LiveServer, place: dict[str, str]) -> None:
    token = create_token(server, "consumer")
    bearer = f"Bearer {token['token']}"
    whoami, get = BY_NAME["whoami"], BY_NAME["get-data"]
    for _ in range(2):  # the second answer comes from the token cache
        assert call(server, whoami, place, bearer).status_code == 200
    assert call(server, get, place, bearer).status_code == 200
    revoked = revoke(server, token["id"])
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    for endpoint in (whoami, get):
        expect_problem(call(server, endpoint, place, bearer), 401, "unauthenticated", "revoked at")
    with server.client() as client:
        listed = {t["id"]: t for t in client.get("/api/v1/tokens").json()["items"]}
        assert listed[token["id"]]["revoked_at"] == revoked.json()["revoked_at"]
        events = client.get("/api/v1/events", params={"type": "token.revoked"}).json()["items"]
    assert any(e["details"]["token"] == token["id"] for e in events)


def test_revoking_an_unknown_token_is_404(server: LiveServer) -> None:
    expect_problem(revoke(server, "ffffffffffff"), 404, "not-found", "no token with id")


def test_expired_token_is_refused(server: LiveServer) -> None:
    token = create_token(server, "auditor", expires_in_days=1e-5)
    assert token["expires_at"] is not None
    assert 0 < parse_time(token["expires_at"]) - parse_time(token["created_at"]) < 2
    wait_until_expired(token)
    answer = httpx.get(
        server.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {token['token']}"}
    )
    expect_problem(answer, 401, "unauthenticated", f"expired at {token['expires_at']}")
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_cached_token_stops_working_when_it_expires(server: LiveServer) -> None:
    token = create_token(server, "auditor", expires_in_days=0.8 / 86400)
    headers = {"Authorization": f"Bearer {token['token']}"}
    first = httpx.get(server.url + "/api/v1/whoami", headers=headers)
    assert first.status_code == 200  # authenticated, and now cached for 2 s
    wait_until_expired(token)
    later = httpx.get(server.url + "/api/v1/whoami", headers=headers)
    assert later.status_code == 401


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": "x", "role": "root"}, "unknown role 'root'"),
        ({"name": "x"}, 'give "name" and "role"'),
        ({"name": "", "role": "admin"}, "1 to 128 printable characters"),
        ({"name": "x", "role": "admin", "expires_in_days": 0}, "above 0"),
        ({"name": "x", "role": "admin", "expires_in_days": -1}, "above 0"),
        ({"name": "x", "role": "admin", "expires_in_days": "7"}, "must be a number of days"),
        ({"name": "x", "role": "admin", "expires_in_days": True}, "must be a number of days"),
    ],
)
def test_bad_token_requests_are_400(server: LiveServer, body: dict[str, Any], detail: str) -> None:
    with server.client() as client:
        before = len(client.get("/api/v1/tokens").json()["items"])
        expect_problem(client.post("/api/v1/tokens", json=body), 400, "invalid-input", detail)
        assert len(client.get("/api/v1/tokens").json()["items"]) == before


@pytest.mark.parametrize("days", ["1e10", "3000000", "NaN", "Infinity"])
def test_unrepresentable_token_lifetimes_are_400(server: LiveServer, days: str) -> None:
    body = f'{{"name": "x", "role": "consumer", "expires_in_days": {days}}}'
    with server.client() as client:
        answer = client.post(
            "/api/v1/tokens", content=body, headers={"Content-Type": "application/json"}
        )
    expect_problem(answer, 400, "invalid-input", "expires_in_days")


# -- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_role_matrix(
    server: LiveServer,
    role_tokens: dict[str, str],
    place: dict[str, str],
    endpoint: Endpoint,
    role: str,
) -> None:
    rid = "auth-" + uuid.uuid4().hex
    answer = call(server, endpoint, place, f"Bearer {role_tokens[role]}", role=role, request_id=rid)
    if role in endpoint.roles:
        assert answer.status_code == endpoint.ok, answer.text
        if endpoint.name == "whoami":
            assert answer.json()["role"] == role
        return
    expect_problem(answer, 403, "forbidden", f"the {role} role may not")
    if endpoint.method != "HEAD":
        allowed = answer.json()["detail"].split("roles that may:")[1]
        assert {r.strip(" )") for r in allowed.split(",")} == set(endpoint.roles)
    # A refused call leaves no trace but its answer.
    with server.client() as client:
        if endpoint.method == "PUT" and endpoint.ok == 201:
            url = endpoint.url.format(role=role, **place)
            assert client.get(url).status_code == 404
        events = client.get(f"/api/v1/files/{place['file_id']}/events").json()["items"]
    assert not [e for e in events if e["correlation_id"] == rid]


def test_producer_cannot_read_back_what_it_wrote(
    server: LiveServer, role_tokens: dict[str, str], collection: str
) -> None:
    url = f"{server.url}/api/v1/data/{collection}/mine.bin"
    producer = {"Authorization": f"Bearer {role_tokens['producer']}"}
    assert httpx.put(url, content=b"secret", headers=producer).status_code == 201
    expect_problem(httpx.get(url, headers=producer), 403, "forbidden", "download file contents")
    consumer = {"Authorization": f"Bearer {role_tokens['consumer']}"}
    assert httpx.get(url, headers=consumer).content == b"secret"


# -- secrets stay secret ------------------------------------------------------------------------


def _secrets(role_tokens: dict[str, str], dead_tokens: dict[str, str]) -> list[str]:
    return [ADMIN_TOKEN, *role_tokens.values(), *dead_tokens.values()]


def test_tokens_are_stored_only_as_hashes(
    server: LiveServer, role_tokens: dict[str, str], dead_tokens: dict[str, str]
) -> None:
    secrets = _secrets(role_tokens, dead_tokens)
    uri = f"file:{server.home / 'catalog.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM tokens")]
    assert len(rows) >= len(secrets)
    hashes = {row["secret_hash"] for row in rows}
    for secret in secrets:
        assert hashlib.sha256(secret.encode()).hexdigest() in hashes
        for row in rows:
            assert not any(secret in str(value) for value in row.values()), row["id"]
    files = list(server.home.glob("catalog.db*"))
    assert server.home / "catalog.db" in files
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a token secret is in {path.name}"


def test_no_secret_reaches_the_server_log(
    server: LiveServer,
    role_tokens: dict[str, str],
    dead_tokens: dict[str, str],
    place: dict[str, str],
) -> None:
    stranger = "dtf_" + uuid.uuid4().hex
    for secret in [*_secrets(role_tokens, dead_tokens), stranger]:
        for endpoint in (BY_NAME["get-data"], BY_NAME["whoami"]):
            call(server, endpoint, place, f"Bearer {secret}")
    log = server.log.read_bytes()
    assert b"Datoferum listening on" in log  # the right file
    for secret in [*_secrets(role_tokens, dead_tokens), stranger]:
        assert secret.encode() not in log
