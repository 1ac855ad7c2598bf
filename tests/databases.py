"""The catalog engines the suites run on: SQLite, and real MariaDB and PostgreSQL servers.

A server comes from an environment variable (``DATOFERUM_TEST_MARIADB_URL``,
``DATOFERUM_TEST_POSTGRESQL_URL``; ``.ci/run`` starts one of each and sets them) or, failing
that, is started on first use by its script in ``scripts/servers`` and stopped at the end of the
session. Every test that asks gets a database of its own on it, so tests never see each other's
rows, as with a new SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ("sqlite", "mariadb", "postgresql")
_PROGRAMS = {"mariadb": "/usr/sbin/mariadbd", "postgresql": "/usr/lib/postgresql"}


class DatabaseServer:
    """One MariaDB or PostgreSQL server, given or started here."""

    def __init__(self, kind: str, state: Path) -> None:
        self.kind = kind
        self.state = state / kind
        self.started = False
        self.url = os.environ.get(f"DATOFERUM_TEST_{kind.upper()}_URL", "")

    def _start(self) -> None:
        if not Path(_PROGRAMS[self.kind]).exists():
            pytest.skip(
                f"{self.kind} is not installed (Debian package "
                f"{'mariadb-server' if self.kind == 'mariadb' else 'postgresql'}); "
                f"or set DATOFERUM_TEST_{self.kind.upper()}_URL"
            )
        script = ROOT / "scripts" / "servers" / self.kind
        done = subprocess.run(
            [str(script), "start", str(self.state)], capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{script.name} start failed: {done.stderr.strip()}")
        self.started = True
        self.url = (self.state / "env").read_text().strip().partition("=")[2]

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        if not self.url:
            self._start()
        name = "t_" + uuid.uuid4().hex[:20]
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name}"))
        finally:
            admin.dispose()
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.started:
            script = ROOT / "scripts" / "servers" / self.kind
            subprocess.run([str(script), "stop", str(self.state)], check=False)


class DatabaseServers:
    """The servers of a test session, each started when a test first needs it."""

    def __init__(self, state: Path) -> None:
        self.servers = {kind: DatabaseServer(kind, state) for kind in CATALOGS[1:]}

    def database_url(self, catalog: str) -> str | None:
        """A new database on ``catalog``'s server; None for SQLite (the default file)."""
        return None if catalog == "sqlite" else self.servers[catalog].new_database()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
