"""Nasty input: each case gets an RFC 9457 problem saying what to fix, and leaves nothing behind.

"Nothing behind" means: no new file under the storage root (``<home>/objects``, which holds both
``objects/`` and ``staging/``), no new catalog row, and nothing in the collection's listing.
Requests whose URL a client library would normalize are sent over raw sockets.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from conftest import ADMIN_TOKEN, LiveServer

PROBLEM = "application/problem+json"
PREFIX = "urn:datoferum:problem:"
CAP = 1000  # DATOFERUM_MAX_UPLOAD_BYTES of the capped server
CATALOG_TABLES = ("collections", "files", "versions", "replicas")
# Past the server's 1 MiB upload buffer (so bytes are written before the cap is noticed), yet
# short of a second buffer, so the server has read the whole body before it answers.
ONE_AND_A_HALF_MIB = 1536 * 1024

T = TypeVar("T")


# -- raw HTTP -----------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def new_request_id() -> str:
    return "test-" + uuid.uuid4().hex


def request_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket) -> RawResponse:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"no complete HTTP response: {data[:500]!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def exchange(server: LiveServer, request: bytes, timeout: float = 15.0) -> RawResponse:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock)


def raw(
    server: LiveServer,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """Send ``target`` exactly as written (no normalization), with the admin token."""
    sent = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-Id": new_request_id()}
    if method in ("PUT", "POST") or body:
        sent["Content-Length"] = str(len(body))
    sent.update(headers or {})
    return exchange(server, request_head(method, target, sent) + body)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# -- problem checks -----------------------------------------------------------------------------


def check_problem(
    status: int, headers: Any, body: bytes, expected: int, code: str | None, detail: str
) -> dict[str, Any]:
    """Assert an RFC 9457 answer with ``expected`` status whose detail contains ``detail``."""
    assert status == expected, body[:500]
    assert headers["content-type"] == PROBLEM
    problem = json.loads(body)
    assert isinstance(problem, dict)
    for key in ("type", "title", "status", "detail"):
        assert key in problem, problem
    assert problem["status"] == expected
    assert problem["type"].startswith(PREFIX)
    if code is not None:
        assert problem["type"] == PREFIX + code, problem
    assert isinstance(problem["title"], str) and problem["title"].strip()
    assert isinstance(problem["detail"], str)
    assert detail in problem["detail"], problem["detail"]
    return problem


def problem_of(
    answer: RawResponse | httpx.Response, expected: int, code: str | None = None, detail: str = ""
) -> dict[str, Any]:
    body = answer.body if isinstance(answer, RawResponse) else answer.content
    status = answer.status if isinstance(answer, RawResponse) else answer.status_code
    return check_problem(status, answer.headers, body, expected, code, detail)


# -- what a request leaves behind ---------------------------------------------------------------


@dataclass(frozen=True)
class Footprint:
    files: frozenset[Path]
    rows: dict[str, int]


def footprint(server: LiveServer) -> Footprint:
    root = server.home / "objects"
    files = frozenset(p for p in root.rglob("*") if p.is_file())
    uri = f"file:{server.home / 'catalog.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CATALOG_TABLES}
    return Footprint(files, rows)


def staged(server: LiveServer) -> set[Path]:
    return set((server.home / "objects" / "staging").rglob("*.part"))


def wait_for(probe: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_nothing_kept(
    server: LiveServer, before: Footprint, collection: str | None = None, timeout: float = 0.0
) -> None:
    def clean() -> bool:
        after = footprint(server)
        return not (after.files - before.files) and after.rows == before.rows

    if not clean() and timeout:
        wait_for(clean, timeout, "the server to clean up")
    after = footprint(server)
    assert sorted(after.files - before.files) == [], "stray files left in storage"
    assert after.rows == before.rows, "catalog rows were created"
    assert (server.home / "objects" / "objects").is_dir()
    assert (server.home / "objects" / "staging").is_dir()
    if collection is not None:
        with server.client() as client:
            listing = client.get("/api/v1/files", params={"collection": collection})
            assert listing.status_code == 200, listing.text
            assert listing.json()["items"] == []


def events_of(client: httpx.Client, kind: str, correlation_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = client.get("/api/v1/events", params={"type": kind, "after": after})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += [e for e in page["items"] if e["correlation_id"] == correlation_id]
        if page["next_after"] is None:
            return found
        after = page["next_after"]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that accepts at most CAP bytes per file."""
    home = tmp_path_factory.mktemp("capped") / "home"
    live = LiveServer(home, DATOFERUM_MAX_UPLOAD_BYTES=str(CAP)).start()
    yield live
    live.stop()


