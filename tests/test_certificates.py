"""Signed deletion certificates: what they state, that any change to one is caught, the key that
signs them, the endpoints that serve them and the offline ``datoferum certificate verify``."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from datoferum.adapters.signing import LocalKeySigner
from datoferum.domain import merkle
from datoferum.domain.certificates import FORMAT, batch_message, parse, signed_bytes
from datoferum.domain.ids import new_id, utcnow
from datoferum.errors import CertificateInvalid, DatoferumError, InvalidInput, NotFound
from datoferum.services.certificates import (
    CertificateRecord,
    CertificateService,
    DeletedReplica,
    DeletionFacts,
    verify,
)
from datoferum.spine import eventlog
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Certificate
from datoferum.spine.eventlog import NewEvent, canonical_json

from conftest import ADMIN_TOKEN, LiveServer, free_port

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True

ERROR_PREFIX = "datoferum: error: "
SHA = "ab" * 32


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url)
    migrate.upgrade(catalog)
    yield catalog
    catalog.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> LocalKeySigner:
    return LocalKeySigner.load_or_create(tmp_path / "keys")


@pytest.fixture
def service(catalog: Catalog, signer: LocalKeySigner) -> CertificateService:
    return CertificateService(catalog, signer)


def certify(
    catalog: Catalog,
    service: CertificateService,
    *,
    file_id: str | None = None,
    version: int = 2,
    path: str = "a.mp4",
    certificate_id: str | None = None,
    **overrides: Any,
) -> CertificateRecord:
    """Append a ``file.purged`` event and certify it in the same transaction, as a purge does."""
    file_id = file_id or new_id()
    now = utcnow()
    with catalog.writing() as conn:
        (event,) = eventlog.append(
            conn, [NewEvent("file.purged", "policy:raw-video", file_id, version, {})]
        )
        facts = DeletionFacts(
            **{
                "file_id": file_id,
                "collection": "videos",
                "path": path,
                "version": version,
                "sha256": SHA,
                "size": 1234,
                "replicas": [DeletedReplica("local", new_id(), now, verified=True)],
                "cause": {"policy": "raw-video", "policy_version": 3},
                "actor": "policy:raw-video",
                "purged_at": now,
                "event_seq": event.seq,
                "event_hash": event.hash,
                **overrides,
            }
        )
        return service.issue(conn, facts, certificate_id)


# -- what a certificate states ------------------------------------------------------------------


def test_issue_signs_a_document_that_verifies(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    record = certify(catalog, service)
    exported = record.as_dict()
    assert exported.keys() == {"certificate", "signature", "key_id", "algorithm", "batch"}
    assert exported["batch"] == {"index": 0, "size": 1, "path": []}  # a batch of one
    assert exported["algorithm"] == "Ed25519"
    assert exported["key_id"] == signer.key_id
    assert len(base64.b64decode(exported["signature"], validate=True)) == 64
    document = verify(exported, signer.public_key_pem())
    assert document == record.document
    assert document["format"] == FORMAT == "datoferum.deletion-certificate/1"
    assert document["id"] == record.id
    assert document["issuer"] == signer.key_id
    assert document["file"] == {"id": record.file_id, "collection": "videos", "path": "a.mp4"}
    assert (document["version"], document["sha256"], document["size"]) == (2, SHA, 1234)
    assert document["cause"] == {"policy": "raw-video", "policy_version": 3}
    assert document["actor"] == "policy:raw-video"
    (replica,) = document["replicas"]
    assert replica["backend"] == "local" and replica["verified"] is True
    for moment in (document["issued_at"], document["purged_at"], replica["deleted_at"]):
        assert moment.endswith("Z")
        datetime.fromisoformat(moment)  # RFC 3339
    with catalog.reading() as conn:
        (purge,) = eventlog.page(conn, type_prefix="file.purged")
    assert document["chain"] == {"seq": purge.seq, "hash": purge.hash}


def test_certificates_are_stored_as_the_exact_signed_text(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    record = certify(catalog, service)
    assert service.get(record.id) == record
    with catalog.reading() as conn:
        stored = conn.execute(
            select(Certificate.document).where(Certificate.id == record.id)
        ).scalar_one()
    assert stored.encode() == signed_bytes(record.document)
    signature = base64.b64decode(record.signature)
    signer_key = signer._key.public_key()  # the stored bytes are what was certified
    signer_key.verify(signature, batch_message(1, merkle.leaf_hash(stored.encode())))


def certify_batch(
    catalog: Catalog, service: CertificateService, count: int
) -> list[CertificateRecord]:
    """``count`` purges certified together, as one batch of a purge run."""
    now = utcnow()
    with catalog.writing() as conn:
        file_ids = [new_id() for _ in range(count)]
        events = eventlog.append(
            conn, [NewEvent("file.purged", "policy:raw-video", f, 1, {}) for f in file_ids]
        )
        batch = [
            (
                DeletionFacts(
                    file_id=file_id, collection="videos", path=f"take-{number}.mp4", version=1,
                    sha256=SHA, size=number,
                    replicas=[DeletedReplica("local", new_id(), now, verified=True)],
                    cause={"policy": "raw-video"}, actor="policy:raw-video", purged_at=now,
                    event_seq=event.seq, event_hash=event.hash,
                ),
                new_id(),
            )
            for number, (file_id, event) in enumerate(zip(file_ids, events, strict=True))
        ]  # fmt: skip
        return service.issue_many(conn, batch)


def test_a_batch_is_signed_once_and_each_certificate_verifies_alone(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    records = certify_batch(catalog, service, 11)
    assert len({record.signature for record in records}) == 1
    pem = signer.public_key_pem()
    for index, record in enumerate(records):
        exported = service.get(record.id).as_dict()  # as stored, not as issued
        assert exported["batch"]["index"] == index and exported["batch"]["size"] == 11
        # 11 = 8 + 2 + 1: the first eight are 4 levels deep, then 3, then 2.
        assert len(exported["batch"]["path"]) == (4 if index < 8 else 3 if index < 10 else 2)
        assert verify(json.loads(json.dumps(exported)), pem) == record.document


def test_changing_a_batch_proof_is_caught(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    first, second, *_ = [record.as_dict() for record in certify_batch(catalog, service, 6)]
    pem = signer.public_key_pem()
    batch = first["batch"]
    path = batch["path"]
    flipped = path[1][:-1] + ("0" if path[1][-1] != "0" else "1")
    bad_signature = [
        {**batch, "index": 1},  # another position: the root comes out different
        {**batch, "size": 5},  # another size: not what was signed
        {**batch, "path": [path[0], flipped, *path[2:]]},
        second["batch"],  # the proof of another certificate of the same batch
    ]
    for tampered in bad_signature:
        with pytest.raises(CertificateInvalid, match="bad signature") as caught:
            verify({**first, "batch": tampered}, pem)
        assert caught.value.reason == "bad-signature"
    malformed = [
        {**batch, "index": 6},  # beyond the batch
        {**batch, "index": -1},
        {**batch, "size": 0},
        {**batch, "path": path[:-1]},  # too short to reach the root
        {**batch, "path": [*path, path[0]]},  # too long
        {**batch, "path": [p.upper() for p in path]},
        {**batch, "index": "0"},
        {"index": 0, "size": 6},
    ]
    for tampered in malformed:
        with pytest.raises(CertificateInvalid) as caught:
            verify({**first, "batch": tampered}, pem)
        assert caught.value.reason == "malformed", tampered
    without = {k: v for k, v in first.items() if k != "batch"}
    with pytest.raises(CertificateInvalid, match="bad signature"):
        verify(without, pem)


def test_a_certificate_signed_alone_still_verifies(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    """Certificates issued before batches existed carry no proof: their signature covers the
    document itself, and they must verify forever."""
    exported = certify(catalog, service).as_dict()
    del exported["batch"]
    exported["signature"] = base64.b64encode(
        signer.sign(signed_bytes(exported["certificate"]))
    ).decode()
    assert verify(exported, signer.public_key_pem()) == exported["certificate"]
    exported["certificate"]["size"] += 1
    with pytest.raises(CertificateInvalid, match="bad signature"):
        verify(exported, signer.public_key_pem())


def test_certificates_of_a_file_and_lookups(catalog: Catalog, service: CertificateService) -> None:
    file_id = new_id()
    second = certify(catalog, service, file_id=file_id, version=2)
    first = certify(catalog, service, file_id=file_id, version=1)
    certify(catalog, service)  # another file's
    assert [r.id for r in service.for_file(file_id)] == [first.id, second.id]
    assert service.for_file(new_id()) == []
    with pytest.raises(NotFound, match="no certificate with id"):
        service.get(new_id())
    with pytest.raises(NotFound, match="32 hex digits"):
        service.get("../etc")


def test_the_purge_can_name_the_certificate_before_it_exists(
    catalog: Catalog, service: CertificateService
) -> None:
    chosen = new_id()
    assert certify(catalog, service, certificate_id=chosen).id == chosen
    with pytest.raises(InvalidInput, match="not 32 hex digits"):
        certify(catalog, service, certificate_id="short")


def test_aware_times_are_stated_in_utc(catalog: Catalog, service: CertificateService) -> None:
    local = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    record = certify(catalog, service, purged_at=local)
    assert record.document["purged_at"] == "2026-03-01T12:30:00.000000Z"


def _purge_event(catalog: Catalog, type_: str = "file.purged") -> eventlog.EventRecord:
    with catalog.writing() as conn:
        (event,) = eventlog.append(conn, [NewEvent(type_, "system", new_id(), 1, {})])
    return event


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_seq": 999}, "has no event 999"),
        ({"event_hash": "0" * 64}, "not " + "0" * 64),
        ({"sha256": "XYZ"}, "sha256 'XYZ'"),
        ({"version": 0}, "version must be 1 or more"),
        ({"actor": ""}, "actor must be given"),
        ({"cause": {}}, "needs a cause"),
        ({"cause": {"when": datetime.now(UTC)}}, "plain JSON"),
        ({"cause": {"ratio": float("nan")}}, "plain JSON"),
    ],
)
def test_wrong_facts_are_refused_before_signing(
    catalog: Catalog, service: CertificateService, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        certify(catalog, service, **change)
    with catalog.reading() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM certificates").scalar_one() == 0


def test_only_a_purge_event_of_that_file_can_be_named(
    catalog: Catalog, service: CertificateService
) -> None:
    other = _purge_event(catalog, "file.captured")
    with pytest.raises(InvalidInput, match=r"is 'file\.captured'"):
        certify(catalog, service, event_seq=other.seq, event_hash=other.hash)
    someone_else = _purge_event(catalog)
    with pytest.raises(InvalidInput, match=r"not the file\.purged of"):
        certify(catalog, service, event_seq=someone_else.seq, event_hash=someone_else.hash)


# -- any change is caught -----------------------------------------------------------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return value[:-1] + ("0" if value[-1:] != "0" else "1")  # same length, one character off


def _replace(exported: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    tampered = copy.deepcopy(exported)
    target = tampered["certificate"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return tampered


def test_changing_any_field_breaks_the_signature(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    exported = certify(catalog, service).as_dict()
    pem = signer.public_key_pem()
    leaves = list(_leaves(exported["certificate"]))
    assert len(leaves) >= 20
    for path, value in leaves:
        tampered = _replace(exported, path, _changed(value))
        with pytest.raises(CertificateInvalid) as caught:
            verify(tampered, pem)
        # The issuer and format are checked before the signature, with their own reasons.
        expected = {("issuer",): "key-mismatch", ("format",): "unsupported"}
        assert caught.value.reason == expected.get(path, "bad-signature"), path


@pytest.mark.parametrize(
    "change",
    ["drop-field", "add-field", "version-as-text", "size-as-bool", "replica-lacks-key"],
)
def test_changing_the_shape_is_malformed(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner, change: str
) -> None:
    exported = certify(catalog, service).as_dict()
    document = exported["certificate"]
    if change == "drop-field":
        del document["cause"]
    elif change == "add-field":
        document["note"] = "nothing to see"
    elif change == "version-as-text":
        document["version"] = str(document["version"])
    elif change == "size-as-bool":
        document["size"] = True
    else:
        del document["replicas"][0]["key"]
    with pytest.raises(CertificateInvalid) as caught:
        verify(exported, signer.public_key_pem())
    assert caught.value.reason == "malformed"


def test_changing_the_signature_is_caught(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    exported = certify(catalog, service).as_dict()
    pem = signer.public_key_pem()
    raw = base64.b64decode(exported["signature"])
    for index in (0, 17, 31, 32, 63):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        tampered = {**exported, "signature": base64.b64encode(bytes(flipped)).decode()}
        with pytest.raises(CertificateInvalid, match="bad signature"):
            verify(tampered, pem)
    for bad in (exported["signature"][:-4], "not base64!", "", 42):
        with pytest.raises(CertificateInvalid, match="malformed signature"):
            verify({**exported, "signature": bad}, pem)


def test_changing_the_key_id_is_caught(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    exported = certify(catalog, service).as_dict()
    tampered = {**exported, "key_id": "ed25519:" + "0" * 16}
    with pytest.raises(CertificateInvalid, match="key id mismatch") as caught:
        verify(tampered, signer.public_key_pem())
    assert caught.value.reason == "key-mismatch"


def test_another_key_does_not_verify(
    tmp_path: Path, catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    exported = certify(catalog, service).as_dict()
    other = LocalKeySigner.load_or_create(tmp_path / "other-keys")
    assert other.key_id != signer.key_id
    with pytest.raises(CertificateInvalid, match=f"the key given is {other.key_id}"):
        verify(exported, other.public_key_pem())
    # A forger who signs with their own key but claims the server's key id is caught too.
    forged = copy.deepcopy(exported)
    forged["certificate"]["size"] = 1
    forged["signature"] = base64.b64encode(other.sign(signed_bytes(forged["certificate"]))).decode()
    with pytest.raises(CertificateInvalid, match="bad signature"):
        verify(forged, signer.public_key_pem())


@pytest.mark.parametrize(
    ("exported", "reason", "message"),
    [
        ([], "malformed", "expected a JSON object"),
        ({"certificate": {}}, "malformed", "missing"),
        ({"certificate": {}, "signature": "", "key_id": "", "algorithm": "RSA"}, "unsupported",
         "algorithm 'RSA'"),
        ({"certificate": {"format": "other"}, "signature": "", "key_id": "",
          "algorithm": "Ed25519"}, "malformed", "not a Datoferum deletion certificate"),
        ({"certificate": {"format": "datoferum.deletion-certificate/2"}, "signature": "",
          "key_id": "", "algorithm": "Ed25519"}, "unsupported", "is not supported"),
    ],
)  # fmt: skip
def test_what_is_not_a_certificate_says_why(
    signer: LocalKeySigner, exported: Any, reason: str, message: str
) -> None:
    with pytest.raises(CertificateInvalid, match=message) as caught:
        verify(exported, signer.public_key_pem())
    assert caught.value.reason == reason


def test_a_key_that_is_not_ed25519_is_refused_as_such(
    catalog: Catalog, service: CertificateService
) -> None:
    exported = certify(catalog, service).as_dict()
    with pytest.raises(InvalidInput, match="not a public key") as caught:
        verify(exported, b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert not isinstance(caught.value, CertificateInvalid)


# -- canonical form -----------------------------------------------------------------------------


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value


def test_layout_and_key_order_do_not_matter_only_content(
    catalog: Catalog, service: CertificateService, signer: LocalKeySigner
) -> None:
    """Verification canonicalizes the parsed document, so a pretty-printed, reordered or
    ASCII-escaped copy of a certificate is the same certificate."""
    exported = certify(catalog, service, path="vidéos/über 🎬.mp4").as_dict()
    pem = signer.public_key_pem()
    renderings = [
        json.dumps(exported),
        json.dumps(exported, indent=4, ensure_ascii=False),
        json.dumps(_reversed(exported), separators=(" ,  ", " :  ")),
        "\n\n" + json.dumps(_reversed(exported), indent="\t") + "\n",
    ]
    for text in renderings:
        document = verify(parse(text), pem)
        assert document["file"]["path"] == "vidéos/über 🎬.mp4"
        assert canonical_json(document) == canonical_json(exported["certificate"])


def test_duplicate_fields_are_refused_because_readers_disagree_on_them(
    catalog: Catalog, service: CertificateService
) -> None:
    text = json.dumps(certify(catalog, service).as_dict())
    doubled = text.replace('"size": 1234', '"size": 1, "size": 1234', 1)
    assert doubled != text
    with pytest.raises(CertificateInvalid, match="'size' appears twice"):
        parse(doubled)
    with pytest.raises(CertificateInvalid, match="NaN is not a JSON number"):
        parse('{"a": NaN}')
    with pytest.raises(CertificateInvalid, match="not JSON"):
        parse("{")


# -- the key ------------------------------------------------------------------------------------


def test_the_key_is_private_to_the_owner_and_reused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = LocalKeySigner.load_or_create(keys)
    private, public = keys / "signing.pem", keys / "signing.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert public.read_bytes() == first.public_key_pem()
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert first.key_id.startswith("ed25519:") and len(first.key_id) == len("ed25519:") + 16
    before = private.read_bytes()
    public.unlink()  # restored from the private key
    again = LocalKeySigner.load_or_create(keys)
    assert again.key_id == first.key_id
    assert private.read_bytes() == before
    assert public.read_bytes() == first.public_key_pem()
    assert sorted(p.name for p in keys.iterdir()) == ["signing.pem", "signing.pub.pem"]


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from datoferum.adapters.signing import "
        "LocalKeySigner; print(LocalKeySigner.load_or_create(Path(sys.argv[1])).key_id)"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "keys")], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    ids = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(ids) == 1
    assert ids == {LocalKeySigner.load_or_create(tmp_path / "keys").key_id}


def test_an_unreadable_key_is_reported_not_replaced(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "signing.pem").write_text("not a key\n")
    with pytest.raises(DatoferumError, match="cannot be read"):
        LocalKeySigner.load_or_create(keys)
    assert (keys / "signing.pem").read_text() == "not a key\n"


# -- over HTTP, against a real server -----------------------------------------------------------


def _server_certificate(server: LiveServer, collection: str) -> CertificateRecord:
    """A file uploaded over HTTP, then certified as purged straight in the server's catalog."""
    with server.client() as client:
        stored = client.put(f"/api/v1/data/{collection}/a.mp4", content=b"raw video" * 100)
    assert stored.status_code == 201, stored.text
    body = stored.json()
    catalog = Catalog(server.database_url)
    try:
        service = CertificateService(catalog, LocalKeySigner.load_or_create(server.home / "keys"))
        with catalog.writing() as conn:
            (event,) = eventlog.append(
                conn, [NewEvent("file.purged", "token:test", body["id"], body["version"], {})]
            )
            facts = DeletionFacts(
                body["id"], collection, "a.mp4", body["version"], body["sha256"], body["size"],
                [DeletedReplica("local", new_id(), utcnow(), verified=True)],
                {"direct": True, "reason": "test"}, "token:test", utcnow(), event.seq, event.hash,
            )  # fmt: skip
            return service.issue(conn, facts)
    finally:
        catalog.dispose()


