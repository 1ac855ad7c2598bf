"""A server killed in the middle of an upload leaves nothing visible, and cleans up on restart."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from conftest import LiveServer


def _staged(home: Path) -> list[Path]:
    return list((home / "objects" / "staging").rglob("*.part"))


def _objects(home: Path) -> list[Path]:
    return [p for p in (home / "objects" / "objects").rglob("*") if p.is_file()]


def _slow_upload(server: LiveServer, path: str, stop: threading.Event) -> None:
    """Send a chunked upload that never ends until the server dies."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            (
                f"PUT /api/v1/data/crash/{path} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {server.token}\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        chunk = b"x" * 65536
        try:
            while not stop.is_set():
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass


def test_kill_during_upload_leaves_no_file_and_no_row(fresh_server: LiveServer) -> None:
    with fresh_server.client() as client:
        assert client.put("/api/v1/data/crash/before.bin", content=b"kept").status_code == 201
    stop = threading.Event()
    sender = threading.Thread(target=_slow_upload, args=(fresh_server, "doomed.bin", stop))
    sender.start()
    deadline = time.monotonic() + 20
    while not _staged(fresh_server.home) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _staged(fresh_server.home), "the upload never reached the staging area"
    time.sleep(0.5)  # let a few megabytes land
    fresh_server.kill()
    stop.set()
    sender.join()
    assert len(_staged(fresh_server.home)) == 1
    assert len(_objects(fresh_server.home)) == 1  # only before.bin is visible

    time.sleep(1.2)  # older than the youngest age the sweep treats as abandoned
    fresh_server.start()
    assert _staged(fresh_server.home) == []
    assert len(_objects(fresh_server.home)) == 1
    with fresh_server.client() as client:
        assert client.get("/api/v1/data/crash/doomed.bin").status_code == 404
        assert client.get("/api/v1/data/crash/before.bin").content == b"kept"
        listed = client.get("/api/v1/files", params={"collection": "crash"}).json()["items"]
        assert [item["path"] for item in listed] == ["before.bin"]
        removed = client.get("/api/v1/events", params={"type": "storage.orphan_removed"}).json()
        assert len(removed["items"]) == 1
        assert removed["items"][0]["details"]["committed"] is False
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
