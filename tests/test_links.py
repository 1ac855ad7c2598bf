"""Pick-and-go links over the real API: picks counted exactly (also under concurrency), expiry,
revocation, purge after the last pick (and its refusal under a hold), and secrets kept secret."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Base, Link

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True

DATA = b"pick me up " * 1000


def _upload(client: httpx.Client, collection: str, path: str, data: bytes = DATA) -> str:
    answer = client.put(
        f"/api/v1/data/{collection}/{path}", content=data, headers={"X-Meta-Owner": "studio-b"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _create(client: httpx.Client, file_id: str, **body: Any) -> dict[str, Any]:
    answer = client.post(f"/api/v1/files/{file_id}/links", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    created: dict[str, Any] = answer.json()
    return created


def _links(client: httpx.Client, file_id: str) -> dict[str, dict[str, Any]]:
    answer = client.get(f"/api/v1/files/{file_id}/links")
    assert answer.status_code == 200, answer.text
    return {item["id"]: item for item in answer.json()["items"]}


def _events(client: httpx.Client, file_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"/api/v1/files/{file_id}/events").json()["items"]
    return [e for e in items if kind is None or e["type"] == kind]


def _gone(answer: httpx.Response, words: str) -> None:
    assert answer.status_code == 410, answer.text
    if answer.request.method == "HEAD":
        return
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:datoferum:problem:gone"
    assert words in problem["detail"], problem["detail"]


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll until ``check`` returns something truthy (the job worker runs on its own time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what}")


def _objects(home: Path) -> set[str]:
    return {p.name for p in (home / "objects" / "objects").rglob("*") if p.is_file()}


def _set_expiry(server: LiveServer, link_id: str, when: datetime) -> None:
    """Move a link's expiry straight in the catalog: the API rightly refuses past ones."""
    catalog = Catalog(server.database_url)
    try:
        with catalog.writing() as conn:
            changed = conn.execute(update(Link).where(Link.id == link_id).values(expires_at=when))
            assert changed.rowcount == 1
    finally:
        catalog.dispose()


def _catalog_contents(server: LiveServer) -> bytes:
    """Every value of every catalog table, and for SQLite the raw files (free pages, WAL) too."""
    catalog = Catalog(server.database_url)
    try:
        with catalog.reading() as conn:
            rows = [
                repr(row)
                for table in Base.metadata.sorted_tables
                for row in conn.execute(select(table))
            ]
    finally:
        catalog.dispose()
    raw = b"".join(path.read_bytes() for path in server.home.glob("catalog.db*"))
    return "\n".join(rows).encode() + raw


def test_link_lifecycle(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "show.bin")
        link = _create(client, file_id, max_picks=2)
        direct = client.get(f"/api/v1/data/{collection}/show.bin")
    assert link["path"].startswith("/l/") and len(link["path"]) == len("/l/") + 43
    assert (link["state"], link["picks"], link["max_picks"], link["version"]) == (
        "active", 0, 2, 1,
    )  # fmt: skip
    url = server.url + link["path"]
    # No token needed, and a bogus one is ignored: the address is the credential.
    head = httpx.head(url, headers={"Authorization": "Bearer nonsense"})
    assert head.status_code == 200, head.text
    assert head.headers["content-length"] == str(len(DATA))
    for name in ("etag", "repr-digest", "content-type", "accept-ranges", "last-modified"):
        assert head.headers[name] == direct.headers[name], name
    assert "x-meta-owner" in direct.headers and "x-meta-owner" not in head.headers
    unchanged = httpx.get(url, headers={"If-None-Match": head.headers["etag"]})
    assert unchanged.status_code == 304
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == DATA
    assert whole.headers["content-digest"] == direct.headers["content-digest"]
    part = httpx.get(url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == DATA[:4]
    _gone(httpx.get(url), "used up")
    _gone(httpx.head(url), "used up")
    with server.client() as client:
        listed = _links(client, file_id)[link["id"]]
        picked = _events(client, file_id, "file.picked")
        created = _events(client, file_id, "link.created")
    assert (listed["state"], listed["picks"]) == ("used", 2)
    assert "path" not in listed
    assert [e["actor"] for e in picked] == [f"link:{link['id']}"] * 2
    assert [(e["details"]["pick"], e["details"]["range"]) for e in picked] == [
        (1, None), (2, [0, 3]),
    ]  # fmt: skip
    assert created[0]["details"]["link"] == link["id"]


def test_unknown_secret_is_404(server: LiveServer) -> None:
    answer = httpx.get(server.url + "/l/" + "A" * 43)
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:datoferum:problem:not-found"
    assert httpx.head(server.url + "/l/nothing").status_code == 404


def test_concurrent_picks_never_exceed_the_limit(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "popular.bin")
        link = _create(client, file_id, max_picks=3)
    url = server.url + link["path"]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=60), range(10)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 3 + [410] * 7
    assert all(a.content == DATA for a in answers if a.status_code == 200)
    with server.client() as client:
        assert _links(client, file_id)[link["id"]]["picks"] == 3
        picks = sorted(e["details"]["pick"] for e in _events(client, file_id, "file.picked"))
    assert picks == [1, 2, 3]


