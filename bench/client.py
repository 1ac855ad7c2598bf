"""The client side: test payloads and curl, the same client for every server.

curl is used rather than a Python client so the client costs little CPU and the same for
every server: on a two-core machine a Python client would compete with the server it measures.
Every transfer's status is checked; a benchmark that counts failed requests as fast ones lies.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

CHUNK = 16 * 1024 * 1024
#: No "Expect: 100-continue" round trip: servers differ in how they answer it, the body does not.
NO_EXPECT = ["-H", "Expect:"]


class TransferFailed(RuntimeError):
    """A server answered with an unexpected status or short body."""


def random_file(path: Path, size: int) -> Path:
    """Incompressible bytes, so no layer (disk, filesystem, network) can shortcut them."""
    with path.open("wb") as handle:
        left = size
        while left:
            step = min(CHUNK, left)
            handle.write(os.urandom(step))
            left -= step
    return path


def small_files(directory: Path, count: int, size: int) -> Path:
    """``f1.bin`` .. ``f<count>.bin``, the names curl's ``[1-N]`` glob expands to."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(1, count + 1):
        (directory / f"f{number}.bin").write_bytes(os.urandom(size))
    return directory


def _curl(curl: str, args: Sequence[str]) -> str:
    done = subprocess.run(
        [curl, "-s", "-S", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise TransferFailed(f"curl exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stderr


def put(curl: str, url: str, path: Path, headers: Sequence[str] = ()) -> float:
    """Upload ``path`` in one request; return curl's own timing of the transfer, in seconds."""
    out = _curl(curl, [*NO_EXPECT, *headers, "-T", str(path), "-w",
                       "%{stderr}%{http_code} %{time_total}\n", url])  # fmt: skip
    code, seconds = out.split()[-2:]
    if code not in ("201", "204"):
        raise TransferFailed(f"PUT {url} answered {code}")
    return float(seconds)


def get(curl: str, url: str, size: int, headers: Sequence[str] = ()) -> float:
    """Download to /dev/null; check status and length; return the transfer time in seconds."""
    out = _curl(curl, [*headers, "-o", "/dev/null", "-w",
                       "%{stderr}%{http_code} %{size_download} %{time_total}\n", url])  # fmt: skip
    code, received, seconds = out.split()[-3:]
    if code != "200" or int(received) != size:
        raise TransferFailed(f"GET {url} answered {code} with {received} of {size} bytes")
    return float(seconds)


def put_many(curl: str, args: Sequence[str], count: int) -> float:
    """Run one curl that makes ``count`` uploads over one connection; wall time in seconds.

    Checks that every upload got 201 and that curl opened exactly one connection, so the figure
    really is sequential requests on one keep-alive connection.
    """
    started = time.perf_counter()
    out = _curl(curl, [*NO_EXPECT, "-w", "%{stderr}%{http_code} %{num_connects}\n", *args])
    elapsed = time.perf_counter() - started
    lines = [line.split() for line in out.splitlines() if line.strip()]
    created = sum(1 for code, _ in lines if code == "201")
    connects = sum(int(n) for _, n in lines)
    if created != count:
        raise TransferFailed(f"{created} of {count} uploads answered 201")
    if connects != 1:
        raise TransferFailed(f"curl opened {connects} connections instead of one")
    return elapsed


def upload_config(path: Path, base_url: str, directory: Path, count: int, query: str) -> Path:
    """A ``curl -K`` file for uploads whose URLs carry a query string (a glob cannot add one)."""
    with path.open("w") as handle:
        for number in range(1, count + 1):
            name = f"f{number}.bin"
            handle.write(f'url = "{base_url}{name}{query}"\nupload-file = "{directory / name}"\n')
    return path