def test_certificates_and_key_over_http(fresh_server: LiveServer, collection: str) -> None:
    record = _server_certificate(fresh_server, collection)
    with fresh_server.client() as client:
        key = client.get("/api/v1/keys")
        one = client.get(f"/api/v1/certificates/{record.id}")
        listed = client.get(f"/api/v1/files/{record.file_id}/certificates")
        missing = client.get(f"/api/v1/certificates/{new_id()}")
        chain = client.get("/api/v1/audit/verify").json()
    assert key.status_code == 200
    assert key.json()["algorithm"] == "Ed25519"
    assert (
        key.json()["public_key_pem"].encode()
        == (fresh_server.home / "keys" / "signing.pub.pem").read_bytes()
    )
    assert one.status_code == 200 and one.json() == record.as_dict()
    assert listed.json() == {"items": [record.as_dict()]}
    document = verify(one.json(), key.json()["public_key_pem"].encode())
    assert document["issuer"] == key.json()["key_id"]
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "urn:datoferum:problem:not-found"
    assert chain["ok"], chain


def test_the_server_keeps_its_key_across_restarts(fresh_server: LiveServer) -> None:
    with fresh_server.client() as client:
        before = client.get("/api/v1/keys").json()
    private = fresh_server.home / "keys" / "signing.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    fresh_server.stop()
    fresh_server.start()
    with fresh_server.client() as client:
        assert client.get("/api/v1/keys").json() == before


