"""Shared fixtures: real server processes, tokens per role, and the CI rule on skips."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from databases import CATALOGS, DatabaseServers

ADMIN_TOKEN = "test-admin-" + "0" * 32
ROOT = Path(__file__).resolve().parent.parent

#: Storage backends of real servers: ``tests/servers/<name>.py`` provides a ``<name>_backend``
#: fixture, which the backend contract runs its tests on.
SERVER_BACKENDS = sorted(path.stem for path in (Path(__file__).parent / "servers").glob("[!_]*.py"))
pytest_plugins = [
    *(f"servers.{name}" for name in SERVER_BACKENDS),
    "vault",
    "keycloak",
    "focus_checker",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A ``datoferum serve`` process on a free loopback port, with its own data directory."""

    def __init__(
        self,
        home: Path,
        *,
        port: int | None = None,
        bootstrap: bool = True,
        database_url: str | None = None,
        **env: str,
    ) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ADMIN_TOKEN
        #: The catalog's URL: a MariaDB or PostgreSQL database, or the SQLite file in ``home``.
        self.database_url = database_url or f"sqlite:///{home / 'catalog.db'}"
        self.env = {**os.environ, **env}
        self.env.pop("DATOFERUM_DATABASE_URL", None)
        if database_url:
            self.env["DATOFERUM_DATABASE_URL"] = database_url
        if bootstrap:
            self.env["DATOFERUM_BOOTSTRAP_TOKEN"] = ADMIN_TOKEN
        else:
            self.env.pop("DATOFERUM_BOOTSTRAP_TOKEN", None)
        self.env.pop("DATOFERUM_TOKEN", None)
        self.log = home.parent / f"{home.name}-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "datoferum", "serve", "--port", str(self.port),
                 "--home", str(self.home)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready:\n{self.log.read_text()[-3000:]}")

    def _signal_group(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server and its workers at once, as a crash would."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def client(self, token: str | None = ADMIN_TOKEN, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]

    def cli(
        self, *args: str, token: str | None = ADMIN_TOKEN, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "DATOFERUM_URL": self.url, "DATOFERUM_HOME": str(self.home)}
        env.pop("DATOFERUM_TOKEN", None)
        env.pop("DATOFERUM_BOOTSTRAP_TOKEN", None)
        if token is not None:
            env["DATOFERUM_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "datoferum", *args],
            env=env, capture_output=True, text=True, timeout=300, cwd=cwd,
        )  # fmt: skip


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules that set ``CATALOG_SUITE = True`` run on every catalog engine: each test
    of theirs that uses a catalog (``catalog_url``, ``database_url``, a server) runs on each."""
    if getattr(metafunc.module, "CATALOG_SUITE", False) and "catalog_kind" in metafunc.fixturenames:
        metafunc.parametrize("catalog_kind", CATALOGS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServers]:
    servers = DatabaseServers(tmp_path_factory.mktemp("databases"))
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def catalog_kind(request: pytest.FixtureRequest) -> str:
    """The catalog engine: SQLite unless the module runs on every engine."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(catalog_kind: str, database_servers: DatabaseServers) -> str | None:
    """A new, empty catalog database for the test (None: SQLite in the test's home)."""
    return database_servers.database_url(catalog_kind)


@pytest.fixture
def catalog_url(database_url: str | None, tmp_path: Path) -> str:
    """The test's own catalog database, as a URL (a SQLite file in ``tmp_path`` by default)."""
    return database_url or f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    catalog_kind: str,
    database_servers: DatabaseServers,
) -> Iterator[LiveServer]:
    """One server shared by the tests of a worker; tests use their own collections."""
    home = tmp_path_factory.mktemp(f"shared-{catalog_kind}") / "home"
    live = LiveServer(home, database_url=database_servers.database_url(catalog_kind)).start()
    yield live
    live.stop()


@pytest.fixture
def fresh_server(tmp_path: Path, database_url: str | None) -> Iterator[LiveServer]:
    """A server of the test's own, for tests that kill or restart it."""
    live = LiveServer(tmp_path / "home", database_url=database_url).start()
    yield live
    live.stop()


@pytest.fixture
def collection(request: pytest.FixtureRequest) -> str:
    """A collection name unique to the test."""
    return "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


@pytest.fixture(scope="session")
def role_tokens(server: LiveServer) -> dict[str, str]:
    """A token for each role on the shared server."""
    found = {}
    with server.client() as client:
        for role in ("admin", "producer", "consumer", "auditor"):
            answer = client.post("/api/v1/tokens", json={"name": f"test {role}", "role": role})
            assert answer.status_code == 201, answer.text
            found[role] = answer.json()["token"]
    return found


#: The reason given by tests that read the real-world sample files kept beside a checkout (see
#: tests/focus_samples.py). A clone elsewhere has none, and CI provides them: their absence is
#: reported, not counted as a missing server.
NO_SHARED_FIXTURES = "shared fixture"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every server the suite needs must be there."""
    if os.environ.get("CI", "").lower() != "true" or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    samples = [report for report in skipped if NO_SHARED_FIXTURES in str(report.longrepr)]
    if samples:
        reporter.write_line(
            f"CI=true: {len(samples)} test(s) of real-world samples skipped: the shared "
            "fixtures are not beside this checkout",
            yellow=True,
        )
    if len(skipped) > len(samples):
        count = len(skipped) - len(samples)
        reporter.write_line(f"CI=true: {count} skipped test(s) count as failures", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
