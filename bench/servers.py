"""The servers under test, as child processes bound to loopback.

Each server is started in its own session so that, should it ignore a polite stop, its whole
process group (and only that group, known by the PID we got at start) can be killed. ``stop``
always waits for the exit: SeaweedFS takes seconds, and a server still flushing would skew the
next case or leave files behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

LOOPBACK = "127.0.0.1"
TOKEN = "bench-" + "0" * 40


def free_port() -> int:
    """A TCP port free on loopback right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _clear_dir(directory: Path) -> None:
    """Remove the files below ``directory`` but keep the tree, as a server's own deletes would."""
    for root, _dirs, files in os.walk(directory):
        for name in files:
            Path(root, name).unlink(missing_ok=True)


class Server:
    """A child process with a log file; subclasses say how to start it and when it is ready."""

    name = "server"
    stop_signal = signal.SIGTERM
    stop_timeout = 30.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> Self:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(), cwd=self.workdir, env=self.env(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                if self.ready():
                    return self
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Datoferum(Server):
    """``datoferum serve`` on its embedded defaults: SQLite catalog and local disk storage."""

    name = "datoferum"

    def __init__(
        self, workdir: Path, *, durability: str = "full", database_url: str | None = None,
        label: str = "",
    ) -> None:  # fmt: skip
        self.name = f"datoferum-{label or durability}"
        super().__init__(workdir)
        self.durability = durability
        self.database_url = database_url
        self.port = free_port()
        self.home = self.workdir / "home"
        self.storage = self.workdir / "store"
        self.url = f"http://{LOOPBACK}:{self.port}"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "datoferum", "serve", "--host", LOOPBACK,
                "--port", str(self.port), "--home", str(self.home)]  # fmt: skip

    def env(self) -> dict[str, str]:
        # Only what the benchmark sets: a DATOFERUM_* variable of the caller's shell must not
        # silently change the server being measured.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATOFERUM_")}
        env["DATOFERUM_BOOTSTRAP_TOKEN"] = TOKEN
        env["DATOFERUM_STORAGE_ROOT"] = str(self.storage)
        env["DATOFERUM_DURABILITY"] = self.durability
        if self.database_url:
            env["DATOFERUM_DATABASE_URL"] = self.database_url
        return env

    def ready(self) -> bool:
        return httpx.get(self.url + "/readyz", timeout=2).status_code == 200

    def data_url(self, collection: str, path: str = "") -> str:
        return f"{self.url}/api/v1/data/{collection}/{path}"

    def headers(self) -> list[str]:
        return ["-H", f"Authorization: Bearer {TOKEN}"]

    def wipe(self) -> None:
        """Delete stored bytes behind the server's back (it has no delete yet); the catalog rows
        stay, which costs nothing measurable and keeps the disk from filling up."""
        _clear_dir(self.storage / "objects")


class Nginx(Server):
    """nginx as a plain WebDAV PUT target and a sendfile GET server: the speed of the disk and
    the kernel with next to no application work, i.e. a ceiling rather than a competitor."""

    name = "nginx"
    stop_signal = signal.SIGQUIT  # graceful: lets the worker finish and remove its pid file

    def __init__(self, workdir: Path, binary: str) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.port = free_port()
        self.root = self.workdir / "root"
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.config = self.workdir / "nginx.conf"

    def argv(self) -> list[str]:
        for sub in ("root", "body", "temp"):
            (self.workdir / sub).mkdir(exist_ok=True)
        self.config.write_text(self._config())
        return [self.binary, "-p", str(self.workdir), "-c", str(self.config),
                "-e", str(self.workdir / "error.log")]  # fmt: skip

    def _config(self) -> str:
        d = self.workdir
        # As root, workers would drop to 'nobody' and could not write the root: keep them root.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {kind}_temp_path {d}/temp/{kind};\n"
            for kind in ("proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\n"
            f"error_log {d}/error.log warn;\nevents {{ worker_connections 64; }}\n"
            "http {\n    access_log off;\n    sendfile on;\n    tcp_nopush on;\n"
            "    client_max_body_size 0;\n"
            f"    client_body_temp_path {d}/body;\n{temp}"
            f"    server {{\n        listen {LOOPBACK}:{self.port};\n        root {self.root};\n"
            "        location / {\n            dav_methods PUT DELETE;\n"
            "            create_full_put_path on;\n            dav_access user:rw;\n"
            "        }\n    }\n}\n"
        )

    def ready(self) -> bool:
        return httpx.get(self.url + "/", timeout=2).status_code in (200, 403, 404)

    def wipe(self) -> None:
        shutil.rmtree(self.root)
        self.root.mkdir()


class SeaweedFS(Server):
    """``weed mini``: master, volume server and filer in one process, on loopback only, with
    telemetry, admin UI, S3 and WebDAV off. Every port is chosen here so nothing uses defaults."""

    name = "seaweedfs"
    stop_timeout = 60.0

    def __init__(self, workdir: Path, binary: str) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.ports = {key: free_port() for key in ("master", "volume", "filer", "admin")}
        self.grpc = {key: free_port() for key in self.ports}
        self.url = f"http://{LOOPBACK}:{self.ports['filer']}"
        self.master = f"http://{LOOPBACK}:{self.ports['master']}"

    def argv(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        # -logdir: weed's own log files would otherwise pile up in /tmp after the run.
        argv = [self.binary, f"-logdir={self.workdir}", "mini", f"-dir={data}",
                f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
                "-master.telemetry=false", "-admin.ui=false", "-webdav=false", "-s3=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-filer.localSocket={self.workdir / 'filer.sock'}"]  # fmt: skip
        for key, port in self.ports.items():
            argv += [f"-{key}.port={port}", f"-{key}.port.grpc={self.grpc[key]}"]
        return argv

    def ready(self) -> bool:
        # Ready means a write goes through: the filer answers before volumes are assigned.
        probe = f"{self.url}/.bench-probe"
        if httpx.put(probe, content=b"ok", timeout=5).status_code != 201:
            return False
        httpx.delete(probe, timeout=5)
        return True

    def wipe(self, directory: str) -> None:
        """Delete a directory, then vacuum so deleted needles give their disk space back."""
        httpx.delete(f"{self.url}/{directory}/", params={"recursive": "true"}, timeout=120)
        httpx.get(f"{self.master}/vol/vacuum", params={"garbageThreshold": "0.0001"}, timeout=300)