# -- the command line ---------------------------------------------------------------------------


def _cli(*args: str, home: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATOFERUM_HOME": str(home), "DATOFERUM_TOKEN": ADMIN_TOKEN}
    env["DATOFERUM_URL"] = url or f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return subprocess.run(
        [sys.executable, "-m", "datoferum", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _one_error(result: subprocess.CompletedProcess[str], exit_code: int, fragment: str) -> str:
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith(ERROR_PREFIX) and fragment in line, line
    return line


def test_cli_fetches_a_certificate_and_the_key(
    fresh_server: LiveServer, collection: str, tmp_path: Path
) -> None:
    record = _server_certificate(fresh_server, collection)
    url, home = fresh_server.url, fresh_server.home
    saved = _cli(
        "certificate", "get", record.id, "-o", str(tmp_path / "c.json"), home=home, url=url
    )
    assert saved.returncode == 0, saved.stderr
    assert json.loads((tmp_path / "c.json").read_text()) == record.as_dict()
    key = _cli("key", "get", "-o", str(tmp_path / "k.pem"), home=home, url=url)
    assert key.returncode == 0, key.stderr
    assert (tmp_path / "k.pem").read_bytes() == (home / "keys" / "signing.pub.pem").read_bytes()
    _one_error(
        _cli("certificate", "get", new_id(), "-o", str(tmp_path / "x.json"), home=home, url=url),
        1, "no certificate with id",
    )  # fmt: skip
    assert not (tmp_path / "x.json").exists()


@pytest.fixture
def certificate_file(
    tmp_path: Path, catalog: Catalog, service: CertificateService
) -> tuple[Path, CertificateRecord]:
    record = certify(catalog, service)
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps(record.as_dict(), indent=2))
    return path, record


def test_cli_verifies_offline(
    tmp_path: Path, certificate_file: tuple[Path, CertificateRecord]
) -> None:
    path, record = certificate_file
    key = tmp_path / "keys" / "signing.pub.pem"
    elsewhere = tmp_path / "elsewhere"
    for args, home in (((), tmp_path), (("--key", str(key)), elsewhere)):
        result = _cli("certificate", "verify", str(path), *args, home=home)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        (line,) = result.stdout.splitlines()
        document = record.document
        assert line.startswith(
            f"valid: version 2 of videos/a.mp4 (sha256 {SHA}) purged at "
            f"{document['purged_at']} by policy:raw-video"
        ), line


def test_cli_rejects_a_tampered_certificate_with_exit_2(
    tmp_path: Path, certificate_file: tuple[Path, CertificateRecord]
) -> None:
    path, _ = certificate_file
    exported = json.loads(path.read_text())
    exported["certificate"]["size"] += 1
    path.write_text(json.dumps(exported))
    line = _one_error(_cli("certificate", "verify", str(path), home=tmp_path), 2, "bad signature")
    assert str(path) in line
    path.write_text("not json")
    _one_error(_cli("certificate", "verify", str(path), home=tmp_path), 2, "not JSON")


def test_cli_needs_a_key_and_says_so(
    tmp_path: Path, certificate_file: tuple[Path, CertificateRecord]
) -> None:
    path, _ = certificate_file
    _one_error(_cli("certificate", "verify", str(path), home=tmp_path / "empty"), 1, "--key")
    missing_key = str(tmp_path / "nope.pem")
    _one_error(
        _cli("certificate", "verify", str(path), "--key", missing_key, home=tmp_path),
        1, "cannot read the key",
    )  # fmt: skip
    _one_error(
        _cli("certificate", "verify", str(tmp_path / "nope.json"), home=tmp_path),
        1, "cannot read the certificate",
    )  # fmt: skip
    not_a_key = tmp_path / "bad.pem"
    not_a_key.write_text("hello\n")
    _one_error(
        _cli("certificate", "verify", str(path), "--key", str(not_a_key), home=tmp_path),
        1, "not a public key",
    )  # fmt: skip


def test_cli_reports_a_certificate_from_another_server(
    tmp_path: Path, certificate_file: tuple[Path, CertificateRecord]
) -> None:
    path, _ = certificate_file
    other = LocalKeySigner.load_or_create(tmp_path / "other")
    line = _one_error(
        _cli("certificate", "verify", str(path), "--key", str(tmp_path / "other" /
             "signing.pub.pem"), home=tmp_path),
        2, "key id mismatch",
    )  # fmt: skip
    assert other.key_id in line


def test_fetching_needs_the_lifecycle_reader_role(
    server: LiveServer, role_tokens: dict[str, str]
) -> None:
    answer = httpx.get(
        f"{server.url}/api/v1/certificates/{new_id()}",
        headers={"Authorization": f"Bearer {role_tokens['consumer']}"},
    )
    assert answer.status_code == 403
    assert "roles that may: admin, auditor" in answer.json()["detail"]
