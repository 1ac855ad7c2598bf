"""The one error shape: errors from every layer (authentication, roles, routing, names, bodies,
ranges) answer with the same RFC 9457 problem object, tied to the request by its id."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import ADMIN_TOKEN, LiveServer

BASE_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
PREFIX = "urn:datoferum:problem:"
SIX_TIB = 6 * 1024**4  # over the default 5 TiB cap


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    path: str  # the request path, as the client sent it


def via_httpx(response: httpx.Response) -> Answer:
    return Answer(
        response.status_code, dict(response.headers), response.content, response.request.url.path
    )


def declared_too_large(server: LiveServer, collection: str, rid: str) -> Answer:
    """A PUT announcing more bytes than the server accepts; the body is never sent."""
    path = f"/api/v1/data/{collection}/huge.bin"
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nX-Request-Id: {rid}\r\n"
        f"Content-Length: {SIX_TIB}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head.encode())
        data = b""
        while piece := sock.recv(65536):
            data += piece
    head_text, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return Answer(int(status_line.split()[1]), headers, body, path)


Maker = Callable[[LiveServer, dict[str, str], str, str], Answer]


def _get(path: str, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> Maker:
    def make(server: LiveServer, tokens: dict[str, str], collection: str, rid: str) -> Answer:
        headers = {"X-Request-Id": rid, **kwargs.get("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {tokens.get(token, token)}"
        with httpx.Client(base_url=server.url, timeout=30) as client:
            response = client.request(
                kwargs.get("method", "GET"),
                path.format(c=collection),
                headers=headers,
                content=kwargs.get("content"),
                params=kwargs.get("params"),
            )
        return via_httpx(response)

    return make


def _stored(path: str, **kwargs: Any) -> Maker:
    """Like _get, on a collection that holds ``data.bin`` (100 bytes)."""
    inner = _get(path, **kwargs)

    def make(server: LiveServer, tokens: dict[str, str], collection: str, rid: str) -> Answer:
        with server.client() as client:
            stored = client.put(f"/api/v1/data/{collection}/data.bin", content=bytes(100))
            assert stored.status_code == 201
        return inner(server, tokens, collection, rid)

    return make


WRONG_DIGEST = "sha-256=:" + base64.b64encode(bytes(32)).decode() + ":"

CASES: list[tuple[str, Maker, int, str, set[str]]] = [
    ("401-no-token", _get("/api/v1/whoami", token=None), 401, "unauthenticated", set()),
    ("401-unknown-token", _get("/api/v1/files", token="dtf_nope"), 401, "unauthenticated",
     set()),
    ("403-role", _get("/api/v1/data/{c}/x.bin", token="consumer", method="PUT", content=b"x"),
     403, "forbidden", set()),
    ("404-route", _get("/api/v1/no/such/thing"), 404, "not-found", set()),
    ("404-file-id", _get("/api/v1/files/0123456789abcdef0123456789abcdef"), 404, "not-found",
     set()),
    ("404-data", _get("/api/v1/data/{c}/café.txt"), 404, "not-found", set()),
    ("405-method", _get("/api/v1/files", method="DELETE"), 405, "method-not-allowed", set()),
    ("400-collection-name", _get("/api/v1/data/BAD/x.bin", method="PUT", content=b"x"), 400,
     "invalid-name", set()),
    ("400-parameter", _get("/api/v1/files", params={"limit": "0"}), 400, "invalid-input",
     set()),
    ("400-metadata", _get("/api/v1/data/{c}/m.bin", method="PUT", content=b"x",
                          headers={"X-Meta-b!d": "1"}), 400, "invalid-metadata", set()),
    ("400-digest-header", _get("/api/v1/data/{c}/d.bin", method="PUT", content=b"x",
                               headers={"Content-Digest": "sha-256=:AAAA:"}), 400,
     "invalid-digest-header", set()),
    ("400-digest-mismatch", _get("/api/v1/data/{c}/d.bin", method="PUT", content=b"x",
                                 headers={"Content-Digest": WRONG_DIGEST}), 400,
     "digest-mismatch", {"algorithms"}),
    ("413-declared-length", lambda s, _t, c, rid: declared_too_large(s, c, rid), 413,
     "payload-too-large", {"limit"}),
    ("416-range", _stored("/api/v1/data/{c}/data.bin", headers={"Range": "bytes=100-"}), 416,
     "range-not-satisfiable", {"size"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "status", "code", "extras"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_error_has_the_one_shape(
    server: LiveServer,
    role_tokens: dict[str, str],
    collection: str,
    make: Maker,
    status: int,
    code: str,
    extras: set[str],
) -> None:
    rid = "shape-" + uuid.uuid4().hex
    answer = make(server, role_tokens, collection, rid)
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    problem = json.loads(answer.body.decode("utf-8"))
    assert set(problem) == BASE_KEYS | extras
    assert problem["type"] == PREFIX + code
    assert problem["status"] == answer.status
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and len(problem["detail"]) > 15
    assert problem["instance"] == answer.path
    assert problem["request_id"] == rid == answer.headers["x-request-id"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
    if status == 405:
        assert answer.headers["allow"]
    if "limit" in extras:
        assert problem["limit"] == 5 * 1024**4
        assert str(SIX_TIB) in problem["detail"]
    if "size" in extras:
        assert problem["size"] == 100
        assert answer.headers["content-range"] == "bytes */100"
    if "algorithms" in extras:
        assert problem["algorithms"] == ["sha256"]


def test_titles_belong_to_types(server: LiveServer, role_tokens: dict[str, str]) -> None:
    """One type, one title: the same kind of error is named the same way wherever it arises."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        anonymous = client.get("/api/v1/whoami").json()
        unknown = client.get("/api/v1/files", headers={"Authorization": "Bearer x"}).json()
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        route = client.get("/api/v1/nowhere", headers=admin).json()
        file = client.get("/api/v1/files/" + "0" * 32, headers=admin).json()
    assert anonymous["type"] == unknown["type"] and anonymous["title"] == unknown["title"]
    assert route["type"] == file["type"] and route["title"] == file["title"]


def test_the_server_makes_up_a_request_id_when_the_client_gives_a_bad_one(
    server: LiveServer,
) -> None:
    for given in ("", "has spaces", "x" * 65, "ünïcode"):
        headers = {b"X-Request-Id": given.encode()} if given else {}
        answer = httpx.get(server.url + "/api/v1/whoami", headers=headers, timeout=30)
        problem = answer.json()
        assert problem["request_id"] == answer.headers["x-request-id"]
        assert problem["request_id"] != given
        assert 1 <= len(problem["request_id"]) <= 64


def test_request_id_is_echoed_on_success_too(server: LiveServer) -> None:
    rid = "shape-" + uuid.uuid4().hex
    answer = httpx.get(
        server.url + "/api/v1/whoami",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-Id": rid},
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == rid