def test_expired_link_is_gone(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "late.bin")
        link = _create(client, file_id, expires_in_seconds=60)
    _set_expiry(server, link["id"], datetime(2000, 1, 1))
    _gone(httpx.get(server.url + link["path"]), "expired")
    with server.client() as client:
        assert _links(client, file_id)[link["id"]]["state"] == "expired"
        assert not _events(client, file_id, "file.picked")


def test_revoked_link_is_gone(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "revoked.bin")
        link = _create(client, file_id, max_picks=5)
        assert httpx.get(server.url + link["path"]).status_code == 200
        revoked = client.delete(f"/api/v1/links/{link['id']}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["state"] == "revoked" and revoked.json()["revoked_at"]
        again = client.delete(f"/api/v1/links/{link['id']}")
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
        assert len(_events(client, file_id, "link.revoked")) == 1
        unknown = client.delete("/api/v1/links/" + "0" * 32)
        assert unknown.status_code == 404
    _gone(httpx.get(server.url + link["path"]), "revoked")


def _purge_jobs(client: httpx.Client, link_id: str) -> list[dict[str, Any]]:
    jobs = client.get("/api/v1/jobs", params={"kind": "purge"}).json()["items"]
    return [job for job in jobs if job["payload"].get("cause") == {"link": link_id}]


def _purge_job(client: httpx.Client, link_id: str) -> dict[str, Any] | None:
    """The link's purge job once it has run."""
    done = [job for job in _purge_jobs(client, link_id) if job["state"] == "succeeded"]
    return done[0] if done else None


def test_purge_after_last_pick(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "once.bin")
        link = _create(client, file_id, max_picks=2, purge_after_last_pick=True)
    before = _objects(server.home)
    url = server.url + link["path"]
    assert httpx.get(url).content == DATA
    with server.client() as client:
        assert not _purge_jobs(client, link["id"])  # not before the last pick
        assert httpx.get(url).content == DATA  # the last pick
        job = _wait_for(lambda: _purge_job(client, link["id"]), "the purge job")
        assert len(_purge_jobs(client, link["id"])) == 1
        assert job["result"]["outcome"] == "purged"
        certificates = client.get(f"/api/v1/files/{file_id}/certificates").json()["items"]
        assert client.get(f"/api/v1/data/{collection}/once.bin").status_code == 404
        purged = _events(client, file_id, "file.purged")
    assert len(before - _objects(server.home)) == 1
    assert [c["certificate"]["cause"] for c in certificates] == [{"link": link["id"]}]
    assert purged[0]["details"]["cause"] == {"link": link["id"]}
    assert purged[0]["actor"] == link["created_by"]
    _gone(httpx.get(url), "used up")


def test_held_file_is_not_purged_after_last_pick(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "evidence.bin")
        hold = client.post(
            "/api/v1/holds",
            json={"scope": "file", "target": file_id, "reason": "case 7", "owner": "legal"},
        )
        assert hold.status_code == 201, hold.text
        link = _create(client, file_id, purge_after_last_pick=True)
        assert httpx.get(server.url + link["path"]).content == DATA
        job = _wait_for(lambda: _purge_job(client, link["id"]), "the purge job")
        refused = _events(client, file_id, "file.purge_refused")
        still = client.get(f"/api/v1/data/{collection}/evidence.bin")
        assert not _events(client, file_id, "file.purged")
    assert job["result"]["outcome"] == "held"
    assert refused[0]["details"]["cause"] == {"link": link["id"]}
    assert refused[0]["details"]["holds"] == [hold.json()["id"]]
    assert still.status_code == 200 and still.content == DATA


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"max_picks": 0}, "max_picks"),
        ({"max_picks": 1001}, "max_picks"),
        ({"max_picks": "3"}, "max_picks"),
        ({"max_picks": True}, "max_picks"),
        ({"expires_in_seconds": 59}, "expires_in_seconds"),
        ({"expires_in_seconds": 90 * 86400 + 1}, "expires_in_seconds"),
        ({"expires_in_seconds": 1e12}, "expires_in_seconds"),
        ({"purge_after_last_pick": "yes"}, "true or false"),
        ({"version": 0}, "version"),
        ({"max_pick": 3}, "unknown field"),
    ],
)
def test_bad_link_requests_are_400(
    server: LiveServer, collection: str, body: dict[str, Any], words: str
) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "bad.bin")
        answer = client.post(f"/api/v1/files/{file_id}/links", json=body)
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["detail"]
        assert not _links(client, file_id)


