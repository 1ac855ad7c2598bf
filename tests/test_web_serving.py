"""The web UI's files at ``/``: public, with the page for client routes, never over the API;
and the catalog totals its dashboard reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer

PAGE = b"<!doctype html><title>Datoferum</title><div id=root></div>"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose web root is a small stand-in for a build."""
    base = tmp_path_factory.mktemp("web")
    root = base / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(PAGE)
    (root / "assets" / "app-1a2b3c.js").write_text("console.log('ui')")
    (base / "secret.txt").write_text("outside the root")
    live = LiveServer(base / "home", DATOFERUM_WEB_ROOT=str(root)).start()
    yield live
    live.stop()


def test_page_assets_and_client_routes_need_no_token(ui_server: LiveServer) -> None:
    with httpx.Client(base_url=ui_server.url) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.content == PAGE
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for route in ("/files", "/files/0195abcd/show", "/audit", "/holds/create"):
            answer = client.get(route)
            assert answer.status_code == 200 and answer.content == PAGE, route
        asset = client.get("/assets/app-1a2b3c.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert client.head("/files").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no/such/thing",
        "/api",
        "/l/nosuchlink",
        "/assets/missing-9z9z9z.js",
        "/favicon.ico",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ],
)
def test_api_paths_missing_files_and_escapes_are_problems(ui_server: LiveServer, path: str) -> None:
    with httpx.Client(base_url=ui_server.url) as client:
        answer = client.get(path, headers={"Authorization": f"Bearer {ui_server.token}"})
    assert answer.status_code == 404, path
    assert answer.headers["content-type"] == "application/problem+json"
    assert b"outside the root" not in answer.content


def test_the_api_stays_the_api(ui_server: LiveServer) -> None:
    with httpx.Client(base_url=ui_server.url) as client:
        assert client.get("/healthz").json()
        assert "paths" in client.get("/openapi.json").json()
        assert client.get("/api/v1/files").status_code == 401  # the page is public, data is not
        wrong_method = client.post("/api/v1/whoami")
        assert wrong_method.status_code == 405
        assert client.post("/files").status_code == 404


def test_without_a_build_the_root_says_how_to_get_one(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "home", DATOFERUM_WEB_ROOT=str(tmp_path / "nothing")).start()
    try:
        with httpx.Client(base_url=live.url) as client:
            answer = client.get("/")
            assert client.get("/healthz").status_code == 200
    finally:
        live.stop()
    assert answer.status_code == 404
    assert "make web" in answer.json()["detail"]


def test_catalog_totals(server: LiveServer, collection: str, role_tokens: dict[str, str]) -> None:
    with server.client() as client:
        before = client.get("/api/v1/stats").json()
        for size in (3, 4):
            client.put(f"/api/v1/data/{collection}/{size}.bin", content=b"s" * size)
        after = client.get("/api/v1/stats").json()
    mine = [row for row in after["by_collection"] if row["collection"] == collection]
    assert mine == [{"collection": collection, "files": 2, "bytes": 7}]
    assert after["files"] >= before["files"] + 2 and after["bytes"] >= before["bytes"] + 7
    assert sum(row["files"] for row in after["by_state"]) == after["files"]
    with server.client(token=role_tokens["producer"]) as producer:
        assert producer.get("/api/v1/stats").status_code == 200
    with server.client(token=None) as anonymous:
        assert anonymous.get("/api/v1/stats").status_code == 401
