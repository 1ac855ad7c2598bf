"""The shell helpers the server scripts (``scripts/servers``) start their servers with."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

COMMON = Path(__file__).resolve().parents[1] / "scripts" / "servers" / "common.sh"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")
def test_a_detached_server_holds_none_of_its_callers_descriptors(tmp_path: Path) -> None:
    """A caller's lock, held on a descriptor the server inherited, would stay held as long as
    the server runs (``flock LOCK scripts/servers/hdfs start`` kept LOCK for good)."""
    lock = tmp_path / "lock"
    script = f"""
        source {COMMON}
        exec 5>{lock} 7>>{lock}
        (close_inherited; exec sleep 30) </dev/null >/dev/null 2>&1 &
        echo $!
    """
    pid = int(
        subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    )
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}/comm").read_text().strip() != "sleep":  # not exec'd yet
            assert time.monotonic() < deadline, "the detached command never started"
            time.sleep(0.01)
        held = {entry.name: str(entry.readlink()) for entry in Path(f"/proc/{pid}/fd").iterdir()}
        assert set(held) == {"0", "1", "2"}, held
    finally:
        os.kill(pid, 15)
