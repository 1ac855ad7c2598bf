"""Prepared statements store exactly what Core would, and fail the way Core would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.prepared import Prepared, as_datetime
from datoferum.spine.catalog.schema import Collection

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url)
    migrate.upgrade(catalog)
    yield catalog
    catalog.dispose()


def test_values_round_trip_like_core(catalog: Catalog) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 0)  # no microseconds: the tricky case for SQLite
    add = Prepared(insert(Collection))
    rename = Prepared(
        update(Collection).where(Collection.id == bindparam("target")).values(name=bindparam("n"))
    )
    find = Prepared(select(Collection.name, Collection.created_at).where(Collection.id == "a" * 32))
    with catalog.writing() as conn:
        add.run(conn, {"id": "a" * 32, "name": "first", "created_at": moment})
        conn.execute(insert(Collection).values(id="b" * 32, name="second", created_at=moment))
        rename.run(conn, {"target": "a" * 32, "n": "renamed"})
    with catalog.reading() as conn:
        rows = conn.execute(select(Collection.id, Collection.name, Collection.created_at)).all()
        ((name, created),) = find.run(conn)
    assert sorted(rows) == [("a" * 32, "renamed", moment), ("b" * 32, "second", moment)]
    assert name == "renamed" and as_datetime(created) == moment


def test_constraint_violations_raise_sqlalchemy_errors(catalog: Catalog) -> None:
    add = Prepared(insert(Collection))
    row = {"id": "c" * 32, "name": "dup", "created_at": datetime(2026, 1, 1)}
    with catalog.writing() as conn:
        add.run(conn, row)
    with pytest.raises(IntegrityError), catalog.writing() as conn:
        add.run(conn, {**row, "id": "d" * 32})


def test_run_many(catalog: Catalog) -> None:
    add = Prepared(insert(Collection))
    moment = datetime(2026, 1, 1, 0, 0, 0, 123456)
    with catalog.writing() as conn:
        add.run_many(
            conn, [{"id": f"{i:032x}", "name": f"c{i}", "created_at": moment} for i in range(5)]
        )
    with catalog.reading() as conn:
        stored = conn.execute(select(Collection.created_at)).scalars().all()
    assert stored == [moment] * 5


def test_run_many_converts_shared_and_distinct_values_alike(catalog: Catalog) -> None:
    """Rows sharing one timestamp object reuse its conversion; every other value is converted
    on its own, including an equal but distinct object after a different one."""
    add = Prepared(insert(Collection))
    shared = datetime(2026, 3, 4, 5, 6, 7, 890123)
    other = datetime(2026, 3, 4, 5, 6, 7)
    moments = [shared, shared, other, shared, datetime(2026, 3, 4, 5, 6, 7, 890123)]
    rows = [
        {"id": f"{n:032x}", "name": f"m{n}", "created_at": moment}
        for n, moment in enumerate(moments)
    ]
    with catalog.writing() as conn:
        add.run_many(conn, rows)
    with catalog.reading() as conn:
        stored = dict(conn.execute(select(Collection.name, Collection.created_at)).all())
    assert [stored[f"m{n}"] for n in range(5)] == moments[:5]


def _collections(catalog: Catalog, count: int) -> list[str]:
    add = Prepared(insert(Collection))
    ids = [f"{n:032x}" for n in range(1, count + 1)]
    with catalog.writing() as conn:
        add.run_many(
            conn,
            [
                {"id": i, "name": f"c{n}", "created_at": datetime(2026, 1, 1)}
                for n, i in enumerate(ids)
            ],
        )
    return ids


@pytest.mark.parametrize("size", [1, 7, 8, 9, 100, 513])
def test_expanding_lists_select_exactly_the_rows_listed(catalog: Catalog, size: int) -> None:
    ids = _collections(catalog, 600)
    wanted = ids[::-1][:size]  # the last rows, so padding with the last value cannot pass as them
    names = Prepared(
        select(Collection.id).where(Collection.id.in_(bindparam("ids", expanding=True)))
    )
    with catalog.reading() as conn:
        found = [row[0] for row in names.run(conn, {"ids": wanted})]
    assert sorted(found) == sorted(wanted)


def test_expanding_lists_in_updates_with_other_parameters(catalog: Catalog) -> None:
    ids = _collections(catalog, 40)
    rename = Prepared(
        update(Collection)
        .where(Collection.id.in_(bindparam("ids", expanding=True)))
        .values(name=Collection.name + bindparam("suffix"))
    )
    with catalog.writing() as conn:
        rename.run(conn, {"ids": ids[:3], "suffix": "-a"})
        rename.run(conn, {"ids": ids[10:30], "suffix": "-b"})  # another size class
        rename.run(conn, {"ids": ids[:2], "suffix": "-c"})  # the first class again
    with catalog.reading() as conn:
        names = dict(conn.execute(select(Collection.id, Collection.name)).all())
    assert [names[i] for i in ids[:4]] == ["c0-a-c", "c1-a-c", "c2-a", "c3"]
    assert all(names[i].endswith("-b") for i in ids[10:30])
    assert names[ids[30]] == "c30"


def test_an_empty_expanding_list_is_refused(catalog: Catalog) -> None:
    names = Prepared(
        select(Collection.id).where(Collection.id.in_(bindparam("ids", expanding=True)))
    )
    with catalog.reading() as conn, pytest.raises(ValueError, match="empty"):
        names.run(conn, {"ids": []})