# -- names --------------------------------------------------------------------------------------

LONG_PATH = "/".join(["a" * 200] * 5) + "/" + "b" * 20  # 1025 bytes, every segment short

BAD_PATHS = [
    pytest.param("../etc/passwd", "contains ..", id="dotdot"),
    pytest.param("a/../../x", "contains ..", id="dotdot-inner"),
    pytest.param("%2e%2e/x", "contains ..", id="dotdot-encoded"),
    pytest.param("a/%2E%2E/%2e%2E/etc/passwd", "contains ..", id="dotdot-encoded-upper"),
    pytest.param("./x", "contains .:", id="dot"),
    pytest.param("/etc/passwd", "absolute paths are not allowed", id="absolute"),
    pytest.param("%2fetc/passwd", "absolute paths are not allowed", id="absolute-encoded"),
    pytest.param("a\\b", "backslashes are not allowed", id="backslash"),
    pytest.param("a%5cb", "backslashes are not allowed", id="backslash-encoded"),
    pytest.param("..%5c..%5cwin.ini", "backslashes are not allowed", id="backslash-dotdot"),
    pytest.param("a%00b", "U+0000", id="nul"),
    pytest.param("x.txt%00.jpg", "U+0000", id="nul-extension"),
    pytest.param("a%0db", "U+000D", id="carriage-return"),
    pytest.param("a%09b", "U+0009", id="tab"),
    pytest.param("a%1bb", "U+001B", id="escape"),
    pytest.param("a%7fb", "U+007F", id="delete"),
    pytest.param("a%c2%85b", "U+0085", id="next-line"),
    pytest.param("a%e2%80%8bb", "U+200B", id="zero-width-space"),
    pytest.param("evil%e2%80%aetxt.exe", "U+202E", id="bidi-override"),
    pytest.param("a%e2%80%a8b", "U+2028", id="line-separator"),
    pytest.param("a/", "an empty segment", id="trailing-slash"),
    pytest.param("a//b", "an empty segment", id="double-slash"),
    pytest.param(LONG_PATH, "longer than 1024 bytes", id="path-over-1024-bytes"),
    pytest.param("b" * 256, "longer than 255 bytes", id="segment-over-255-bytes"),
    pytest.param("%c3%a9" * 128, "longer than 255 bytes", id="segment-over-255-utf8-bytes"),
]


@pytest.mark.parametrize(("path", "detail"), BAD_PATHS)
def test_bad_path_is_refused_and_leaves_nothing(
    server: LiveServer, collection: str, path: str, detail: str
) -> None:
    before = footprint(server)
    target = f"/api/v1/data/{collection}/{path}"
    answer = raw(server, "PUT", target, b"payload")
    problem = problem_of(answer, 400, "invalid-name", detail)
    assert problem["request_id"] == answer.headers["x-request-id"]
    assert_nothing_kept(server, before, collection)
    fetched = raw(server, "GET", target)
    assert fetched.status in (400, 404), fetched.body
    problem_of(fetched, fetched.status)


def test_newline_in_path_is_refused_and_leaves_nothing(server: LiveServer, collection: str) -> None:
    before = footprint(server)
    answer = raw(server, "PUT", f"/api/v1/data/{collection}/a%0ab", b"payload")
    assert 400 <= answer.status < 500
    problem_of(answer, answer.status)
    assert_nothing_kept(server, before, collection)


