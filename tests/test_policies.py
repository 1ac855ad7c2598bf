"""Policies through the real API: versions, classification at capture, runs, plans, signals."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


def _apply(client: httpx.Client, yaml_text: str, source: str = "test.yaml") -> httpx.Response:
    return client.post(
        "/api/v1/policies", params={"source": source}, content=yaml_text.encode(),
        headers={"Content-Type": "application/yaml"},
    )  # fmt: skip


def _upload(
    client: httpx.Client, collection: str, path: str, data: bytes, **headers: str
) -> httpx.Response:
    return client.put(f"/api/v1/data/{collection}/{path}", content=data, headers=headers)


def _wait_job(client: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _events(client: httpx.Client, file_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"/api/v1/files/{file_id}/events").json()["items"]
    return items


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def test_versions_follow_changes_and_deletion(server: LiveServer, collection: str) -> None:
    name = f"{collection}-tagger"
    text = f"""
policies:
  - name: {name}
    resource: file
    mode: {{type: manual}}
    filters:
      - collection: {collection}
    actions:
      - tag: {{tier: raw}}
"""
    with server.client() as client:
        first = _apply(client, text).json()["items"]
        assert first == [{"name": name, "version": 1, "change": "created"}]
        assert _apply(client, text).json()["items"][0]["change"] == "kept"
        changed = _apply(client, text.replace("raw", "cold")).json()["items"][0]
        assert (changed["version"], changed["change"]) == (2, "updated")
        history = client.get(f"/api/v1/policies/{name}").json()["items"]
        assert [h["version"] for h in history] == [2, 1] and "cold" in history[0]["document"]
        assert client.delete(f"/api/v1/policies/{name}").json()["version"] == 3
        assert name not in {p["name"] for p in client.get("/api/v1/policies").json()["items"]}
        assert client.delete(f"/api/v1/policies/{name}").status_code == 409
        kinds = [e["details"].get("policy_version") for e in client.get(
            "/api/v1/events", params={"type": "policy."}).json()["items"]
            if e["details"].get("policy") == name]  # fmt: skip
        assert kinds == [1, 2, 3]


def test_invalid_policy_names_line_and_field(server: LiveServer) -> None:
    text = "policies:\n  - name: broken\n    resource: file\n    mode: {type: manual}\n" \
           "    filters:\n      - colection: x\n    actions: []\n"  # fmt: skip
    with server.client() as client:
        answer = _apply(client, text, source="broken.yaml")
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["type"].endswith("invalid-policy")
    unknown, empty = problem["errors"]
    assert unknown["line"] == 6 and "colection" in unknown["message"]
    assert unknown["field"] == "policies[0].filters[0]"
    assert empty["line"] == 7 and "at least one action" in empty["message"]
    assert "broken.yaml" in problem["detail"]


def test_capture_policies_classify_and_reject(server: LiveServer, collection: str) -> None:
    text = f"""
policies:
  - name: {collection}-mp4-only
    resource: file
    mode: {{type: capture}}
    filters:
      - collection: {collection}
      - not: {{content-type: "video/*"}}
    actions:
      - reject: "only video is accepted here"
  - name: {collection}-keep
    resource: file
    mode: {{type: capture}}
    filters:
      - collection: {collection}
    actions:
      - tag: {{tier: raw}}
      - personal: [cpf]
      - retention: {{days: 365, from: capture, mode: compliance, then: purge}}
      - storage-policy: hot
"""
    with server.client() as client:
        assert _apply(client, text).status_code == 200
        time.sleep(2.1)  # capture reads policies through a short cache
        refused = _upload(client, collection, "notes.txt", b"just text\n", **{"X-Meta-Cpf": "1"})
        assert refused.status_code == 422, refused.text
        assert "only video is accepted here" in refused.json()["detail"]
        assert client.get(f"/api/v1/data/{collection}/notes.txt").status_code == 404
        rejected = client.get("/api/v1/events", params={"type": "capture.rejected"}).json()["items"]
        assert any("mp4-only" in e["details"]["reason"] for e in rejected)

        stored = _upload(client, collection, "clip.mp4", MP4_HEAD, **{"X-Meta-Cpf": "123"})
        assert stored.status_code == 201, stored.text
        body = stored.json()
        assert body["sniffed_type"] == "video/mp4" and body["tags"] == {"tier": "raw"}
        assert body["retention"]["mode"] == "compliance" and body["retention"]["then"] == "purge"
        until = datetime.fromisoformat(body["retention"]["until"].rstrip("Z"))
        assert timedelta(days=364) < until - datetime.utcnow() < timedelta(days=366)
        types = [e["type"] for e in _events(client, body["id"])]
        assert types == ["file.captured", "file.classified", "file.stored"]
        classified = _events(client, body["id"])[1]["details"]
        assert classified["policies"] == [f"{collection}-keep@1"]
        record = client.get(f"/api/v1/files/{body['id']}").json()
        assert record["versions"][0]["personal_keys"] == ["cpf"]
        assert record["versions"][0]["storage_policy"] == "hot"
        _apply(client, text.replace("type: capture", "type: manual"))


def test_dry_run_then_exact_plan_then_purge_action(server: LiveServer, collection: str) -> None:
    name = f"{collection}-cleanup"
    text = f"""
