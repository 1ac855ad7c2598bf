"""Listing files: filters and cursor pagination over the real API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


def test_filters_and_pagination(server: LiveServer, collection: str) -> None:
    other = collection + "-other"
    with server.client() as client:
        for i in range(7):
            client.put(f"/api/v1/data/{collection}/logs/{i}.log", content=b"l")
        for i in range(3):
            client.put(f"/api/v1/data/{collection}/video/{i}.mp4", content=b"v")
        client.put(f"/api/v1/data/{other}/logs/x.log", content=b"o")

        everything = client.get("/api/v1/files", params={"collection": collection}).json()
        assert len(everything["items"]) == 10 and everything["next_cursor"] is None

        logs = client.get(
            "/api/v1/files", params={"collection": collection, "prefix": "logs/"}
        ).json()["items"]
        assert sorted(item["path"] for item in logs) == [f"logs/{i}.log" for i in range(7)]

        seen: list[str] = []
        params: dict[str, str | int] = {"collection": collection, "limit": 3}
        pages = 0
        while True:
            page = client.get("/api/v1/files", params=params).json()
            pages += 1
            seen += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert pages == 4
        assert len(seen) == len(set(seen)) == 10
        assert seen == sorted(seen)  # capture order

        stored = client.get(
            "/api/v1/files", params={"collection": collection, "state": "stored"}
        ).json()["items"]
        assert len(stored) == 10
        purged = client.get(
            "/api/v1/files", params={"collection": collection, "state": "purged"}
        ).json()["items"]
        assert purged == []


def test_prefix_is_literal_not_a_pattern(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        client.put(f"/api/v1/data/{collection}/a_b/1", content=b"1")
        client.put(f"/api/v1/data/{collection}/axb/2", content=b"2")
        found = client.get(
            "/api/v1/files", params={"collection": collection, "prefix": "a_"}
        ).json()["items"]
        assert [item["path"] for item in found] == ["a_b/1"]
        found = client.get(
            "/api/v1/files", params={"collection": collection, "prefix": "%"}
        ).json()["items"]
        assert found == []


def test_time_range(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        client.put(f"/api/v1/data/{collection}/old", content=b"1")
        time.sleep(0.05)
        middle = datetime.now(UTC).isoformat()
        time.sleep(0.05)
        client.put(f"/api/v1/data/{collection}/new", content=b"2")
        after = client.get(
            "/api/v1/files", params={"collection": collection, "created_after": middle}
        ).json()["items"]
        before = client.get(
            "/api/v1/files", params={"collection": collection, "created_before": middle}
        ).json()["items"]
        assert [item["path"] for item in after] == ["new"]
        assert [item["path"] for item in before] == ["old"]
        client.put(f"/api/v1/data/{collection}/old", content=b"3")
        updated = client.get(
            "/api/v1/files", params={"collection": collection, "updated_after": middle}
        ).json()["items"]
        assert sorted(item["path"] for item in updated) == ["new", "old"]