def test_newline_in_path_is_named_as_the_problem(server: LiveServer, collection: str) -> None:
    answer = raw(server, "PUT", f"/api/v1/data/{collection}/a%0ab", b"payload")
    problem_of(answer, 400, "invalid-name", "U+000A")


def test_path_that_is_not_utf8_is_refused(server: LiveServer, collection: str) -> None:
    first = raw(server, "PUT", f"/api/v1/data/{collection}/a%ffb", b"one")
    second = raw(server, "PUT", f"/api/v1/data/{collection}/a%feb", b"two")
    assert (first.status, second.status) == (400, 400), (first.body, second.body)


@pytest.mark.parametrize("target", ["{c}", "{c}/"], ids=["no-slash", "slash"])
def test_missing_path_is_refused(server: LiveServer, collection: str, target: str) -> None:
    before = footprint(server)
    answer = raw(server, "PUT", "/api/v1/data/" + target.format(c=collection), b"payload")
    problem = problem_of(answer, 400, "invalid-name", "give a file path after the collection")
    assert collection in problem["detail"]
    assert_nothing_kept(server, before, collection)


BAD_COLLECTIONS = [
    pytest.param("Photos", id="uppercase"),
    pytest.param("-x", id="leading-dash"),
    pytest.param(".x", id="leading-dot"),
    pytest.param("_x", id="leading-underscore"),
    pytest.param("c" * 64, id="too-long"),
    pytest.param("..", id="dotdot"),
    pytest.param("%2e%2e", id="dotdot-encoded"),
    pytest.param("a%20b", id="space"),
    pytest.param("caf%c3%a9", id="non-ascii"),
    pytest.param("a%00", id="nul"),
]


@pytest.mark.parametrize("name", BAD_COLLECTIONS)
def test_bad_collection_is_refused_and_leaves_nothing(server: LiveServer, name: str) -> None:
    before = footprint(server)
    answer = raw(server, "PUT", f"/api/v1/data/{name}/file.txt", b"payload")
    problem_of(answer, 400, "invalid-name", "invalid collection name")
    assert_nothing_kept(server, before)


def test_names_at_the_limits_are_accepted(server: LiveServer, collection: str) -> None:
    """The limits are where they are documented: 63-char collections, 255-byte segments,
    1024-byte paths (counted in UTF-8 bytes, not characters)."""
    longest = (collection + "-" + "c" * 63)[:63]
    segment = "é" * 127 + "a"  # 255 bytes
    path = "/".join(["a" * 200] * 5) + "/" + "b" * 19  # 1024 bytes
    assert len(segment.encode()) == 255 and len(path.encode()) == 1024
    with server.client() as client:
        for coll, name in ((longest, "x"), (collection, segment), (collection, path)):
            answer = client.put(f"/api/v1/data/{coll}/{name}", content=name.encode())
            assert answer.status_code == 201, answer.text
            assert answer.json()["path"] == name
            assert client.get(f"/api/v1/data/{coll}/{name}").content == name.encode()


# -- metadata -----------------------------------------------------------------------------------

BAD_METADATA = [
    pytest.param({"X-Meta-b!d": "1"}, "metadata key 'b!d' is invalid", id="bad-key-char"),
    pytest.param({"X-Meta-_x": "1"}, "metadata key '_x' is invalid", id="key-leading-underscore"),
    pytest.param({"X-Meta-" + "k" * 65: "1"}, "is invalid: use up to 64", id="key-too-long"),
    pytest.param({"X-Meta-": "1"}, "metadata key '' is invalid", id="empty-key"),
    pytest.param({f"X-Meta-k{i}": "v" for i in range(65)}, "at most 64", id="too-many-keys"),
    pytest.param({"X-Meta-a": "v" * 4100, "X-Meta-b": "v" * 4100}, "8192", id="too-large"),
    pytest.param({"X-Meta-big": "v" * 20000}, "the limit is 8192", id="one-huge-value"),
    pytest.param({"X-Meta-k": b"\xff\xfe"}, "X-Meta-k is not valid UTF-8", id="not-utf8"),
    pytest.param({"X-Meta-k": b"\xc3\x28"}, "X-Meta-k is not valid UTF-8", id="broken-utf8"),
    pytest.param({"X-Meta-k": "a\tb"}, "control characters", id="control-char"),
    pytest.param([("X-Meta-k", "1"), ("X-Meta-K", "2")], "given twice", id="duplicate-key"),
]


