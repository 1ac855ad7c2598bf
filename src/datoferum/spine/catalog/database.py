"""Engine and connection set-up for the catalog.

Transactions are handed out explicitly (``catalog.reading()`` / ``catalog.writing()`` yield a
Core ``Connection``) and passed down as arguments; nothing is injected behind a function's back.
Core rather than ORM sessions: the hot paths run a handful of statements per upload, and the ORM's
unit-of-work machinery cost more than the statements themselves. On SQLite, writing transactions
start with ``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing on lock upgrade,
while readers keep WAL's lock-free snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from datoferum.errors import CatalogUnavailable

_WRITE = "datoferum_write"


def _sqlite_setup(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Catalog:
    """The catalog database: owns the engine and hands out sessions."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if self.engine.dialect.name == "sqlite":
            _sqlite_setup(self.engine, sqlite_synchronous)
        self._writer = self.engine.execution_options(**{_WRITE: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot on every engine)."""
        with _translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection whose transaction commits on success and rolls back on any error."""
        with _translated(), self._writer.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _translated() -> Iterator[None]:
    """Turn driver failures (locked, connection lost) into the product's transient error;
    constraint violations stay as they are, since callers handle them as domain conflicts."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        first_line = (str(exc.orig).splitlines() or ["no message"])[0]
        raise CatalogUnavailable(
            f"the catalog database did not answer as expected "
            f"({type(exc.orig).__name__}: {first_line}); try again"
        ) from exc