def test_links_to_nothing_are_refused(
    server: LiveServer, collection: str, role_tokens: dict[str, str]
) -> None:
    unknown = "0" * 32
    with server.client() as client:
        file_id = _upload(client, collection, "gone.bin")
        assert client.post(f"/api/v1/files/{unknown}/links", json={}).status_code == 404
        assert client.get(f"/api/v1/files/{unknown}/links").status_code == 404
        assert client.post(f"/api/v1/files/{file_id}/links", json={"version": 9}).status_code == 404
        link = _create(client, file_id, max_picks=3)
        assert client.post(f"/api/v1/files/{file_id}/purge", json={}).status_code == 200
        late = client.post(f"/api/v1/files/{file_id}/links", json={})
        assert late.status_code == 409 and "purged" in late.json()["detail"]
        assert _links(client, file_id)[link["id"]]["state"] == "purged"
        other = _upload(client, collection, "other.bin")
    _gone(httpx.get(server.url + link["path"]), "purged")
    with server.client(token=role_tokens["consumer"]) as consumer:
        refused = consumer.post(
            f"/api/v1/files/{other}/links", json={"purge_after_last_pick": True}
        )
        assert refused.status_code == 403
        assert "purges the file" in refused.json()["detail"]
        assert consumer.post(f"/api/v1/files/{other}/links", json={}).status_code == 201


def test_secrets_stay_secret(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "quiet.bin")
        links = [_create(client, file_id, max_picks=1) for _ in range(2)]
        for link in links:
            httpx.get(server.url + link["path"])
            httpx.get(server.url + link["path"])  # 410
        client.delete(f"/api/v1/links/{links[1]['id']}")
        events = client.get("/api/v1/events", params={"limit": 10000}).text
        listed = client.get(f"/api/v1/files/{file_id}/links").text
    secrets = [link["path"].removeprefix("/l/") for link in links]
    log = server.log.read_text()
    catalog = _catalog_contents(server)
    for secret in secrets:
        assert secret not in events and secret not in listed and secret not in log
        assert secret.encode() not in catalog