@pytest.mark.parametrize(("headers", "detail"), BAD_METADATA)
def test_bad_metadata_is_refused_and_leaves_nothing(
    server: LiveServer, collection: str, headers: Any, detail: str
) -> None:
    before = footprint(server)
    with server.client() as client:
        answer = client.put(f"/api/v1/data/{collection}/m.bin", content=b"data", headers=headers)
        problem_of(answer, 400, "invalid-metadata", detail)
        assert client.get(f"/api/v1/data/{collection}/m.bin").status_code == 404
    assert_nothing_kept(server, before, collection)


def test_metadata_at_the_limits_is_accepted(server: LiveServer, collection: str) -> None:
    many = {f"X-Meta-k{i}": "v" for i in range(64)}
    large = {"X-Meta-k": "v" * 8191}  # key + value = 8192 bytes
    with server.client() as client:
        for headers, count in ((many, 64), (large, 1)):
            answer = client.put(f"/api/v1/data/{collection}/m.bin", content=b"d", headers=headers)
            assert answer.status_code == 201, answer.text
            assert len(answer.json()["metadata"]) == count


# -- digests ------------------------------------------------------------------------------------


def b64(raw_bytes: bytes) -> str:
    return base64.b64encode(raw_bytes).decode()


BAD_DIGESTS = [
    pytest.param({"Content-Digest": "sha-256=:!!!!:"}, "not valid base64", id="bad-base64"),
    pytest.param(
        {"Content-Digest": "sha-256=:" + b64(b"\0" * 31) + "YQ=:"},
        "not valid base64",
        id="padding-inside",
    ),
    pytest.param({"Content-Digest": "sha-256=:AAAA:"}, "has 32 bytes, this one has 3", id="short"),
    pytest.param(
        {"Content-Digest": f"sha-512=:{b64(bytes(32))}:"},
        "has 64 bytes, this one has 32",
        id="sha512-with-sha256-length",
    ),
    pytest.param(
        {"Content-Digest": f"md5=:{b64(bytes(16))}:"},
        "names no supported algorithm (md5)",
        id="unsupported-only",
    ),
    pytest.param(
        {"Content-Digest": f"sha=:{b64(bytes(20))}:, unixsum=:AAAA:"},
        "use one of: sha-256, sha-512",
        id="several-unsupported",
    ),
    pytest.param(
        {"Content-Digest": "sha-256"}, "must look like 'sha-256=:<base64>:'", id="no-value"
    ),
    pytest.param({"Content-Digest": f"sha-256={b64(bytes(32))}"}, "must look like", id="no-colons"),
    pytest.param(
        {"Content-MD5": "***"}, "Content-MD5: the md5 value is not valid", id="md5-base64"
    ),
    pytest.param({"Content-MD5": b64(bytes(20))}, "has 16 bytes, this one has 20", id="md5-length"),
]


@pytest.mark.parametrize(("headers", "detail"), BAD_DIGESTS)
def test_malformed_digest_header_is_refused_and_leaves_nothing(
    server: LiveServer, collection: str, headers: dict[str, str], detail: str
) -> None:
    before = footprint(server)
    with server.client() as client:
        answer = client.put(f"/api/v1/data/{collection}/d.bin", content=b"data", headers=headers)
    problem_of(answer, 400, "invalid-digest-header", detail)
    assert_nothing_kept(server, before, collection)


