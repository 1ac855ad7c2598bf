"""``/api/v1/events/stream``: lifecycle events pushed as Server-Sent Events."""

from __future__ import annotations

import json
import threading
import time

import httpx

from conftest import LiveServer


def _frames(lines: list[str]) -> list[dict[str, str]]:
    frames: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                frames.append(current)
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            current[field] = value
    return frames


def test_new_events_arrive_and_a_reconnect_resumes(server: LiveServer, collection: str) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    lines: list[str] = []
    uploaded: dict[str, str] = {}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        with client.stream("GET", "/api/v1/events/stream", params={"type": "file."}) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")

            def upload() -> None:
                time.sleep(0.5)
                with server.client() as writer:  # a client of its own: one per thread
                    put = writer.put(f"/api/v1/data/{collection}/live.txt", content=b"live")
                uploaded["id"] = put.json()["id"]

            uploader = threading.Thread(target=upload)
            uploader.start()
            deadline = time.monotonic() + 20
            for line in answer.iter_lines():
                lines.append(line)
                if '"file.stored"' in line and uploaded.get("id", "?") in line:
                    break
                assert time.monotonic() < deadline, lines
            uploader.join()
        events = [f for f in _frames([*lines, ""]) if f.get("event") == "lifecycle"]
        mine = [json.loads(f["data"]) for f in events if uploaded["id"] in f["data"]]
        assert [event["type"] for event in mine] == ["file.captured", "file.stored"]
        assert all(
            event["type"].startswith("file.") for f in events for event in [json.loads(f["data"])]
        )
        assert [int(f["id"]) for f in events] == [json.loads(f["data"])["seq"] for f in events]

        # Resuming after the first of them gives the second again, and nothing earlier.
        first = next(f for f in events if uploaded["id"] in f["data"])
        resumed: list[str] = []
        with client.stream(
            "GET", "/api/v1/events/stream", headers={"Last-Event-ID": first["id"]}
        ) as again:
            for line in again.iter_lines():
                resumed.append(line)
                if '"file.stored"' in line and uploaded["id"] in line:
                    break
        seqs = [int(f["id"]) for f in _frames([*resumed, ""]) if "id" in f]
        assert seqs and min(seqs) == int(first["id"]) + 1


def test_the_stream_needs_a_reader_of_events(
    server: LiveServer, role_tokens: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/api/v1/events/stream").status_code == 401
        producer = {"Authorization": f"Bearer {role_tokens['producer']}"}
        assert client.get("/api/v1/events/stream", headers=producer).status_code == 403
        bad = client.get(
            "/api/v1/events/stream",
            params={"after": "soon"},
            headers={"Authorization": f"Bearer {server.token}"},
        )
        assert bad.status_code == 400 and "seq number" in bad.json()["detail"]