policies:
  - name: {name}
    resource: file
    mode: {{type: manual}}
    filters:
      - collection: {collection}
      - path: "tmp/**"
    actions:
      - purge: {{}}
"""
    with server.client() as client:
        ids = [_upload(client, collection, f"tmp/{n}.bin", b"x").json()["id"] for n in range(3)]
        keep = _upload(client, collection, "keep/a.bin", b"k").json()["id"]
        hold = {"scope": "file", "target": ids[0], "reason": "case", "owner": "legal"}
        client.post("/api/v1/holds", json=hold)
        _apply(client, text)
        preview = client.post(f"/api/v1/policies/{name}/run", json={"dry_run": True}).json()
        assert preview["files"] == 3
        assert {item["file_id"] for item in preview["items"]} == set(ids)
        late = _upload(client, collection, "tmp/late.bin", b"late").json()["id"]
        started = client.post(f"/api/v1/policies/{name}/run", json={"plan": preview["plan_id"]})
        assert started.status_code == 202
        job = _wait_job(client, started.json()["id"])
        assert job["state"] == "succeeded", job
        assert job["result"]["outcomes"] == {"purged": 2, "held": 1}
        again = client.post(f"/api/v1/policies/{name}/run", json={"plan": preview["plan_id"]})
        assert again.status_code == 409 and "already executed" in again.json()["detail"]
        states = {i: client.get(f"/api/v1/files/{i}").json()["state"] for i in [*ids, late, keep]}
        assert states == {ids[0]: "stored", ids[1]: "purged", ids[2]: "purged", late: "stored",
                          keep: "stored"}  # fmt: skip
        purged = _events(client, ids[1])[-1]
        assert purged["type"] == "file.purged" and purged["actor"] == f"policy:{name}"
        assert purged["details"]["cause"]["policy"] == name
        assert purged["details"]["cause"]["policy_version"] == 1
        certificate = client.get(f"/api/v1/certificates/{purged['details']['certificate']}").json()
        assert certificate["certificate"]["cause"]["policy"] == name
        refused = [e for e in _events(client, ids[0]) if e["type"] == "file.purge_refused"]
        assert refused and refused[0]["actor"] == f"policy:{name}"


def test_retention_counts_from_a_signal(server: LiveServer, collection: str) -> None:
    text = f"""
policies:
  - name: {collection}-after-consumed
    resource: file
    mode: {{type: manual}}
    filters:
      - collection: {collection}
    actions:
      - retention: {{days: 30, from: "signal:consumed", mode: governance, then: purge}}
"""
    with server.client() as client:
        _apply(client, text)
        time.sleep(2.1)
        file = _upload(client, collection, "movie.mp4", MP4_HEAD).json()
        assert file["retention"] is None
        signal = client.post(f"/api/v1/files/{file['id']}/signals", json={"name": "consumed"})
        assert signal.status_code == 201
        version = client.get(f"/api/v1/files/{file['id']}").json()["versions"][0]
        until = datetime.fromisoformat(version["retention"]["until"].rstrip("Z"))
        sent = datetime.fromisoformat(signal.json()["time"].rstrip("Z"))
        assert until - sent == timedelta(days=30)
        assert version["retention"]["then"] == "purge"
        set_event = [e for e in _events(client, file["id"]) if e["type"] == "file.retention_set"]
        assert set_event and set_event[0]["actor"] == f"policy:{collection}-after-consumed"


def test_bulk_signal_by_query_with_exact_plan(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        ids = [_upload(client, collection, f"ep/{n}.mp4", MP4_HEAD).json()["id"] for n in range(3)]
        other = _upload(client, collection, "trailer/t.mp4", MP4_HEAD).json()["id"]
        body = {"name": "published", "query": [{"collection": collection}, {"path": "ep/*"}]}
        preview = client.post("/api/v1/signals", json={**body, "dry_run": True}).json()
        assert preview["files"] == 3
        late = _upload(client, collection, "ep/late.mp4", MP4_HEAD).json()["id"]
        job = client.post("/api/v1/signals", json={**body, "plan": preview["plan_id"]})
        assert job.status_code == 202
        done = _wait_job(client, job.json()["id"])
        assert done["result"] == {"signal": "published", "files": 3, "sent": 3, "skipped": 0}
        got = {
            i: [e for e in _events(client, i) if e["type"] == "file.signal"]
            for i in [*ids, other, late]
        }
        assert all(len(got[i]) == 1 for i in ids) and not got[other] and not got[late]
        assert got[ids[0]][0]["details"]["name"] == "published"
        bad = client.post("/api/v1/signals", json={"name": "published", "query": [{"colour": 1}]})
        assert bad.status_code == 400


def test_reclassification_applies_todays_capture_policies(
    server: LiveServer, collection: str
) -> None:
    with server.client() as client:
        old = _upload(client, collection, "old.mp4", MP4_HEAD).json()
        assert old["tags"] == {}
        text = f"""