def test_unsupported_algorithms_beside_a_supported_one_are_ignored(
    server: LiveServer, collection: str
) -> None:
    data = b"some bytes"
    header = (
        f"md5=:{b64(hashlib.md5(data).digest())}:, sha-256=:{b64(hashlib.sha256(data).digest())}:"
    )
    with server.client() as client:
        answer = client.put(
            f"/api/v1/data/{collection}/d.bin", content=data, headers={"Content-Digest": header}
        )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [("sha256", 3 * 1024 * 1024 + 5), ("sha512", 100), ("md5", 2 * 1024 * 1024)],
)
def test_digest_mismatch_keeps_nothing_and_is_on_record(
    server: LiveServer, collection: str, algorithm: str, size: int
) -> None:
    data = os.urandom(size)
    wrong = hashlib.new(algorithm, data + b"!").digest()
    headers = (
        {"Content-MD5": b64(wrong)}
        if algorithm == "md5"
        else {"Content-Digest": f"{algorithm.replace('sha', 'sha-')}=:{b64(wrong)}:"}
    )
    rid = new_request_id()
    before = footprint(server)
    with server.client() as client:
        answer = client.put(
            f"/api/v1/data/{collection}/bad.bin",
            content=data,
            headers={**headers, "X-Request-Id": rid},
        )
        problem = problem_of(answer, 400, "digest-mismatch", "nothing was stored")
        assert problem["algorithms"] == [algorithm]
        assert algorithm in problem["detail"]
        assert client.get(f"/api/v1/data/{collection}/bad.bin").status_code == 404
        rejected = events_of(client, "capture.rejected", rid)
    assert len(rejected) == 1, rejected
    details = rejected[0]["details"]
    assert (details["collection"], details["path"]) == (collection, "bad.bin")
    assert "digest" in details["reason"]
    assert rejected[0]["actor"].startswith("token:")
    assert_nothing_kept(server, before, collection)


# -- size cap -----------------------------------------------------------------------------------


def test_declared_length_over_the_cap_is_refused_before_reading(
    capped: LiveServer, collection: str
) -> None:
    before = footprint(capped)
    head = request_head(
        "PUT",
        f"/api/v1/data/{collection}/big.bin",
        {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Length": str(10**12)},
    )
    started = time.monotonic()
    answer = exchange(capped, head, timeout=10)  # no body at all: only an early answer can come
    assert time.monotonic() - started < 5
    problem = problem_of(answer, 413, "payload-too-large", "DATOFERUM_MAX_UPLOAD_BYTES")
    assert problem["limit"] == CAP
    assert str(10**12) in problem["detail"] and str(CAP) in problem["detail"]
    assert_nothing_kept(capped, before, collection)


def test_body_at_the_cap_is_accepted_and_one_byte_more_is_not(
    capped: LiveServer, collection: str
) -> None:
    with capped.client() as client:
        fits = client.put(f"/api/v1/data/{collection}/fits.bin", content=b"x" * CAP)
        assert fits.status_code == 201, fits.text
        over = client.put(f"/api/v1/data/{collection}/over.bin", content=b"x" * (CAP + 1))
        problem_of(over, 413, "payload-too-large")
        # The body was left unread, so the connection cannot carry another request: the answer
        # says so, and the client goes on over a new one instead of racing the close.
        assert over.headers.get("connection") == "close"
        assert client.get(f"/api/v1/data/{collection}/over.bin").status_code == 404


def test_refusal_after_the_whole_body_keeps_the_connection(
    capped: LiveServer, collection: str
) -> None:
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with capped.client() as client:
        refused = client.put(
            f"/api/v1/data/{collection}/mismatch.bin",
            content=b"y" * 1000,
            headers={"Content-Digest": f"sha-256=:{wrong}:"},
        )
        problem_of(refused, 400, "digest-mismatch")
        assert refused.headers.get("connection") != "close"
        assert client.get(f"/api/v1/data/{collection}/mismatch.bin").status_code == 404


def _chunked_upload(server: LiveServer, target: str, rid: str, total: int) -> RawResponse:
    head = request_head(
        "PUT",
        target,
        {
            "Authorization": f"Bearer {ADMIN_TOKEN}",
            "Transfer-Encoding": "chunked",
            "X-Request-Id": rid,
        },
    )
    piece = b"z" * 65536
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(head)
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # an early answer
            while sent < total:
                part = piece[: min(len(piece), total - sent)]
                sock.sendall(chunk(part))
                sent += len(part)
            sock.sendall(b"0\r\n\r\n")
        return read_response(sock)


@pytest.mark.parametrize("size", [5000, ONE_AND_A_HALF_MIB], ids=["small", "past-one-buffer"])
def test_chunked_body_growing_over_the_cap_is_refused(
    capped: LiveServer, collection: str, size: int
) -> None:
    rid = new_request_id()
    before = footprint(capped)
    answer = _chunked_upload(capped, f"/api/v1/data/{collection}/grow.bin", rid, size)
    problem = problem_of(answer, 413, "payload-too-large", "nothing was stored")
    assert problem["limit"] == CAP
    assert_nothing_kept(capped, before, collection, timeout=10)
    with capped.client() as client:
        assert client.get(f"/api/v1/data/{collection}/grow.bin").status_code == 404
        assert events_of(client, "capture.rejected", rid)


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(
            5000,
            id="small",
        ),
        pytest.param(ONE_AND_A_HALF_MIB, id="past-one-buffer"),
    ],
)
def test_refused_upload_is_recorded_once(capped: LiveServer, collection: str, size: int) -> None:
    rid = new_request_id()
    answer = _chunked_upload(capped, f"/api/v1/data/{collection}/once.bin", rid, size)
    assert answer.status == 413
    with capped.client() as client:
        rejected = events_of(client, "capture.rejected", rid)
    assert len(rejected) == 1, [e["seq"] for e in rejected]


