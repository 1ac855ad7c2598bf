"""The ``datoferum`` command line against a real server.

Every failure must be exactly one line on stderr, ``datoferum: error: ...``, and a non-zero exit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from conftest import ADMIN_TOKEN, LiveServer, free_port

ERROR_PREFIX = "datoferum: error: "


def run(
    server: LiveServer,
    *args: str,
    token: str | None = ADMIN_TOKEN,
    url: str | None = None,
    home: Path | None = None,
    binary: bool = False,
) -> subprocess.CompletedProcess[Any]:
    """Run the CLI with only what the test gives it: URL, token, home."""
    env = {**os.environ, "DATOFERUM_URL": url or server.url}
    env.pop("DATOFERUM_TOKEN", None)
    env["DATOFERUM_HOME"] = str(home or server.home)
    if token is not None:
        env["DATOFERUM_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "datoferum", *args],
        env=env, capture_output=True, text=not binary, timeout=120,
    )  # fmt: skip


def ok(result: subprocess.CompletedProcess[Any]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr in ("", b""), result.stderr
    return str(result.stdout)


def one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(ERROR_PREFIX), line
    assert len(line) > len(ERROR_PREFIX) + 10
    for fragment in fragments:
        assert fragment in line, line
    assert result.stdout == ""
    return line


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(server: LiveServer, collection: str, path: str, data: bytes) -> dict[str, Any]:
    with server.client() as client:
        answer = client.put(f"/api/v1/data/{collection}/{path}", content=data)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def place(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A collection with one stored file, a local source file and an empty directory."""
    collection = "cli-" + uuid.uuid4().hex[:12]
    upload(server, collection, "file.bin", b"0123456789" * 10)
    root = tmp_path_factory.mktemp("cli")
    source = root / "source.txt"
    source.write_bytes(b"local bytes\n")
    empty = root / "empty-home"
    empty.mkdir()
    return {"c": collection, "src": str(source), "tmp": str(root), "empty": str(empty)}


# -- commands that work -------------------------------------------------------------------------


def test_put_shows_the_version_and_records_metadata(
    server: LiveServer, collection: str, tmp_path: Path
) -> None:
    source = tmp_path / "data.csv"
    data = os.urandom(300_000)
    source.write_bytes(data)
    location = f"{collection}/dir/data.csv"
    first = ok(
        run(server, "put", str(source), location, "-m", "owner=João", "--meta",
            "Project=apollo 11", "--content-type", "text/csv")
    )  # fmt: skip
    assert first.startswith(f"stored {location} version 1 ")
    assert sha256(data) in first
    second = json.loads(ok(run(server, "put", str(source), location, "--json")))
    assert second["version"] == 2
    assert second["sha256"] == sha256(data)
    assert second["size"] == len(data)
    assert (second["collection"], second["path"]) == (collection, "dir/data.csv")
    assert second["id"] in first
    with server.client() as client:
        record = client.get(f"/api/v1/files/{second['id']}").json()
    v1 = next(v for v in record["versions"] if v["version"] == 1)
    assert v1["metadata"] == {"owner": "João", "project": "apollo 11"}
    assert v1["content_type"] == "text/csv"