policies:
  - name: {collection}-later
    resource: file
    mode: {{type: capture}}
    filters:
      - collection: {collection}
    actions:
      - tag: {{reviewed: "yes"}}
      - retention: {{days: 10, from: capture, mode: governance, then: notify}}
"""
        _apply(client, text)
        started = client.post("/api/v1/classify", json={"query": [{"collection": collection}]})
        assert started.status_code == 202
        done = _wait_job(client, started.json()["id"])
        assert done["result"]["outcomes"] == {"classified": 1}, done
        version = client.get(f"/api/v1/files/{old['id']}").json()["versions"][0]
        assert version["tags"] == {"reviewed": "yes"}
        assert version["retention"]["then"] == "notify"
        classified = [e for e in _events(client, old["id"]) if e["type"] == "file.classified"]
        assert classified[-1]["actor"] == "reclassification"
        _apply(client, text.replace("type: capture", "type: manual"))


def test_policy_cli(server: LiveServer, collection: str, tmp_path: Any) -> None:
    name = f"{collection}-cli"
    path = tmp_path / "p.yaml"
    path.write_text(
        f"policies:\n  - name: {name}\n    resource: file\n    mode: {{type: manual}}\n"
        f"    filters:\n      - collection: {collection}\n    actions:\n      - tag: {{a: b}}\n"
    )
    with server.client() as client:
        file_id = _upload(client, collection, "x.mp4", MP4_HEAD).json()["id"]
    assert server.cli("policy", "validate", str(path), token=None).returncode == 0
    applied = server.cli("policy", "apply", str(path))
    assert applied.returncode == 0 and "version 1 (created)" in applied.stdout, applied.stderr
    preview = server.cli("policy", "run", name, "--dry-run")
    assert preview.returncode == 0 and file_id in preview.stdout
    plan_id = preview.stdout.split("--plan ")[1].split(")")[0]
    ran = server.cli("policy", "run", name, "--plan", plan_id, "--wait")
    assert ran.returncode == 0 and "succeeded" in ran.stdout, ran.stderr
    assert name in server.cli("policy", "list").stdout
    assert "tag: {a: b}" in server.cli("policy", "show", name).stdout
    missing = server.cli("policy", "run", "no-such-policy")
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1


def test_scheduled_policy_runs_when_due(server: LiveServer, collection: str) -> None:
    from datoferum.config import Settings
    from datoferum.services.scheduler import Scheduler
    from datoferum.services.wiring import build_services

    name = f"{collection}-nightly"
    text = f"""
policies:
  - name: {name}
    resource: file
    mode: {{type: periodic, schedule: "0 3 * * *"}}
    filters:
      - collection: {collection}
    actions:
      - notify: {{message: nightly check}}
"""
    with server.client() as client:
        file_id = _upload(client, collection, "n.mp4", MP4_HEAD).json()["id"]
        _apply(client, text)
    services = build_services(Settings(home=server.home, database_url=server.database_url))
    try:
        queued = Scheduler(services.catalog, services.scheduled_job).run_once(
            datetime.utcnow() + timedelta(days=1, hours=1)
        )
    finally:
        services.close()
    mine = [job for job in queued if job.payload.get("name") == name]
    assert len(mine) == 1 and mine[0].kind == "policy.run"
    with server.client() as client:
        assert _wait_job(client, mine[0].id)["state"] == "succeeded"
        notes = [e for e in _events(client, file_id) if e["type"] == "policy.notified"]
        assert notes and notes[0]["details"]["message"] == "nightly check"
        assert notes[0]["details"]["requested_by"] == f"schedule:policy.run:{name}"


def test_purge_erases_personal_metadata_and_the_log_keeps_only_hashes(
    server: LiveServer, collection: str
) -> None:
    import hashlib

    text = f"""
policies:
  - name: {collection}-personal
    resource: file
    mode: {{type: capture}}
    filters:
      - collection: {collection}
    actions:
      - personal: [email]
"""
    with server.client() as client:
        _apply(client, text)
        time.sleep(2.1)
        stored = _upload(
            client, collection, "form.pdf", b"%PDF-1.7\n...",
            **{"X-Meta-Email": "ana@example.com", "X-Meta-Campaign": "spring"},
        ).json()  # fmt: skip
        assert client.post(f"/api/v1/files/{stored['id']}/purge", json={}).status_code == 200
        version = client.get(f"/api/v1/files/{stored['id']}").json()["versions"][0]
        assert version["metadata"] == {"campaign": "spring"}
        events = _events(client, stored["id"])
        everything = str(client.get("/api/v1/events", params={"limit": 10000}).json())
        _apply(client, text.replace("type: capture", "type: manual"))
    assert "ana@example.com" not in everything
    captured = next(e for e in events if e["type"] == "file.captured")
    digest = hashlib.sha256(b"ana@example.com").hexdigest()
    assert captured["details"]["metadata"]["email"] == f"sha256:{digest}"
    purged = next(e for e in events if e["type"] == "file.purged")
    assert purged["details"]["erased_metadata"] == ["email"]