# -- bodies cut short ---------------------------------------------------------------------------


def _start_upload(
    server: LiveServer, target: str, rid: str, *, length: int | None
) -> socket.socket:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-Id": rid}
    if length is None:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(length)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    sock.sendall(request_head("PUT", target, headers))
    return sock


def _aborted(server: LiveServer, rid: str) -> list[dict[str, Any]]:
    with server.client() as client:
        return wait_for(
            lambda: events_of(client, "capture.aborted", rid), what="a capture.aborted event"
        )


def _read_answer(sock: socket.socket) -> RawResponse | None:
    try:
        return read_response(sock)
    except (ConnectionError, AssertionError):
        return None


@pytest.mark.parametrize("how", ["half-close", "close"])
def test_body_shorter_than_content_length_keeps_nothing(
    server: LiveServer, collection: str, how: str
) -> None:
    rid = new_request_id()
    before = footprint(server)
    sock = _start_upload(server, f"/api/v1/data/{collection}/short.bin", rid, length=100_000)
    with sock:
        sock.sendall(b"0123456789")
        time.sleep(0.2)
        if how == "half-close":
            sock.shutdown(socket.SHUT_WR)
            answer = _read_answer(sock)
            assert answer is None or answer.status >= 400
    aborted = _aborted(server, rid)
    assert len(aborted) == 1
    details = aborted[0]["details"]
    assert (details["collection"], details["path"]) == (collection, "short.bin")
    assert "disconnect" in details["reason"]
    assert_nothing_kept(server, before, collection, timeout=10)


def test_body_cut_short_gets_a_problem_answer(server: LiveServer, collection: str) -> None:
    sock = _start_upload(
        server, f"/api/v1/data/{collection}/short.bin", new_request_id(), length=100_000
    )
    with sock:
        sock.sendall(b"0123456789")
        time.sleep(0.2)
        sock.shutdown(socket.SHUT_WR)
        answer = read_response(sock)
    problem_of(answer, 400, "incomplete-body", "closed after 10 bytes of the 100000 announced")


def test_aborted_upload_records_the_bytes_received(server: LiveServer, collection: str) -> None:
    rid = new_request_id()
    sock = _start_upload(server, f"/api/v1/data/{collection}/short.bin", rid, length=100_000)
    with sock:
        sock.sendall(b"0123456789")
        time.sleep(0.3)
    assert _aborted(server, rid)[0]["details"]["received_bytes"] == 10


