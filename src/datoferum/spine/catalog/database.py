"""Engine and connection set-up for the catalog.

Transactions are handed out explicitly (``catalog.reading()`` / ``catalog.writing()`` yield a
Core ``Connection``) and passed down as arguments; nothing is injected behind a function's back.
Core rather than ORM sessions: the hot paths run a handful of statements per upload, and the ORM's
unit-of-work machinery cost more than the statements themselves. On SQLite, writing transactions
start with ``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing on lock upgrade,
while readers keep WAL's lock-free snapshots.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from datoferum.errors import CatalogContention, CatalogUnavailable

_WRITE = "datoferum_write"
_T = TypeVar("_T")
#: MariaDB/MySQL error numbers: deadlock victim, lock wait timeout.
_MYSQL_CONTENTION = {1213, 1205}
#: PostgreSQL SQLSTATEs: deadlock detected, serialization failure.
_POSTGRESQL_CONTENTION = {"40P01", "40001"}
#: Attempts of a transaction that keeps losing to contention before the error reaches the caller.
ATTEMPTS = 10
#: Pages of SQLite's write-ahead log that trigger a checkpoint (copying them into the database
#: file, in the commit that crossed the line). SQLite's default of 1,000 pages is about forty
#: small uploads, each touching a leaf page of every index; checkpointing ten times less often
#: writes each page that several of them changed once, not several times: measured over 5,000
#: uploads into a grown catalog, half the pages written to the database file and a ninth of its
#: flushes. The log then reaches about 40 MiB.
CHECKPOINT_PAGES = 10_000


def _sqlite_setup(engine: Engine, synchronous: str, cache_mib: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Zero what is deleted or overwritten (metadata a purge erases, journaled objects once
        # flushed) instead of leaving it in free pages; many builds default to this, not all.
        cursor.execute("PRAGMA secure_delete=ON")
        # SQLite's default cache is 2 MiB; a negative size is in KiB.
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        # Straight to the driver: through SQLAlchemy's execution path, the BEGIN cost more
        # than the statements of a small upload's transaction.
        _driver_execute(connection, "BEGIN IMMEDIATE" if write else "BEGIN")


class Catalog:
    """The catalog database: owns the engine and hands out sessions."""

    def __init__(
        self, url: str, *, sqlite_synchronous: str = "FULL", sqlite_cache_mib: int = 64
    ) -> None:
        self.url = url
        options: dict[str, Any] = {
            "pool_pre_ping": not url.startswith("sqlite"),
            # Hand out the connection used last: on SQLite each connection has its own page
            # cache, which it drops whenever another connection has written. Taken in turn
            # (the default), an upload's transaction re-read about 40 pages from the file; on
            # the last writer's connection, about 8. Servers' idle connections also age out.
            "pool_use_lifo": True,
        }
        if url.startswith(("mysql", "mariadb")):
            # InnoDB's default, REPEATABLE READ, locks the gaps next to rows a locking read did
            # not find: two uploads of new paths in one gap then deadlock on their inserts.
            # READ COMMITTED (PostgreSQL's default too) locks only the rows themselves; every
            # rule of the catalog rests on row locks and unique keys, not on gap locks.
            options["isolation_level"] = "READ COMMITTED"
        self.engine = create_engine(url, **options)
        self._sqlite_synchronous = sqlite_synchronous
        if self.engine.dialect.name == "sqlite":
            _sqlite_setup(self.engine, sqlite_synchronous, sqlite_cache_mib)
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
    def writing(self, *, durable: bool = True) -> Iterator[Connection]:
        """A connection whose transaction commits on success and rolls back on any error.

        ``durable=False`` lets the commit return before it reaches the disk: the next durable
        commit carries it there (both engines write one log in commit order), and a crash in
        between loses it whole. For work that a crash leaves in a state it resumes from, whose
        caller hears of the outcome only after a later durable commit.
        """
        with _translated(), self._writer.connect() as conn:
            lazy = not durable and self._lazy_commit(conn)
            try:
                with conn.begin():
                    if lazy and self.dialect == "postgresql":
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    yield conn
            finally:
                if lazy and self.dialect == "sqlite":
                    _pragma(conn, f"synchronous={self._sqlite_synchronous}")

    def _lazy_commit(self, conn: Connection) -> bool:
        """Whether a commit on ``conn`` can skip its flush (MariaDB's is server-wide)."""
        if self.dialect == "sqlite":
            if self._sqlite_synchronous != "FULL":
                return False  # already not flushing at commit
            _pragma(conn, "synchronous=NORMAL")
            return True
        return self.dialect == "postgresql"

    def transact(
        self,
        work: Callable[[Connection], _T],
        *,
        also_retry: tuple[type[Exception], ...] = (),
    ) -> _T:
        """Run ``work`` in a writing transaction, again from the start if the database aborts
        it for contention (a deadlock victim on MariaDB, a serialization failure on
        PostgreSQL), or raises one of ``also_retry`` (e.g. a unique key taken by a concurrent
        writer, which a second look will find). ``work`` must only touch the database."""
        retryable: tuple[type[Exception], ...] = (CatalogContention, *also_retry)
        attempt = 1
        while True:
            try:
                with self.writing() as conn:
                    return work(conn)
            except retryable:
                if attempt == ATTEMPTS:
                    raise
            time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))  # jittered, growing
            attempt += 1

    def dispose(self) -> None:
        self.engine.dispose()


def _pragma(conn: Connection, setting: str) -> None:
    """Set a SQLite connection setting outside any transaction (where SQLite honours it)."""
    _driver_execute(conn, f"PRAGMA {setting}")


def _driver_execute(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the driver's own connection, past SQLAlchemy's transaction bookkeeping."""
    conn.connection.driver_connection.execute(sql).close()  # type: ignore[union-attr]


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
        if _contention(exc.orig):
            raise CatalogContention(
                f"the catalog database aborted the transaction for contention ({first_line}); "
                "try again"
            ) from exc
        raise CatalogUnavailable(
            f"the catalog database did not answer as expected "
            f"({type(exc.orig).__name__}: {first_line}); try again"
        ) from exc


def _contention(error: BaseException | None) -> bool:
    """True for a driver error that means "lost to a concurrent transaction, run it again"."""
    code = getattr(error, "sqlstate", None)  # psycopg
    if code in _POSTGRESQL_CONTENTION:
        return True
    args: tuple[Any, ...] = getattr(error, "args", ())
    return len(args) > 0 and args[0] in _MYSQL_CONTENTION  # PyMySQL: (errno, message)
