"""Transactions lost to contention (deadlock victims, serialization failures) run again."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from datoferum.errors import CatalogContention, CatalogUnavailable
from datoferum.spine.catalog import database
from datoferum.spine.catalog.database import Catalog


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(f"sqlite:///{tmp_path / 'c.db'}")


def _deadlock() -> OperationalError:
    """What SQLAlchemy raises when MariaDB picks the transaction as a deadlock victim."""
    orig = pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock")
    return OperationalError("INSERT INTO files ...", {}, orig)


def test_a_deadlock_victim_is_run_again(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("datoferum.spine.catalog.database.time.sleep", lambda _seconds: None)
    calls = []

    def work(conn: Connection) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise _deadlock()
        return int(conn.execute(text("SELECT 41 + 1")).scalar_one())

    assert catalog.transact(work) == 42
    assert len(calls) == 3


def test_contention_that_never_ends_reaches_the_caller(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("datoferum.spine.catalog.database.time.sleep", lambda _seconds: None)
    calls = []

    def work(conn: Connection) -> None:
        calls.append(1)
        raise _deadlock()

    with pytest.raises(CatalogContention, match="contention"):
        catalog.transact(work)
    assert len(calls) == database.ATTEMPTS


def test_other_failures_are_not_retried(catalog: Catalog) -> None:
    calls = []

    def work(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(CatalogUnavailable) as raised:
        catalog.transact(work)
    assert not isinstance(raised.value, CatalogContention)
    assert len(calls) == 1


def test_postgresql_codes_count_as_contention() -> None:
    class Failure(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    assert database._contention(Failure("40P01")) and database._contention(Failure("40001"))
    assert not database._contention(Failure("23505"))  # unique violation: a real conflict
    assert not database._contention(pymysql.err.IntegrityError(1062, "Duplicate entry"))
