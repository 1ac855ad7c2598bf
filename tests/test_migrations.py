"""Schema migrations: applied by `datoferum db upgrade` and at start-up, safely in parallel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Base

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


def _env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "DATOFERUM_HOME": str(home)}
    env.pop("DATOFERUM_DATABASE_URL", None)
    if database_url:
        env["DATOFERUM_DATABASE_URL"] = database_url
    return env


def _cli(home: Path, database_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datoferum", *args], env=_env(home, database_url),
        capture_output=True, text=True,
    )  # fmt: skip


def test_db_upgrade_command_is_idempotent(tmp_path: Path, database_url: str | None) -> None:
    first = _cli(tmp_path / "home", database_url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty to" in first.stdout
    second = _cli(tmp_path / "home", database_url, "db", "upgrade")
    assert second.returncode == 0
    assert "already at revision" in second.stdout


def test_concurrent_upgrades_do_not_race(tmp_path: Path, database_url: str | None) -> None:
    home = tmp_path / "home"
    env = _env(home, database_url)
    home.mkdir()
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "datoferum", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), results
    assert sum("upgraded from empty" in out for out, _ in results) == 1


def test_migrated_schema_matches_the_models(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    try:
        migrate.upgrade(catalog)
        assert not migrate.pending(catalog)
        inspector = inspect(catalog.engine)
        for table in Base.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
    finally:
        catalog.dispose()
