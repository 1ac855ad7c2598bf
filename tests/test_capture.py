"""Upload and download over real HTTP: versions, metadata, digests, ranges, conditionals."""

from __future__ import annotations

import base64
import hashlib
import os

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


def _digest_header(data: bytes, algorithm: str = "sha256") -> str:
    name = {"sha256": "sha-256", "sha512": "sha-512"}[algorithm]
    return f"{name}=:{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}:"


def test_put_then_get_roundtrip_with_metadata(server: LiveServer, collection: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    with server.client() as client:
        put = client.put(
            f"/api/v1/data/{collection}/2026/clip.mp4",
            content=data,
            headers={b"X-Meta-Owner": "Jo\u00e3o".encode(), b"Content-Type": b"video/mp4"},
        )
        assert put.status_code == 201, put.text
        body = put.json()
        assert body["size"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["version"] == 1
        assert body["state"] == "stored"
        assert body["metadata"] == {"owner": "Jo\u00e3o"}
        assert put.headers["location"] == f"/api/v1/files/{body['id']}"

        got = client.get(f"/api/v1/data/{collection}/2026/clip.mp4")
        assert got.status_code == 200
        assert got.content == data
        assert got.headers["etag"] == f'"{body["sha256"]}"'
        assert got.headers["content-type"] == "video/mp4"
        assert got.headers["content-digest"] == _digest_header(data)
        assert (b"x-meta-owner", "Jo\u00e3o".encode()) in got.headers.raw


def test_second_put_makes_a_new_version(server: LiveServer, collection: str) -> None:
    url = f"/api/v1/data/{collection}/report.csv"
    with server.client() as client:
        first = client.put(url, content=b"a,b\n1,2\n").json()
        second = client.put(url, content=b"a,b\n3,4\n").json()
        assert second["id"] == first["id"] and second["version"] == 2
        assert client.get(url).content == b"a,b\n3,4\n"
        assert client.get(url, params={"version": 1}).content == b"a,b\n1,2\n"
        record = client.get(f"/api/v1/files/{first['id']}").json()
        assert [v["version"] for v in record["versions"]] == [2, 1]
        missing = client.get(url, params={"version": 3})
        assert missing.status_code == 404
        assert "versions are 1 to 2" in missing.json()["detail"]


def test_client_digests_are_verified(server: LiveServer, collection: str) -> None:
    data = b"integrity matters" * 1000
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    with server.client() as client:
        for headers in (
            {"Content-Digest": _digest_header(data)},
            {"Content-Digest": _digest_header(data, "sha512")},
            {"Content-Digest": f"{_digest_header(data)}, {_digest_header(data, 'sha512')}"},
            {"Content-MD5": md5},
        ):
            answer = client.put(f"/api/v1/data/{collection}/ok.bin", content=data, headers=headers)
            assert answer.status_code == 201, (headers, answer.text)

        wrong = _digest_header(data + b"x")
        answer = client.put(
            f"/api/v1/data/{collection}/bad.bin", content=data, headers={"Content-Digest": wrong}
        )
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("digest-mismatch")
        assert client.get(f"/api/v1/data/{collection}/bad.bin").status_code == 404
        events = client.get("/api/v1/events", params={"type": "capture.rejected"}).json()["items"]
        assert any(e["details"]["path"] == "bad.bin" for e in events)


def test_ranges_and_conditionals(server: LiveServer, collection: str) -> None:
    data = bytes(range(256)) * 100
    url = f"/api/v1/data/{collection}/bytes.bin"
    with server.client() as client:
        etag = client.put(url, content=data).headers["etag"]
        part = client.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206
        assert part.content == data[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
        assert "content-digest" not in part.headers
        assert client.get(url, headers={"Range": "bytes=-5"}).content == data[-5:]
        assert client.get(url, headers={"Range": "bytes=25590-"}).content == data[25590:]
        over = client.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert over.status_code == 416
        assert over.headers["content-range"] == f"bytes */{len(data)}"
        assert client.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        stale = client.get(url, headers={"Range": "bytes=0-0", "If-Range": '"stale"'})
        assert stale.status_code == 200 and stale.content == data
        head = client.head(url)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(data))
        assert head.content == b""


def test_reads_are_events_on_the_timeline(server: LiveServer, collection: str) -> None:
    url = f"/api/v1/data/{collection}/read-me.txt"
    with server.client() as client:
        file_id = client.put(url, content=b"hello").json()["id"]
        client.get(url)
        client.get(url, headers={"Range": "bytes=0-1"})
        events = client.get(f"/api/v1/files/{file_id}/events").json()["items"]
    types = [e["type"] for e in events]
    assert types == ["file.captured", "file.stored", "file.read", "file.read"]
    assert events[-1]["details"]["range"] == [0, 1]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