def test_get_writes_identical_bytes(server: LiveServer, collection: str, tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    upload(server, collection, "blob.bin", data)
    target = tmp_path / "copy.bin"
    saved = ok(run(server, "get", f"{collection}/blob.bin", "-o", str(target)))
    assert target.read_bytes() == data
    assert sha256(data) in saved and str(target) in saved
    assert list(tmp_path.iterdir()) == [target]  # no .part left over
    streamed = run(server, "get", f"{collection}/blob.bin", binary=True)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == data


def test_get_range_and_version(server: LiveServer, collection: str, tmp_path: Path) -> None:
    first, second = os.urandom(1000), os.urandom(1000)
    upload(server, collection, "v.bin", first)
    upload(server, collection, "v.bin", second)
    part = run(server, "get", f"{collection}/v.bin", "--range", "10-19", binary=True)
    assert part.returncode == 0, part.stderr
    assert part.stdout == second[10:20]
    target = tmp_path / "v1.bin"
    ok(run(server, "get", f"{collection}/v.bin", "--version", "1", "-o", str(target)))
    assert target.read_bytes() == first


def test_ls_filters(server: LiveServer, collection: str) -> None:
    for path in ("a/1.txt", "a/2.txt", "b/3.txt"):
        upload(server, collection, path, path.encode())
    table = ok(run(server, "ls", collection)).splitlines()
    assert table[0].split() == ["ID", "LOCATION", "VER", "STATE", "SIZE", "UPDATED"]
    assert [line.split()[1] for line in table[1:]] == [
        f"{collection}/a/1.txt", f"{collection}/a/2.txt", f"{collection}/b/3.txt",
    ]  # fmt: skip
    prefixed = json.loads(
        ok(run(server, "--json", "ls", collection, "--prefix", "a/", "--state", "stored"))
    )
    assert [f["path"] for f in prefixed] == ["a/1.txt", "a/2.txt"]
    assert {f["state"] for f in prefixed} == {"stored"}


def test_ls_all_follows_every_page(server: LiveServer, collection: str) -> None:
    ids = [upload(server, collection, f"f{i:02}.txt", b"%d" % i)["id"] for i in range(23)]
    page = json.loads(ok(run(server, "ls", collection, "--limit", "5", "--json")))
    assert [f["id"] for f in page] == ids[:5]
    everything = json.loads(ok(run(server, "ls", collection, "--all", "--limit", "5", "--json")))
    assert [f["id"] for f in everything] == ids
    assert [f["path"] for f in everything] == [f"f{i:02}.txt" for i in range(23)]


def test_info_and_events(server: LiveServer, collection: str) -> None:
    upload(server, collection, "doc.txt", b"one")
    record = upload(server, collection, "doc.txt", b"two!")
    file_id = record["id"]
    text = ok(run(server, "info", file_id))
    assert file_id in text and f"{collection}/doc.txt" in text
    assert "latest version  2" in text
    assert [line.split()[0] for line in text.splitlines() if line.startswith("  v")] == [
        "v2", "v1",
    ]  # fmt: skip
    with server.client() as client:
        expected = client.get(f"/api/v1/files/{file_id}").json()
    assert json.loads(ok(run(server, "info", file_id, "--json"))) == expected
    events = json.loads(ok(run(server, "events", file_id, "--json")))
    assert [e["type"] for e in events] == ["file.captured", "file.stored"] * 2
    assert [e["version"] for e in events] == [1, 1, 2, 2]


def test_audit_verify_passes_on_an_intact_chain(server: LiveServer) -> None:
    text = ok(run(server, "audit", "verify"))
    assert text.startswith("ok: ") and "events verified" in text
    count = int(text.split()[1])
    with server.client() as client:
        assert client.get("/api/v1/audit/verify").json()["events"] >= count >= 1


def test_token_create_list_revoke_and_whoami(server: LiveServer) -> None:
    name = "cli-" + uuid.uuid4().hex[:8]
    created = json.loads(
        ok(run(server, "token", "create", "--name", name, "--role", "consumer", "--json"))
    )
    secret, token_id = created["token"], created["id"]
    assert created["role"] == "consumer" and created["name"] == name
    assert ok(run(server, "whoami", token=secret)).strip() == f"{name} (consumer) token:{token_id}"
    listed = json.loads(ok(run(server, "token", "list", "--json")))
    mine = [t for t in listed if t["id"] == token_id]
    assert len(mine) == 1 and mine[0]["revoked_at"] is None
    assert all("token" not in t for t in listed)  # secrets are never listed
    revoked = ok(run(server, "token", "revoke", token_id))
    assert revoked.startswith(f"revoked token {token_id} ({name}) at ")
    one_error_line(run(server, "whoami", token=secret), "revoked", "(HTTP 401)")
    with server.client() as client:
        tokens = {t["id"]: t for t in client.get("/api/v1/tokens").json()["items"]}
    assert tokens[token_id]["revoked_at"] is not None


def test_token_create_shows_the_secret_to_people(server: LiveServer) -> None:
    text = ok(run(server, "token", "create", "--name", "human", "--role", "auditor"))
    fields = dict(line.split(None, 1) for line in text.splitlines())
    assert fields["role"] == "auditor" and fields["name"] == "human"
    assert fields["token"].startswith("dtf_")
    with server.client(token=fields["token"]) as client:
        assert client.get("/api/v1/whoami").json()["role"] == "auditor"


def test_admin_token_file_is_used_when_no_token_is_given(
    server: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "admin.token").write_text(ADMIN_TOKEN + "\n")
    assert "(admin)" in ok(run(server, "whoami", token=None, home=tmp_path))


@pytest.mark.parametrize("args", [[], ["token"]], ids=["bare", "token"])
def test_a_bare_command_shows_help(server: LiveServer, args: list[str]) -> None:
    text = ok(run(server, *args))
    assert text.startswith("Usage: ")


# -- every failure is one line ------------------------------------------------------------------

ERRORS: list[tuple[str, Sequence[str], dict[str, str], Sequence[str]]] = [
    ("unreachable", ["ls"], {"url": "closed"},
     ["cannot reach the server at http://127.0.0.1:", "DATOFERUM_URL"]),
    ("missing-token", ["ls"], {"token": "none", "home": "empty"},
     ["needs a token", "set DATOFERUM_TOKEN"]),
    ("bad-token", ["ls"], {"token": "dtf_not-a-real-token"},
     ["the bearer token is not valid", "(HTTP 401)"]),
    ("consumer-put", ["put", "{src}", "{c}/new.bin"], {"token": "consumer"},
     ["the consumer role may not upload files", "(HTTP 403)"]),
    ("producer-get", ["get", "{c}/file.bin", "-o", "{tmp}/out-403.bin"], {"token": "producer"},
     ["the producer role may not download", "(HTTP 403)"]),
    ("unknown-file-info", ["info", "0123456789abcdef0123456789abcdef"], {},
     ["there is no file with id 0123456789abcdef", "(HTTP 404)"]),
    ("put-location-without-path", ["put", "{src}", "nocollection"], {},
     ["'nocollection' has no path: write it as COLLECTION/PATH"]),
    ("traversal", ["put", "{src}", "{c}/../x.txt"], {}, ["the path contains .."]),
    ("download-404", ["get", "{c}/missing.bin", "-o", "{tmp}/out-404.bin"], {},
     ["there is no file 'missing.bin'", "(HTTP 404)"]),
    ("range-unsatisfiable", ["get", "{c}/file.bin", "--range", "5000-"], {},
     ["starts at byte 5000", "(HTTP 416)"]),
    ("meta-without-equals", ["put", "{src}", "{c}/m.bin", "--meta", "novalue"], {},
     ["--meta 'novalue' must have the form KEY=VALUE"]),
    ("meta-bad-key", ["put", "{src}", "{c}/m.bin", "-m", "b!d=1"], {},
     ["metadata key 'b!d' is invalid"]),
    ("meta-non-ascii-key", ["put", "{src}", "{c}/m.bin", "-m", "clé=1"], {},
     ["metadata key 'clé' is invalid"]),
    ("meta-control-char", ["put", "{src}", "{c}/m.bin", "-m", "k=a\nb"], {},
     ["control characters"]),
    ("ls-bad-state", ["ls", "--state", "bogus"], {}, ["unknown state 'bogus'", "(HTTP 400)"]),
    ("unknown-command", ["frobnicate"], {}, ["No such command 'frobnicate'"]),
    ("output-in-missing-dir", ["get", "{c}/file.bin", "-o", "{tmp}/no/such/dir/out.bin"], {},
     ["cannot write", "No such file or directory"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "options", "fragments"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_failure_is_one_line_on_stderr(
    server: LiveServer,
    role_tokens: dict[str, str],
    place: dict[str, str],
    args: Sequence[str],
    options: dict[str, str],
    fragments: Sequence[str],
) -> None:
    argv = [arg.format(**place) for arg in args]
    token: str | None = options.get("token", ADMIN_TOKEN)
    if token == "none":
        token = None
    elif token in role_tokens:
        token = role_tokens[token]
    url = f"http://127.0.0.1:{free_port()}" if options.get("url") == "closed" else None
    home = Path(place["empty"]) if options.get("home") == "empty" else None
    with server.client() as client:
        before = client.get("/api/v1/files", params={"collection": place["c"]}).json()["items"]
    result = run(server, *argv, token=token, url=url, home=home)
    one_error_line(result, *fragments)
    assert "Traceback" not in result.stderr
    if "-o" in argv:  # a failed download leaves no file behind
        output = Path(argv[argv.index("-o") + 1])
        assert not output.exists() and not output.with_name(output.name + ".part").exists()
    with server.client() as client:
        after = client.get("/api/v1/files", params={"collection": place["c"]}).json()["items"]
    assert after == before  # a failed command changed nothing


def test_audit_verify_fails_after_tampering(fresh_server: LiveServer) -> None:
    upload(fresh_server, "audit", "evidence.txt", b"what happened")
    with fresh_server.client() as client:
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
        events = client.get("/api/v1/events", params={"type": "file.captured"}).json()["items"]
    seq = events[0]["seq"]
    with closing(sqlite3.connect(fresh_server.home / "catalog.db", timeout=30)) as db:
        changed = db.execute(
            "UPDATE events SET actor = 'token:mallory' WHERE seq = ?", (seq,)
        ).rowcount
        db.commit()
    assert changed == 1
    broken = run(fresh_server, "audit", "verify")
    assert broken.returncode == 2
    line = one_error_line(broken, f"broken at event {seq}", f"event {seq} was altered")
    assert "content no longer matches its hash" in line
    as_json = run(fresh_server, "audit", "verify", "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["first_break"]["seq"] == seq
    assert len(as_json.stderr.splitlines()) == 1
    assert as_json.stderr.startswith(ERROR_PREFIX)
