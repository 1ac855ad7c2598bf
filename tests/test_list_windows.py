"""Positional windows (sort, range, filter, Content-Range) on every listing, beside cursors."""

from __future__ import annotations

import json
import re

import pytest

from conftest import LiveServer


def _window(**params: object) -> dict[str, str]:
    return {name: json.dumps(value) for name, value in params.items()}


def test_files_window_sorts_filters_and_counts(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        for i, size in enumerate([5, 1, 3, 4, 2]):
            client.put(f"/api/v1/data/{collection}/w/{i}.bin", content=b"x" * size)
        client.put(f"/api/v1/data/{collection}/other/z.bin", content=b"zz")

        answer = client.get(
            "/api/v1/files",
            params=_window(
                sort=["size", "DESC"],
                range=[1, 3],
                filter={"collection": collection, "prefix": "w/"},
            ),
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-range"] == "files 1-3/5"
        body = answer.json()
        assert [item["size"] for item in body["items"]] == [4, 3, 2]
        assert body["total"] == 5

        searched = client.get(
            "/api/v1/files",
            params=_window(sort=["path", "ASC"], filter={"collection": collection, "q": "z.b"}),
        )
        assert [item["path"] for item in searched.json()["items"]] == ["other/z.bin"]
        assert searched.headers["content-range"] == "files 0-0/1"

        beyond = client.get(
            "/api/v1/files", params=_window(range=[100, 109], filter={"collection": collection})
        )
        assert beyond.json()["items"] == []
        assert beyond.headers["content-range"] == "files */6"

        # The cursor pagination of existing clients is untouched: no header, no total.
        plain = client.get("/api/v1/files", params={"collection": collection, "limit": 2})
        assert "content-range" not in plain.headers
        assert set(plain.json()) == {"items", "next_cursor"}


def test_windows_page_without_overlap(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        for i in range(7):
            client.put(f"/api/v1/data/{collection}/same/{i}", content=b"s")  # equal sizes
        seen: list[str] = []
        for start in range(0, 7, 3):
            page = client.get(
                "/api/v1/files",
                params=_window(
                    sort=["size", "ASC"],
                    range=[start, start + 2],
                    filter={"collection": collection},
                ),
            ).json()
            seen += [item["id"] for item in page["items"]]
        assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"sort": '["nope","ASC"]'}, "cannot sort by 'nope'; sortable fields are: id, collection"),
        ({"sort": '["path","UP"]'}, "sort must be a JSON pair"),
        ({"sort": "path"}, "sort must be JSON such as"),
        ({"range": "[5,1]"}, "range must be a JSON pair of whole numbers"),
        ({"range": "[0,5000]"}, "range may span at most 1000 items"),
        ({"filter": "{bad"}, "filter must be JSON such as"),
        ({"filter": "[1]"}, "filter must be a JSON object"),
        ({"filter": '{"colour":"red"}'}, "cannot filter by 'colour'; filters are: collection"),
        ({"filter": '{"state":"melted"}'}, "unknown state 'melted'"),
        ({"filter": '{"collection":5}'}, "the filter 'collection' must be a string"),
    ],
)
def test_bad_windows_are_problems(server: LiveServer, params: dict[str, str], detail: str) -> None:
    with server.client() as client:
        answer = client.get("/api/v1/files", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_every_listing_speaks_windows(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = client.put(f"/api/v1/data/{collection}/held.txt", content=b"h").json()["id"]
        hold = client.post(
            "/api/v1/holds",
            json={"scope": "file", "target": file_id, "reason": "case 7", "owner": "legal"},
        ).json()
        client.post(f"/api/v1/holds/{hold['id']}/release", json={"reason": "closed"})
        policy = (
            f"policies:\n  - name: {collection}\n    resource: file\n    mode: {{type: manual}}\n"
            f"    filters:\n      - collection: {collection}\n    actions:\n      - tag: {{t: x}}\n"
        )
        applied = client.post("/api/v1/policies", content=policy.encode())
        assert applied.status_code == 200, applied.text
        pattern = re.compile(r"^(\w+) (\d+-\d+|\*)/(\d+)$")
        for resource, sort, filters in [
            ("holds", ["created_at", "DESC"], {"target": file_id}),
            ("jobs", ["created_at", "DESC"], {}),
            ("events", ["seq", "ASC"], {"file_id": file_id}),
            ("webhooks", ["created_at", "DESC"], {}),
            ("policies", ["name", "ASC"], {"name": collection}),
        ]:
            answer = client.get(
                f"/api/v1/{resource}", params=_window(sort=sort, range=[0, 9], filter=filters)
            )
            assert answer.status_code == 200, (resource, answer.text)
            match = pattern.match(answer.headers["content-range"])
            assert match and match.group(1) == resource, answer.headers["content-range"]
            assert int(match.group(3)) == answer.json()["total"]

        # A released hold is still listed in a window (filter active=false to see only those).
        released = client.get(
            "/api/v1/holds", params=_window(filter={"target": file_id, "active": False})
        ).json()
        assert [item["id"] for item in released["items"]] == [hold["id"]]
        timeline = client.get(
            "/api/v1/events", params=_window(sort=["seq", "DESC"], filter={"file_id": file_id})
        ).json()
        types = [item["type"] for item in timeline["items"]]
        assert types[0] == "hold.released" and types[-1] == "file.captured", types
        policies = client.get("/api/v1/policies", params=_window(filter={"name": collection}))
        assert [item["id"] for item in policies.json()["items"]] == [collection]
        bad = client.get("/api/v1/jobs", params=_window(sort=["payload", "ASC"]))
        assert bad.status_code == 400 and "cannot sort by 'payload'" in bad.json()["detail"]
