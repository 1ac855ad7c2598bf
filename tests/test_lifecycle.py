"""Holds, signals and direct purges over the real API; certificates verified offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


def _upload(client: httpx.Client, collection: str, path: str, data: bytes) -> dict[str, Any]:
    answer = client.put(f"/api/v1/data/{collection}/{path}", content=data)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _objects(home: Path) -> set[str]:
    return {p.name for p in (home / "objects" / "objects").rglob("*") if p.is_file()}


def _event_types(client: httpx.Client, file_id: str) -> list[str]:
    return [e["type"] for e in client.get(f"/api/v1/files/{file_id}/events").json()["items"]]


def _purge(client: httpx.Client, file_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/files/{file_id}/purge", json={"reason": "test", **body})


def test_purge_removes_every_version_and_issues_certificates(
    server: LiveServer, collection: str, tmp_path: Path
) -> None:
    with server.client() as client:
        first = _upload(client, collection, "clip.mp4", b"version one")
        _upload(client, collection, "clip.mp4", b"version two")
        before = _objects(server.home)
        answer = _purge(client, first["id"])
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [(i["version"], i["outcome"]) for i in items] == [(1, "purged"), (2, "purged")]
        assert len(before - _objects(server.home)) == 2
        assert client.get(f"/api/v1/data/{collection}/clip.mp4").status_code == 404
        assert client.get(f"/api/v1/data/{collection}/clip.mp4?version=1").status_code == 404
        record = client.get(f"/api/v1/files/{first['id']}").json()
        assert record["state"] == "purged"
        assert {v["state"] for v in record["versions"]} == {"purged"}
        types = _event_types(client, first["id"])
        assert types.count("file.purge_started") == 2 and types.count("file.purged") == 2
        again = _purge(client, first["id"]).json()["items"]
        assert {i["outcome"] for i in again} == {"already-purged"}
        certificate = client.get(f"/api/v1/certificates/{items[1]['certificate_id']}").json()
        key = client.get("/api/v1/keys").json()["public_key_pem"]
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
    (tmp_path / "cert.json").write_text(json.dumps(certificate))
    (tmp_path / "key.pem").write_text(key)
    verified = server.cli("certificate", "verify", str(tmp_path / "cert.json"), "--key",
                          str(tmp_path / "key.pem"), token=None)  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    document = certificate["certificate"]
    assert document["version"] == 2
    assert document["sha256"] == record["versions"][0]["sha256"]
    assert document["cause"] == {"direct": True, "reason": "test"}


def test_dry_run_plan_acts_on_exactly_what_it_showed(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file = _upload(client, collection, "plan.bin", b"one")
        preview = _purge(client, file["id"], dry_run=True).json()
        assert preview["dry_run"] is True
        assert [(i["version"], i["outcome"]) for i in preview["items"]] == [(1, "would-purge")]
        assert client.get(f"/api/v1/data/{collection}/plan.bin").status_code == 200
        _upload(client, collection, "plan.bin", b"two")  # arrives after the preview
        done = _purge(client, file["id"], plan=preview["plan_id"]).json()
        assert [(i["version"], i["outcome"]) for i in done["items"]] == [(1, "purged")]
        assert client.get(f"/api/v1/data/{collection}/plan.bin").content == b"two"
        reused = _purge(client, file["id"], plan=preview["plan_id"])
        assert reused.status_code == 409 and "already executed" in reused.json()["detail"]
        other = _upload(client, collection, "other.bin", b"x")
        wrong = _purge(client, other["id"], plan=preview["plan_id"])
        assert wrong.status_code in (400, 409)


def test_file_hold_blocks_purge_until_released(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file = _upload(client, collection, "evidence.bin", b"keep me")
        hold = client.post(
            "/api/v1/holds",
            json={"scope": "file", "target": file["id"], "reason": "case 42", "owner": "legal"},
        )
        assert hold.status_code == 201, hold.text
        twin = client.post(
            "/api/v1/holds",
            json={"scope": "file", "target": file["id"], "reason": "again", "owner": "legal"},
        )
        assert twin.status_code == 409
        refused = _purge(client, file["id"])
        assert refused.status_code == 409
        problem = refused.json()
        assert problem["type"].endswith(":held") and "case 42" in problem["detail"]
        assert problem["outcomes"][0]["holds"] == [hold.json()["id"]]
        assert client.get(f"/api/v1/data/{collection}/evidence.bin").content == b"keep me"
        assert "file.purge_refused" in _event_types(client, file["id"])
        released = client.post(
            f"/api/v1/holds/{hold.json()['id']}/release", json={"reason": "closed"}
        )
        assert released.status_code == 200 and released.json()["active"] is False
        again = client.post(f"/api/v1/holds/{hold.json()['id']}/release", json={"reason": "x"})
        assert again.status_code == 409
        assert _purge(client, file["id"]).status_code == 200
        late = client.post(
            "/api/v1/holds",
            json={"scope": "file", "target": file["id"], "reason": "too late", "owner": "legal"},
        )
        assert late.status_code == 409 and "purged" in late.json()["detail"]
        types = _event_types(client, file["id"])
        assert (
            types.index("hold.placed") < types.index("hold.released") < types.index("file.purged")
        )


def test_collection_hold_covers_files_added_later(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        hold = client.post(
            "/api/v1/holds",
            json={"scope": "collection", "target": collection, "reason": "audit", "owner": "cfo"},
        ).json()
        later = _upload(client, collection, "later.bin", b"new")
        assert _purge(client, later["id"]).status_code == 409
        listed = client.get("/api/v1/holds").json()["items"]
        assert hold["id"] in {h["id"] for h in listed}
        client.post(f"/api/v1/holds/{hold['id']}/release", json={"reason": "audit done"})
        assert hold["id"] not in {h["id"] for h in client.get("/api/v1/holds").json()["items"]}
        assert hold["id"] in {
            h["id"] for h in client.get("/api/v1/holds", params={"all": "true"}).json()["items"]
        }
        assert _purge(client, later["id"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"scope": "planet", "target": "x", "reason": "r", "owner": "o"},
            400,
            "unknown hold scope",
        ),
        ({"scope": "file", "target": "0" * 32, "reason": "r", "owner": "o"}, 404, "no file"),
        (
            {"scope": "collection", "target": "Bad Name", "reason": "r", "owner": "o"},
            400,
            "invalid",
        ),
        ({"scope": "collection", "target": "ok", "reason": "", "owner": "o"}, 400, "reason"),
        ({"scope": "collection", "target": "ok", "reason": "r"}, 400, "owner"),
    ],
)
def test_bad_holds_are_refused(
    server: LiveServer, body: dict[str, Any], status: int, words: str
) -> None:
    with server.client() as client:
        answer = client.post("/api/v1/holds", json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.json()["detail"]


def test_signals(server: LiveServer, collection: str, role_tokens: dict[str, str]) -> None:
    with server.client() as client:
        file = _upload(client, collection, "signalled.bin", b"s")
    url = f"/api/v1/files/{file['id']}/signals"
    with server.client(token=role_tokens["consumer"]) as consumer:
        sent = consumer.post(url, json={"name": "consumed", "data": {"by": "player-7"}})
        assert sent.status_code == 201, sent.text
        assert sent.json()["details"] == {"name": "consumed", "data": {"by": "player-7"}}
        for bad in ({"name": "Consumed!"}, {"name": "ok", "data": [1]}, {}):
            answer = consumer.post(url, json=bad)
            assert answer.status_code == 400, (bad, answer.text)
        assert (
            consumer.post(f"/api/v1/files/{'0' * 32}/signals", json={"name": "x"}).status_code
            == 404
        )
        assert consumer.post(url, json={"name": "published"}).status_code == 201
    with server.client(token=role_tokens["producer"]) as producer:
        listed = producer.get(url)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [(i["name"], i["data"], i["version"]) for i in items] == [
            ("published", {}, 1), ("consumed", {"by": "player-7"}, 1),
        ]  # fmt: skip
        assert items[0]["actor"].startswith("token:") and items[0]["at"].endswith("Z")
        assert [i["name"] for i in producer.get(url, params={"limit": 1}).json()["items"]] == [
            "published"
        ]
        assert producer.get(url, params={"limit": 0}).status_code == 400
        assert producer.get(f"/api/v1/files/{'0' * 32}/signals").status_code == 404
    with server.client() as client:
        assert "file.signal" in _event_types(client, file["id"])
        assert _purge(client, file["id"]).status_code == 200
        late = client.post(url, json={"name": "consumed"})
        assert late.status_code == 409 and "purged" in late.json()["detail"]


def test_purge_cli(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file = _upload(client, collection, "cli.bin", b"c")
    preview = server.cli("purge", file["id"], "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "would-purge" in preview.stdout and "--plan" in preview.stdout
    plan_id = preview.stdout.split("--plan ")[1].split()[0]
    done = server.cli("purge", file["id"], "--plan", plan_id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items"][0]["outcome"] == "purged"
    held_file = None
    with server.client() as client:
        held_file = _upload(client, collection, "held.bin", b"h")
    placed = server.cli(
        "hold", "place", "--file", held_file["id"], "--reason", "case", "--owner", "me"
    )
    assert placed.returncode == 0, placed.stderr
    refused = server.cli("purge", held_file["id"])
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1 and "legal hold" in refused.stderr


def _retain(client: httpx.Client, file_id: str, **body: Any) -> httpx.Response:
    return client.post(
        f"/api/v1/files/{file_id}/retention", json={"version": 1, "reason": "test", **body}
    )


def test_governance_retention_admins_may_bypass(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        file = _upload(client, collection, "gov.bin", b"g")
        assert _retain(client, file["id"], retain_until="2099-01-01T00:00:00Z").status_code == 200
        refused = _purge(client, file["id"])
        assert refused.status_code == 409 and refused.json()["type"].endswith(":retained")
        shortened = _retain(client, file["id"], retain_until="2098-01-01T00:00:00Z")
        assert shortened.status_code == 200
        assert "file.retention_shortened" in _event_types(client, file["id"])
        done = _purge(client, file["id"], bypass_governance=True)
        assert done.status_code == 200, done.text
        started = [
            e
            for e in client.get(f"/api/v1/files/{file['id']}/events").json()["items"]
            if e["type"] == "file.purge_started"
        ]
        assert started[0]["details"]["governance_bypassed"] is True


def test_compliance_retention_only_grows(
    server: LiveServer, collection: str, role_tokens: dict[str, str]
) -> None:
    with server.client() as client:
        file = _upload(client, collection, "comp.bin", b"c")
        set_ = _retain(client, file["id"], retain_until="2090-01-01T00:00:00Z", mode="compliance")
        assert set_.status_code == 200, set_.text
        shorter = _retain(client, file["id"], retain_until="2080-01-01T00:00:00Z")
        assert shorter.status_code == 409 and "only be extended" in shorter.json()["detail"]
        weaker = _retain(client, file["id"], retain_until="2095-01-01T00:00:00Z", mode="governance")
        assert weaker.status_code == 409
        assert _retain(client, file["id"], retain_until="2095-01-01T00:00:00Z").status_code == 200
        assert _purge(client, file["id"], bypass_governance=True).status_code == 409
        assert client.get(f"/api/v1/data/{collection}/comp.bin").content == b"c"
        for bad in ({"retain_until": "soon"}, {"retain_until": "2099-01-01", "mode": "forever"}):
            assert _retain(client, file["id"], **bad).status_code == 400
    with server.client(token=role_tokens["auditor"]) as auditor:
        assert _retain(auditor, file["id"], retain_until="2099-01-01").status_code == 403


def test_expired_retention_purges_unless_held(server: LiveServer, collection: str) -> None:
    from datoferum.config import Settings
    from datoferum.services.wiring import build_services

    with server.client() as client:
        due = _upload(client, collection, "due.bin", b"d")
        held = _upload(client, collection, "held-due.bin", b"h")
        note = _upload(client, collection, "note.bin", b"n")
        for file, then in ((due, "purge"), (held, "purge"), (note, "notify")):
            assert (
                _retain(client, file["id"], retain_until="2000-01-01", then=then).status_code == 200
            )
        client.post(
            "/api/v1/holds",
            json={"scope": "file", "target": held["id"], "reason": "case", "owner": "legal"},
        )
        status = client.get("/api/v1/queue").json()
        assert status["purges_overdue"] >= 2 and status["purge_lag_seconds"] > 0
    services = build_services(Settings(home=server.home, database_url=server.database_url))
    try:
        counts = services.retention.sweep()
    finally:
        services.close()
    assert counts["purged"] >= 1 and counts["held"] >= 1 and counts["notified"] >= 1
    with server.client() as client:
        assert client.get(f"/api/v1/data/{collection}/due.bin").status_code == 404
        assert client.get(f"/api/v1/data/{collection}/held-due.bin").content == b"h"
        assert client.get(f"/api/v1/data/{collection}/note.bin").content == b"n"
        assert "file.retention_notified" in _event_types(client, note["id"])
        purged = client.get(f"/api/v1/files/{due['id']}/events").json()["items"][-1]
        assert purged["type"] == "file.purged" and purged["actor"] == "retention"
