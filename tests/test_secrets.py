"""Backend credentials: from the environment, or from a real OpenBao (the Vault API) server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from datoferum.adapters.secrets import SecretResolver, VaultStore
from datoferum.errors import InvalidInput, StorageUnavailable
from vault import Vault

from conftest import free_port

SECRET = "s3cr3t-" + "x" * 24


@pytest.fixture(scope="module")
def vault_with_secret(vault: Vault) -> Vault:
    vault.write("datoferum/s3", {"access_key": "AKIATEST", "secret_key": SECRET})
    return vault


def test_a_credential_from_the_environment() -> None:
    resolver = SecretResolver(environ={"S3_SECRET": SECRET})
    value = resolver.resolve({"env": "S3_SECRET"}, "backend s3: secret_key")
    assert value.get_secret_value() == SECRET
    assert SECRET not in repr(value) and SECRET not in str(value)


def test_a_missing_variable_is_named_without_a_value() -> None:
    with pytest.raises(InvalidInput, match="S3_SECRET is not set"):
        SecretResolver(environ={}).resolve({"env": "S3_SECRET"}, "backend s3: secret_key")


@pytest.mark.parametrize("value", [42, {"env": 1}, {"file": "/x"}, {"env": "A", "vault": "b"}])
def test_malformed_references_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="a credential is a string"):
        SecretResolver(environ={}).resolve(value, "backend s3: secret_key")


def test_vault_references_need_a_vault() -> None:
    with pytest.raises(InvalidInput, match="DATOFERUM_VAULT_ADDR"):
        SecretResolver().resolve({"vault": "datoferum/s3#secret_key"}, "backend s3: secret_key")


def test_a_credential_from_openbao(vault_with_secret: Vault) -> None:
    resolver = SecretResolver(VaultStore(vault_with_secret.url, SecretStr(vault_with_secret.token)))
    value = resolver.resolve({"vault": "datoferum/s3#secret_key"}, "backend s3: secret_key")
    assert value.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("reference", "error", "message"),
    [
        ("datoferum/s3#nope", InvalidInput, "has no field 'nope'"),
        ("datoferum/absent#key", InvalidInput, "has no secret secret/datoferum/absent"),
        ("no-field-given", InvalidInput, 'a Vault reference is "path#field"'),
    ],
)
def test_bad_vault_references_say_what_is_wrong(
    vault_with_secret: Vault, reference: str, error: type[Exception], message: str
) -> None:
    resolver = SecretResolver(VaultStore(vault_with_secret.url, SecretStr(vault_with_secret.token)))
    with pytest.raises(error, match=message):
        resolver.resolve({"vault": reference}, "backend s3: secret_key")


def test_a_wrong_token_is_refused_without_showing_it(vault_with_secret: Vault) -> None:
    wrong = "not-the-token-" + "y" * 20
    resolver = SecretResolver(VaultStore(vault_with_secret.url, SecretStr(wrong)))
    with pytest.raises(StorageUnavailable) as raised:
        resolver.resolve({"vault": "datoferum/s3#secret_key"}, "backend s3: secret_key")
    assert "refused the token" in raised.value.detail
    assert wrong not in raised.value.detail and SECRET not in raised.value.detail


def test_an_unreachable_vault_is_a_clear_error() -> None:
    resolver = SecretResolver(VaultStore(f"http://127.0.0.1:{free_port()}", SecretStr("t")))
    with pytest.raises(StorageUnavailable, match="could not be read"):
        resolver.resolve({"vault": "datoferum/s3#secret_key"}, "backend s3: secret_key")


LAYOUT = """
backends:
  local: {{type: local}}
  s3:
    type: s3
    endpoint: "{endpoint}"
    bucket: {bucket}
    prefix: "{prefix}"
    access_key: {{env: E2E_S3_ACCESS_KEY}}
    secret_key: {{vault: "datoferum/e2e#secret_key"}}
  broken:
    type: s3
    endpoint: "{endpoint}"
    bucket: {bucket}
    access_key: {{env: E2E_S3_ACCESS_KEY}}
    secret_key: "{wrong}"
policies:
  hot: [local]
  archive: [s3]
default: hot
"""
ARCHIVE = """
policies:
  - name: archive-secret-media
    resource: file
    mode: {type: capture}
    filters:
      - collection: [secret-media]
    actions:
      - storage-policy: archive
"""


def test_no_credential_reaches_logs_events_or_answers(
    tmp_path: Path, vault: Vault, s3_server: Any
) -> None:
    """A server whose S3 key comes from OpenBao stores files on S3; its log (at debug level),
    its events, its API answers and its CLI output never show the key, the wrong key of a
    second backend, or the Vault token."""
    from conftest import LiveServer

    vault.write("datoferum/e2e", {"secret_key": s3_server.secret_key})
    wrong = "wrong-secret-" + "w" * 24
    layout = tmp_path / "storage.yaml"
    layout.write_text(
        LAYOUT.format(endpoint=s3_server.endpoint, bucket=s3_server.bucket,
                      prefix=f"e2e-{tmp_path.name}/", wrong=wrong)
    )  # fmt: skip
    server = LiveServer(
        tmp_path / "home", DATOFERUM_STORAGE_CONFIG=str(layout), DATOFERUM_VAULT_ADDR=vault.url,
        DATOFERUM_VAULT_TOKEN=vault.token, E2E_S3_ACCESS_KEY=s3_server.access_key,
        DATOFERUM_LOG_LEVEL="debug",
    ).start()  # fmt: skip
    secrets = [s3_server.secret_key, wrong, vault.token]
    try:
        with server.client() as client:
            assert client.post("/api/v1/policies", content=ARCHIVE).status_code == 200
            stored = client.put("/api/v1/data/secret-media/a.bin", content=b"x" * 70_000)
            assert stored.status_code == 201, stored.text
            file_id = stored.json()["id"]
            deadline = time.monotonic() + 60
            while client.get(f"/api/v1/files/{file_id}").json()["state"] != "stored":
                assert time.monotonic() < deadline, "the copy never reached S3"
                time.sleep(0.2)
            record = client.get(f"/api/v1/files/{file_id}").json()
            assert [r["backend"] for r in record["versions"][0]["replicas"] if
                    r["state"] == "present"] == ["s3"]  # fmt: skip
            assert client.get("/api/v1/data/secret-media/a.bin").content == b"x" * 70_000
            answers = [
                client.get(path).text
                for path in ("/api/v1/storage", "/api/v1/events?limit=10000", "/api/v1/jobs",
                             f"/api/v1/files/{file_id}", f"/api/v1/files/{file_id}/events",
                             "/openapi.json", "/readyz")
            ]  # fmt: skip
        shown = server.cli("storage", "show")
        assert shown.returncode == 0, shown.stderr
        answers += [shown.stdout, shown.stderr, server.log.read_text()]
        assert "broken" in server.log.read_text()  # its failed start-up check was logged
        for text in answers:
            for secret in secrets:
                assert secret not in text
    finally:
        server.stop()
