"""Erasure requests over the real API: preview, plan execution, certificates, and no trace of the
subject's value anywhere the product keeps or records things."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True

SUBJECT = "cpf:123.456.789-00"
SUBJECT_HASH = hashlib.sha256(f"subject\n{SUBJECT}".encode()).hexdigest()


def _upload(
    client: httpx.Client, collection: str, path: str, data: bytes, **meta: str
) -> dict[str, Any]:
    headers = {f"X-Meta-{key}".encode(): value.encode() for key, value in meta.items()}
    answer = client.put(f"/api/v1/data/{collection}/{path}", content=data, headers=headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _objects(home: Path) -> set[str]:
    return {p.name for p in (home / "objects" / "objects").rglob("*") if p.is_file()}


def _erase(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/api/v1/erasure", json=body)


def _wait(client: httpx.Client, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        request: dict[str, Any] = client.get(f"/api/v1/erasure/{request_id}").json()
        if request["state"] in ("succeeded", "failed", "cancelled"):
            return request
        time.sleep(0.2)
    raise AssertionError(f"erasure request {request_id} did not finish")


def _all_events(client: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/api/v1/events", params={"after": after, "limit": 10000}).json()
        found += page["items"]
        if page["next_after"] is None:
            return found
        after = page["next_after"]


def _catalog(client: httpx.Client, a: str, b: str) -> dict[str, dict[str, Any]]:
    """Two collections of files, some versions naming the subject; returns files by name."""
    files = {
        "one": _upload(client, a, "one.txt", b"one v1", subject=SUBJECT),
        "other": _upload(client, a, "other.txt", b"other", subject="cpf:999.999.999-99"),
        # The value under another key: the LIKE prefilter matches it, the JSON check must not.
        "note": _upload(client, a, "note.txt", b"note", note=SUBJECT),
        "two": _upload(client, b, "two.txt", b"two", subject=SUBJECT, owner="ana"),
        "held": _upload(client, b, "held.txt", b"held", subject=SUBJECT),
        "kept": _upload(client, b, "kept.txt", b"kept", subject=SUBJECT),
        "plain": _upload(client, b, "plain.txt", b"plain"),
    }
    _upload(client, a, "one.txt", b"one v2", subject="cpf:000.000.000-00")
    _upload(client, a, "one.txt", b"one v3", Subject=SUBJECT)
    return files


def _hold_and_retain(client: httpx.Client, files: dict[str, dict[str, Any]]) -> str:
    hold = client.post(
        "/api/v1/holds",
        json={"scope": "file", "target": files["held"]["id"], "reason": "case 7", "owner": "legal"},
    )
    assert hold.status_code == 201, hold.text
    retained = client.post(
        f"/api/v1/files/{files['kept']['id']}/retention",
        json={"version": 1, "retain_until": "2090-01-01T00:00:00Z", "mode": "compliance",
              "reason": "tax law"},
    )  # fmt: skip
    assert retained.status_code == 200, retained.text
    hold_id: str = hold.json()["id"]
    return hold_id


def _verify_certificate(server: LiveServer, tmp_path: Path, certificate: dict[str, Any]) -> None:
    with server.client() as client:
        key = client.get("/api/v1/keys").json()["public_key_pem"]
    (tmp_path / "key.pem").write_text(key)
    path = tmp_path / f"{certificate['certificate']['id']}.json"
    path.write_text(json.dumps(certificate))
    verified = server.cli("certificate", "verify", str(path), "--key", str(tmp_path / "key.pem"),
                          token=None)  # fmt: skip
    assert verified.returncode == 0, verified.stderr


def test_erasure_purges_exactly_the_previewed_versions(
    fresh_server: LiveServer, collection: str, tmp_path: Path
) -> None:
    server = fresh_server
    a, b = f"{collection}-a", f"{collection}-b"
    with server.client() as client:
        files = _catalog(client, a, b)
        hold_id = _hold_and_retain(client, files)

        preview = _erase(client, value=SUBJECT, reason="ticket 42")
        assert preview.status_code == 200, preview.text
        shown = preview.json()
        assert shown["dry_run"] is True and shown["state"] == "previewed"
        assert shown["subject_hash"] == SUBJECT_HASH
        outcomes = {(i["path"], i["version"]): i["outcome"] for i in shown["items"]}
        assert outcomes == {
            ("one.txt", 1): "would-purge", ("one.txt", 3): "would-purge",
            ("two.txt", 1): "would-purge", ("held.txt", 1): "held", ("kept.txt", 1): "retained",
        }  # fmt: skip
        held = next(i for i in shown["items"] if i["outcome"] == "held")
        assert held["holds"] == [hold_id]
        assert shown["counts"] == {"would-purge": 3, "held": 1, "retained": 1}
        assert client.get(f"/api/v1/data/{b}/two.txt").status_code == 200  # nothing done yet

        late = _upload(client, a, "late.txt", b"late", subject=SUBJECT)
        before = _objects(server.home)
        queued = _erase(client, plan=shown["plan_id"])
        assert queued.status_code == 202, queued.text
        assert queued.json()["request_id"] == shown["request_id"]
        assert queued.json()["job_id"]
        again = _erase(client, plan=shown["plan_id"])
        assert again.status_code == 409 and "already executed" in again.json()["detail"]

        done = _wait(client, shown["request_id"])
        assert done["state"] == "succeeded", done
        summary = done["summary"]
        assert summary["counts"] == {
            "purged": 3, "held": 1, "retained": 1, "already-purged": 0, "failed": 0
        }  # fmt: skip
        purged = [i for i in summary["items"] if i["outcome"] == "purged"]
        assert all(i["certificate_id"] for i in purged)
        assert len(before - _objects(server.home)) == 3

        assert client.get(f"/api/v1/data/{a}/late.txt").content == b"late"
        assert client.get(f"/api/v1/data/{a}/one.txt?version=2").content == b"one v2"
        assert client.get(f"/api/v1/data/{a}/one.txt?version=3").status_code == 404
        assert client.get(f"/api/v1/data/{b}/held.txt").content == b"held"
        assert client.get(f"/api/v1/data/{b}/kept.txt").content == b"kept"
        assert client.get(f"/api/v1/data/{a}/note.txt").content == b"note"

        one = client.get(f"/api/v1/files/{files['one']['id']}").json()
        metadata = {v["version"]: v["metadata"] for v in one["versions"]}
        assert "subject" not in metadata[1] and "subject" not in metadata[3]
        assert metadata[2] == {"subject": "cpf:000.000.000-00"}
        two = client.get(f"/api/v1/files/{files['two']['id']}").json()
        assert two["versions"][0]["metadata"] == {"owner": "ana"}
        late_record = client.get(f"/api/v1/files/{late['id']}").json()
        assert late_record["versions"][0]["metadata"] == {"subject": SUBJECT}

        certificates = [client.get(f"/api/v1/certificates/{i['certificate_id']}").json()
                        for i in purged]  # fmt: skip
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
        events = client.get("/api/v1/events", params={"limit": 10000}).text
        request_text = client.get(f"/api/v1/erasure/{shown['request_id']}").text
        job_text = client.get(f"/api/v1/jobs/{done['job_id']}").text
    for certificate in certificates:
        assert certificate["certificate"]["cause"] == {
            "request": f"erasure:{shown['request_id']}", "erased_metadata": ["subject"]
        }  # fmt: skip
        _verify_certificate(server, tmp_path, certificate)
    for text in (events, request_text, job_text, server.log.read_text()):
        assert SUBJECT not in text


def test_erasure_events_name_the_subject_by_hash(server: LiveServer, collection: str) -> None:
    value = f"email:{collection}@example.org"
    with server.client() as client:
        _upload(client, collection, "a.txt", b"a", email=value)
        answer = _erase(client, key="Email", value=value, dry_run=False, reason="ticket 9")
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]
        done = _wait(client, request_id)
        assert done["summary"]["counts"]["purged"] == 1
        assert done["key"] == "email"
        ours = [
            e for e in _all_events(client)
            if e["type"].startswith("erasure.") and e["details"]["request"] == request_id
        ]  # fmt: skip
    expected = hashlib.sha256(f"email\n{value}".encode()).hexdigest()
    assert [e["type"] for e in ours] == ["erasure.requested", "erasure.queued", "erasure.completed"]
    assert {e["details"]["subject_hash"] for e in ours} == {expected}
    assert ours[0]["details"]["counts"] == {"would-purge": 1, "held": 0, "retained": 0}
    assert ours[2]["details"]["counts"]["purged"] == 1
    assert value not in json.dumps(ours)
    # The list of requests finds it by the subject's hash, and shows the value nowhere.
    with server.client() as client:
        listed = client.get(
            "/api/v1/erasure", params={"filter": json.dumps({"subject_hash": expected})}
        )
        assert listed.status_code == 200, listed.text
        assert listed.headers["content-range"] == "erasure 0-0/1"
        (item,) = listed.json()["items"]
        assert (item["id"], item["state"], item["reason"]) == (request_id, "succeeded", "ticket 9")
        assert value not in listed.text
        newest = client.get("/api/v1/erasure").json()["items"]
        assert [row["created_at"] for row in newest] == sorted(
            (row["created_at"] for row in newest), reverse=True
        )
        bad = client.get("/api/v1/erasure", params={"filter": json.dumps({"value": value})})
        assert bad.status_code == 400 and "subject_hash" in bad.json()["detail"]


def test_values_with_quotes_and_wildcards_match_only_themselves(
    server: LiveServer, collection: str
) -> None:
    value = f'João "Zé" 100%_{collection}'
    with server.client() as client:
        wanted = _upload(client, collection, "a.txt", b"a", subject=value)
        _upload(client, collection, "b.txt", b"b", subject=value.replace("%_", "xx"))
        _upload(client, collection, "c.txt", b"c", subject=value + "!")
        shown = _erase(client, value=value).json()
    assert [(i["file_id"], i["outcome"]) for i in shown["items"]] == [(wanted["id"], "would-purge")]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 400, '"value" must be'),
        ({"value": ""}, 400, '"value" must be'),
        ({"value": 7}, 400, '"value" must be'),
        ({"value": "x", "dry_run": "yes"}, 400, '"dry_run" must be true or false'),
        ({"value": "x", "key": "not a key"}, 400, '"key" must be a metadata key'),
        ({"value": "x", "reason": 5}, 400, '"reason" must be text'),
        ({"value": "x", "subject": "x"}, 400, "unknown field(s) subject"),
        ({"plan": "0" * 32}, 404, "no erasure plan"),
        ({"plan": "nope"}, 404, "no erasure plan"),
        ({"plan": 3}, 400, '"plan" must be'),
        ({"plan": "0" * 32, "dry_run": True}, 400, "leave out"),
    ],
)
def test_bad_requests_are_problems(
    server: LiveServer, body: dict[str, Any], status: int, detail: str
) -> None:
    with server.client() as client:
        answer = _erase(client, **body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


def test_reason_may_not_carry_the_value_and_plans_stay_with_their_subject(
    server: LiveServer, collection: str
) -> None:
    value = f"cpf:{collection}"
    with server.client() as client:
        leaky = _erase(client, value=value, reason=f"asked by {value.upper()}")
        assert leaky.status_code == 400 and value not in leaky.text
        plan = _erase(client, value=value).json()["plan_id"]
        other = _erase(client, plan=plan, value="cpf:someone-else")
        assert other.status_code == 400 and "another subject" in other.json()["detail"]
        unknown = client.get("/api/v1/erasure/" + "f" * 32)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"


def test_cli_previews_executes_and_shows(server: LiveServer, collection: str) -> None:
    value = f"cpf:{collection}-cli"
    with server.client() as client:
        file = _upload(client, collection, "cli.txt", b"cli", subject=value)
    preview = server.cli("erasure", "preview", "--value", value, "--reason", "ticket 3")
    assert preview.returncode == 0, preview.stderr
    assert "would-purge 1, held 0, retained 0" in preview.stdout
    assert f"{file['id']}  v1  would-purge" in preview.stdout
    last = preview.stdout.splitlines()[-1]
    assert last.startswith("plan ")
    plan_id = last.split()[1].rstrip(":")
    executed = server.cli("erasure", "execute", "--plan", plan_id, "--wait")
    assert executed.returncode == 0, executed.stderr
    assert "outcome: purged 1, held 0, retained 0, already-purged 0, failed 0" in executed.stdout
    request_id = preview.stdout.split()[1].rstrip(":")
    shown = server.cli("erasure", "show", request_id)
    assert shown.returncode == 0 and "succeeded" in shown.stdout and "certificate" in shown.stdout
    assert value not in executed.stdout + shown.stdout
    missing = server.cli("erasure", "execute", "--plan", plan_id)
    assert missing.returncode == 1 and "already executed" in missing.stderr
