"""Lazy commits: a writing transaction may leave its flush to the next durable commit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, select

from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import CHECKPOINT_PAGES, Catalog
from datoferum.spine.catalog.schema import Collection

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url)
    migrate.upgrade(catalog)
    yield catalog
    catalog.dispose()


def _flushes_at_commit(conn: Connection) -> bool | None:
    """Whether this connection's commits wait for the disk (None: the server decides alone)."""
    if conn.dialect.name == "sqlite":
        return bool(conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2)  # FULL
    if conn.dialect.name == "postgresql":
        return bool(conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on")
    return None


def _add(conn: Connection, name: str) -> None:
    conn.execute(
        insert(Collection).values(
            id=name.ljust(32, "0"), name=name, created_at=datetime(2026, 1, 1)
        )
    )


def test_a_lazy_commit_keeps_its_rows_and_leaves_the_connection_durable(catalog: Catalog) -> None:
    with catalog.writing(durable=False) as conn:
        lazy_connection = conn.connection.driver_connection
        during = _flushes_at_commit(conn)
        _add(conn, "lazy")
    with catalog.writing() as conn:
        assert conn.connection.driver_connection is lazy_connection  # the same pooled one
        after = _flushes_at_commit(conn)
        _add(conn, "durable")
    with catalog.reading() as conn:
        names = set(conn.execute(select(Collection.name)).scalars())
    assert names == {"lazy", "durable"}
    server_wide = catalog.dialect in ("mysql", "mariadb")  # InnoDB flushes as configured
    assert (during, after) == ((None, None) if server_wide else (False, True))


def test_a_failed_lazy_transaction_rolls_back_and_restores_the_connection(
    catalog: Catalog,
) -> None:
    with pytest.raises(RuntimeError), catalog.writing(durable=False) as conn:
        _add(conn, "lost")
        raise RuntimeError("stop")
    with catalog.writing() as conn:
        restored = _flushes_at_commit(conn)
        found = conn.execute(select(Collection.name)).scalars().all()
    assert found == []
    assert restored in (True, None)


def test_the_connection_returned_last_is_handed_out_first(catalog: Catalog) -> None:
    """Each SQLite connection keeps its own page cache and drops it when another connection has
    written, so the pool hands out the connection used last (an upload's transaction then finds
    its pages cached, instead of re-reading some forty of them)."""
    with catalog.reading() as outer:
        reader = outer.connection.driver_connection
        with catalog.writing() as inner:
            writer = inner.connection.driver_connection
            _add(inner, "lifo")
    assert reader is not writer
    with catalog.writing() as conn:
        assert conn.connection.driver_connection is reader  # returned last, after the writer


def test_sqlite_connections_get_the_configured_page_cache(tmp_path: Path) -> None:
    """SQLite's default 2 MiB cache makes every upload re-read the index pages it inserts into
    once the catalog outgrows it; each connection gets the configured size instead."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'cache.db'}", sqlite_cache_mib=3)
    try:
        with catalog.reading() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -3 * 1024
    finally:
        catalog.dispose()


def test_sqlite_checkpoints_wait_for_ten_thousand_pages_of_log(tmp_path: Path) -> None:
    """Commits leave the write-ahead log alone well past SQLite's default 1,000 pages, so pages
    that many small transactions change are copied into the database file once, not each time."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        with catalog.writing() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (data BLOB)")
        for _ in range(300):  # about five pages each: 1,500 pages of log in all
            with catalog.writing() as conn:
                conn.exec_driver_sql("INSERT INTO scratch VALUES (?)", (bytes(16 * 1024),))
        raw = catalog.engine.raw_connection()
        try:
            _busy, pages, _copied = raw.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
        finally:
            raw.close()
        assert 1_000 < pages < CHECKPOINT_PAGES
    finally:
        catalog.dispose()
