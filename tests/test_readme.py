"""The README's promises: its curl examples run verbatim and its settings table is complete."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

from datoferum.config import Settings

from conftest import ROOT, LiveServer

README = (ROOT / "README.md").read_text()
README_PORT = 8000


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _sh_blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_curl_examples_run_verbatim(tmp_path: Path) -> None:
    script = "\n".join(_sh_blocks(_section("Use it with curl")))
    assert "curl -T video.mp4" in script
    port = README_PORT if _port_free(README_PORT) else None
    server = LiveServer(tmp_path / "data", port=port, bootstrap=False).start()
    try:
        if port is None:  # 8000 is taken on this machine: same commands, another port
            script = script.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{server.port}")
        (tmp_path / ".curlrc").write_text("fail-with-body\nsilent\nshow-error\n")
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "CURL_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        original = (tmp_path / "video.mp4").read_bytes()
        assert (tmp_path / "copy.mp4").read_bytes() == original
        assert (tmp_path / "v1.mp4").read_bytes() == original
        assert (tmp_path / "first-kib.bin").read_bytes() == original[:1024]
        assert (tmp_path / "picked.mp4").read_bytes() == original
        assert json.loads((tmp_path / "openapi.json").read_text())["openapi"].startswith("3.")
        assert '"ok":true' in run.stdout.replace(" ", "")
        with server.client(token=(tmp_path / "data" / "admin.token").read_text().strip()) as c:
            videos = c.get("/api/v1/files", params={"collection": "videos"}).json()["items"]
            assert (videos[0]["version"], videos[0]["state"]) == (2, "purged")
            raw = c.get(f"/api/v1/files/{videos[1]['id']}").json()
            assert raw["path"] == "raw/take1.mp4" and raw["tags"] == {"tier": "raw"}
            assert raw["retention"]["mode"] == "compliance"
            certificate = json.loads((tmp_path / "certificate.json").read_text())
            assert certificate["certificate"]["file"]["id"] == videos[0]["id"]
            tokens = c.get("/api/v1/tokens").json()["items"]
            assert tokens[-1]["name"] == "ingest pipeline" and tokens[-1]["revoked_at"]
    finally:
        server.stop()


def test_configuration_table_lists_every_setting() -> None:
    table = _section("Configuration")
    documented = set(re.findall(r"^\| `DATOFERUM_([A-Z_]+)`", table, flags=re.M))
    settings = {name.upper() for name in Settings.model_fields}
    client_only = {"URL", "TOKEN"}
    assert settings <= documented, f"undocumented: {settings - documented}"
    assert documented - settings == client_only, f"unknown: {documented - settings - client_only}"
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


@pytest.mark.parametrize("command", ["make run", "make test"])
def test_two_commands_are_the_readme_commands(command: str) -> None:
    assert command in _section("Two commands")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
