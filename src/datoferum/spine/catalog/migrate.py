"""Schema migrations (Alembic), applied under a lock so concurrent starts do not race."""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from datoferum.spine.catalog.database import Catalog

_LOCK_NAME = "datoferum-migrate"


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("datoferum.spine.catalog") / "migrations"))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(catalog: Catalog, connection: Connection) -> Iterator[None]:
    """A lock held across processes for the duration of a migration."""
    if catalog.dialect == "sqlite":
        database = catalog.engine.url.database
        lock_path = Path(f"{database}.migrate.lock") if database else None
        if lock_path is None or database == ":memory:":
            yield
            return
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif catalog.dialect in ("mysql", "mariadb"):
        connection.execute(text("SELECT GET_LOCK(:name, 600)"), {"name": _LOCK_NAME})
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
    elif catalog.dialect == "postgresql":
        key = zlib.crc32(_LOCK_NAME.encode())
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    else:
        yield


def upgrade(catalog: Catalog, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns the revisions before and after."""
    with catalog.engine.connect() as connection, _migration_lock(catalog, connection):
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(_alembic_config(connection), revision)
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def pending(catalog: Catalog) -> bool:
    """True if the database is behind the code's newest migration."""
    with catalog.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return current != head