def test_disconnect_in_the_middle_of_a_large_upload_keeps_nothing(
    server: LiveServer, collection: str
) -> None:
    rid = new_request_id()
    before = footprint(server)
    staging_before = staged(server)
    sock = _start_upload(server, f"/api/v1/data/{collection}/large.bin", rid, length=None)
    with sock:
        for _ in range(48):  # 3 MiB: several batches reach the staging area
            sock.sendall(chunk(os.urandom(65536)))
        # The upload is really in flight: its staged file exists (so the checks below can fail).
        wait_for(lambda: staged(server) - staging_before, what="a staged file")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
    aborted = _aborted(server, rid)
    assert len(aborted) == 1
    assert aborted[0]["details"]["path"] == "large.bin"
    assert aborted[0]["details"]["received_bytes"] >= 1024 * 1024
    assert_nothing_kept(server, before, collection, timeout=10)
    assert staged(server) <= staging_before
    with server.client() as client:
        assert client.get(f"/api/v1/data/{collection}/large.bin").status_code == 404


# -- reading ------------------------------------------------------------------------------------


@pytest.fixture
def stored(server: LiveServer, collection: str) -> str:
    """A 100-byte, one-version file; returns its URL."""
    url = f"/api/v1/data/{collection}/hundred.bin"
    with server.client() as client:
        assert client.put(url, content=bytes(range(100))).status_code == 201
    return url


@pytest.mark.parametrize(
    ("range_header", "detail"),
    [
        ("bytes=100-", "starts at byte 100 but the file has 100 bytes"),
        ("bytes=100-200", "starts at byte 100"),
        ("bytes=5000-5001", "valid positions 0 to 99"),
        ("bytes=-0", "selects no bytes"),
    ],
)
def test_unsatisfiable_range(
    server: LiveServer, stored: str, range_header: str, detail: str
) -> None:
    with server.client() as client:
        answer = client.get(stored, headers={"Range": range_header})
        problem = problem_of(answer, 416, "range-not-satisfiable", detail)
        assert answer.headers["content-range"] == "bytes */100"
        assert problem["size"] == 100
        head = client.head(stored, headers={"Range": range_header})
        assert head.status_code == 416
        assert head.headers["content-range"] == "bytes */100"


def test_unknown_version_is_404(server: LiveServer, stored: str) -> None:
    with server.client() as client:
        answer = client.get(stored, params={"version": 2})
        problem_of(answer, 404, "not-found", "has no version 2: its versions are 1 to 1")
        assert client.head(stored, params={"version": 99}).status_code == 404


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", "0x1", "+1", " 1"])
def test_bad_version_parameter_is_400(server: LiveServer, stored: str, value: str) -> None:
    with server.client() as client:
        answer = client.get(stored, params={"version": value})
    problem = problem_of(answer, 400, "invalid-input", "version must be a positive whole number")
    assert repr(value) in problem["detail"]


@pytest.mark.parametrize(
    ("url", "name"),
    [("{stored}", "version"), ("/api/v1/files", "limit"), ("/api/v1/events", "after")],
)
def test_unicode_digit_parameters_are_400(
    server: LiveServer, stored: str, url: str, name: str
) -> None:
    with server.client() as client:
        answer = client.get(url.format(stored=stored), params={name: "²"})
    problem_of(answer, 400, "invalid-input", name)


BAD_LISTINGS = [
    ({"limit": "0"}, "limit must be a whole number from 1 to 1000, got '0'"),
    ({"limit": "abc"}, "got 'abc'"),
    ({"limit": "-5"}, "got '-5'"),
    ({"limit": "1001"}, "got '1001'"),
    ({"state": "bogus"}, "unknown state 'bogus'; states are: receiving"),
    ({"created_after": "not-a-date"}, "created_after must be an ISO 8601 time"),
    ({"created_before": "2026-13-40"}, "created_before must be an ISO 8601 time"),
    ({"updated_after": "yesterday"}, "updated_after must be an ISO 8601 time"),
    ({"updated_before": "12:00"}, "updated_before must be an ISO 8601 time"),
    ({"cursor": "garbage"}, "the cursor is not one this server issued"),
    ({"cursor": base64.urlsafe_b64encode(b'{"after": 1}').decode()}, "not one this server"),
    ({"cursor": base64.urlsafe_b64encode(b'{"after": "../x"}').decode()}, "start again"),
    ({"collection": "BAD"}, "invalid collection name 'BAD'"),
]