def test_link_cli(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file_id = _upload(client, collection, "cli.bin")
    made = server.cli("link", "create", file_id, "--picks", "2", "--expires", "24h")
    assert made.returncode == 0, made.stderr
    url = next(line.split()[-1] for line in made.stdout.splitlines() if line.startswith("url"))
    assert url.startswith(server.url + "/l/")
    assert httpx.get(url).content == DATA
    listed = server.cli("link", "list", file_id)
    assert listed.returncode == 0, listed.stderr
    link_id = listed.stdout.splitlines()[1].split()[0]
    assert "1/2" in listed.stdout and "active" in listed.stdout
    revoked = server.cli("link", "revoke", link_id)
    assert revoked.returncode == 0 and f"revoked link {link_id}" in revoked.stdout
    assert httpx.get(url).status_code == 410
    for bad in (["--expires", "soon"], ["--expires", "1s"], ["--picks", "0"]):
        failed = server.cli("link", "create", file_id, *bad)
        assert failed.returncode != 0
        assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("datoferum: error:")


def test_links_of_every_file_by_state(server: LiveServer, collection: str) -> None:
    """``GET /api/v1/links``: a window over every file's links; the state filter, computed in
    SQL, must agree with the state each link reports."""
    with server.client() as client:
        first = _upload(client, collection, f"{collection}-one.bin")
        second = _upload(client, collection, f"{collection}-two.bin")
        made = {
            "active": _create(client, first, max_picks=3),
            "used": _create(client, first, max_picks=1),
            "expired": _create(client, second, expires_in_seconds=3600),
            "revoked": _create(client, second),
        }
        assert httpx.get(server.url + made["used"]["path"]).status_code == 200
        assert client.delete(f"/api/v1/links/{made['revoked']['id']}").status_code == 200
    _set_expiry(server, made["expired"]["id"], datetime(2000, 1, 1))
    with server.client() as client:

        def listed(**window: Any) -> httpx.Response:
            params = {name: json.dumps(value) for name, value in window.items()}
            return client.get("/api/v1/links", params=params)

        every = listed(filter={"q": collection}, sort=["expires_at", "ASC"], range=[0, 9])
        assert every.status_code == 200, every.text
        assert every.headers["content-range"] == "links 0-3/4"
        items = every.json()["items"]
        assert items[0]["id"] == made["expired"]["id"]  # the one expired in 2000 comes first
        assert {item["id"]: item["state"] for item in items} == {
            link["id"]: state for state, link in made.items()
        }
        assert {(item["collection"], item["path"]) for item in items} == {
            (collection, f"{collection}-one.bin"), (collection, f"{collection}-two.bin"),
        }  # fmt: skip
        assert all("secret" not in str(item) and "/l/" not in str(item) for item in items)
        for state, link in made.items():
            found = listed(filter={"q": collection, "state": state}).json()["items"]
            assert [(item["id"], item["state"]) for item in found] == [(link["id"], state)]
        assert listed(filter={"file_id": second, "state": "active"}).json()["items"] == []
        paged = listed(filter={"q": collection}, sort=["id", "ASC"], range=[1, 2])
        assert paged.headers["content-range"] == "links 1-2/4"
        assert [i["id"] for i in paged.json()["items"]] == sorted(m["id"] for m in made.values())[
            1:3
        ]
        wrong_state = listed(filter={"state": "lost"})
        assert wrong_state.status_code == 400
        assert "active, revoked, used" in wrong_state.json()["detail"]
        assert listed(sort=["secret_hash", "ASC"]).status_code == 400
        assert client.get("/api/v1/links").headers["content-range"].startswith("links ")
        producer = client.post("/api/v1/tokens", json={"name": "no links", "role": "producer"})
        auditor = client.post("/api/v1/tokens", json={"name": "sees links", "role": "auditor"})
    refused = httpx.get(
        f"{server.url}/api/v1/links",
        headers={"Authorization": f"Bearer {producer.json()['token']}"},
    )
    assert refused.status_code == 403 and "list download links" in refused.json()["detail"]
    allowed = httpx.get(
        f"{server.url}/api/v1/links",
        headers={"Authorization": f"Bearer {auditor.json()['token']}"},
    )
    assert allowed.status_code == 200
