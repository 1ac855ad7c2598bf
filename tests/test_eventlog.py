"""The event chain: appends link up, and every kind of tampering is found and located."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise

import pytest
from sqlalchemy import text

from datoferum.spine import eventlog
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.eventlog import GENESIS_HASH, NewEvent

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url)
    migrate.upgrade(catalog)
    with catalog.writing() as conn:
        eventlog.append(
            conn,
            [
                NewEvent(f"test.step{i}", "token:t", f"{i:032x}", i, {"n": i, "name": "João"})
                for i in range(1, 11)
            ],
        )
    yield catalog
    catalog.dispose()


def _verify(catalog: Catalog) -> eventlog.Verification:
    with catalog.reading() as conn:
        return eventlog.verify(conn)


def _sql(catalog: Catalog, statement: str, **params: object) -> None:
    with catalog.writing() as conn:
        conn.execute(text(statement), params)


def test_intact_chain_verifies(catalog: Catalog) -> None:
    result = _verify(catalog)
    assert result.ok and result.first_break is None
    assert result.events == 10 and result.head_seq == 10
    with catalog.reading() as conn:
        events = eventlog.page(conn)
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    assert events[0].details == {"n": 1, "name": "João"}


def test_appends_in_separate_transactions_continue_the_chain(catalog: Catalog) -> None:
    for _ in range(3):
        with catalog.writing() as conn:
            eventlog.append(conn, [NewEvent("test.more", "system")])
    assert _verify(catalog).ok
    assert _verify(catalog).head_seq == 13


def test_rolled_back_append_leaves_no_trace(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError), catalog.writing() as conn:
        eventlog.append(conn, [NewEvent("test.lost", "system")])
        raise RuntimeError("abort the transaction")
    result = _verify(catalog)
    assert result.ok and result.head_seq == 10


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", json.dumps({"n": 5, "name": "Maria"}, separators=(",", ":"))),
        ("actor", "token:someone-else"),
        ("type", "test.other"),
        ("time", "2020-01-01 00:00:00.000000"),
        ("file_id", "f" * 32),
        ("correlation_id", "forged"),
    ],
)
def test_edited_event_is_found(catalog: Catalog, column: str, value: str) -> None:
    _sql(catalog, f"UPDATE events SET {column} = :v WHERE seq = 5", v=value)
    result = _verify(catalog)
    assert not result.ok
    assert result.first_break is not None
    assert result.first_break.seq == 5
    assert "altered" in result.first_break.problem


def test_edit_with_recomputed_hash_breaks_the_next_link(catalog: Catalog) -> None:
    _sql(catalog, "UPDATE events SET actor = 'mallory', hash = :h WHERE seq = 5", h="a" * 64)
    result = _verify(catalog)
    assert not result.ok and result.first_break is not None
    assert result.first_break.seq in (5, 6)


def test_deleted_event_is_found(catalog: Catalog) -> None:
    _sql(catalog, "DELETE FROM events WHERE seq = 4")
    result = _verify(catalog)
    assert not result.ok and result.first_break is not None
    assert result.first_break.seq == 5
    assert "missing" in result.first_break.problem


def test_reordered_events_are_found(catalog: Catalog) -> None:
    # Swap the contents of events 3 and 4 (keeping their positions).
    _sql(catalog, "UPDATE events SET seq = -3 WHERE seq = 3")
    _sql(catalog, "UPDATE events SET seq = 3 WHERE seq = 4")
    _sql(catalog, "UPDATE events SET seq = 4 WHERE seq = -3")
    result = _verify(catalog)
    assert not result.ok and result.first_break is not None
    assert result.first_break.seq == 3


def test_inserted_event_is_found(catalog: Catalog) -> None:
    _sql(catalog, "UPDATE events SET seq = seq + 100 WHERE seq >= 6")
    _sql(catalog, "UPDATE events SET seq = seq - 99 WHERE seq >= 106")
    _sql(
        catalog,
        "INSERT INTO events (seq, id, time, file_id, version, type, actor, details, "
        "correlation_id, prev_hash, hash) SELECT 6, :id, time, file_id, version, 'forged', actor, "
        "details, correlation_id, hash, :h FROM events WHERE seq = 5",
        id="e" * 32,
        h="b" * 64,
    )
    _sql(catalog, "UPDATE chain_head SET seq = 11")
    result = _verify(catalog)
    assert not result.ok and result.first_break is not None
    assert result.first_break.seq == 6


def test_removed_tail_is_found(catalog: Catalog) -> None:
    _sql(catalog, "DELETE FROM events WHERE seq >= 9")
    result = _verify(catalog)
    assert not result.ok and result.first_break is not None
    assert "newest events were removed" in result.first_break.problem


def test_timeline_of_one_file(catalog: Catalog) -> None:
    with catalog.writing() as conn:
        eventlog.append(conn, [NewEvent("test.again", "system", f"{3:032x}", 3)])
    with catalog.reading() as conn:
        timeline = eventlog.for_file(conn, f"{3:032x}")
    assert [e.type for e in timeline] == ["test.step3", "test.again"]