@pytest.mark.parametrize(
    ("params", "detail"),
    BAD_LISTINGS,
    ids=[f"{next(iter(p))}-{i}" for i, (p, _) in enumerate(BAD_LISTINGS)],
)
def test_bad_listing_parameters_are_400(
    server: LiveServer, params: dict[str, str], detail: str
) -> None:
    with server.client() as client:
        answer = client.get("/api/v1/files", params=params)
    assert answer.status_code == 400
    problem_of(answer, 400, None, detail)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/api/v1/events?limit=0", "limit must be a whole number from 1 to 10000"),
        ("/api/v1/events?limit=10001", "got '10001'"),
        ("/api/v1/events?after=-1", "after must be a whole number"),
        ("/api/v1/events?after=x", "got 'x'"),
    ],
)
def test_bad_event_parameters_are_400(server: LiveServer, url: str, detail: str) -> None:
    with server.client() as client:
        problem_of(client.get(url), 400, "invalid-input", detail)


@pytest.mark.parametrize(
    ("file_id", "detail"),
    [
        ("0123456789abcdef0123456789abcdef", "there is no file with id 0123456789abcdef"),
        ("zzz", "ids are 32 hex digits"),
        ("0123456789ABCDEF0123456789ABCDEF", "ids are 32 hex digits"),
    ],
)
@pytest.mark.parametrize("suffix", ["", "/events"])
def test_unknown_file_id_is_404(server: LiveServer, file_id: str, detail: str, suffix: str) -> None:
    with server.client() as client:
        problem = problem_of(
            client.get(f"/api/v1/files/{file_id}{suffix}"), 404, "not-found", detail
        )
    assert problem["instance"] == f"/api/v1/files/{file_id}{suffix}"


def test_download_of_a_missing_file_is_404(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        answer = client.get(f"/api/v1/data/{collection}/nothing/here.txt")
        problem_of(answer, 404, "not-found", "no file 'nothing/here.txt' in collection")
        assert client.head(f"/api/v1/data/{collection}/nothing/here.txt").status_code == 404


# "/" is the web UI's page when it is built (tests/test_web_serving.py).
@pytest.mark.parametrize("target", ["/api/v1/nope", "/api/v2/files", "/api", "/api/v1/files/a/b/c"])
def test_unknown_route_is_a_404_problem(server: LiveServer, target: str) -> None:
    answer = raw(server, "GET", target)
    problem = problem_of(answer, 404, "not-found", "/openapi.json")
    assert target in problem["detail"]


@pytest.mark.parametrize(
    ("method", "target", "allowed"),
    [
        ("DELETE", "/api/v1/files", "GET"),
        ("POST", "/api/v1/whoami", "GET"),
        ("PUT", "/api/v1/audit/verify", "GET"),
        ("PATCH", "/api/v1/data/some/file.txt", "PUT"),
        ("DELETE", "/api/v1/events", "GET"),
        ("POST", "/healthz", "GET"),
    ],
)
def test_wrong_method_is_a_405_problem(
    server: LiveServer, method: str, target: str, allowed: str
) -> None:
    answer = raw(server, method, target)
    problem = problem_of(answer, 405, "method-not-allowed", f"{method} is not supported")
    assert target in problem["detail"]
    assert allowed in [m.strip() for m in answer.headers["allow"].split(",")]


@pytest.mark.parametrize(
    ("method", "target", "methods"),
    [
        ("PATCH", "/api/v1/data/some/file.txt", {"GET", "HEAD", "PUT"}),
        ("DELETE", "/api/v1/tokens", {"GET", "HEAD", "POST"}),
    ],
)
def test_405_allow_lists_every_method_of_the_resource(
    server: LiveServer, method: str, target: str, methods: set[str]
) -> None:
    answer = raw(server, method, target)
    assert answer.status == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} == methods
