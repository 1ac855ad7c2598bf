"""Offset windows over lists: a sorted slice of a listing plus how many items match in all.

Admin screens page by position ("items 50-74 of 319") and sort by any column, which a keyset
cursor cannot do. A window is that request, already checked: the HTTP layer parses it from the
query string, the listing services apply it to SQL or, for lists kept small by their nature
(holds, webhooks, policies), to the records in memory.

Counting is bounded. ``COUNT(*)`` over a filtered subquery reads one index entry per row, so a
listing of millions of files would pay for millions of entries on every page turn. Counts stop at
``COUNT_CAP``: beyond it the total says "at least this many" (``capped``), which is all a pager
needs, and the HTTP layer says so in the ``Content-Range`` header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from datoferum.errors import InvalidInput

#: The most rows a listing counts; past it the total is reported as capped.
COUNT_CAP = 100_000
#: The widest window one request may ask for.
MAX_WINDOW = 1000

T = TypeVar("T")
#: A sortable column: a mapped attribute or any column expression.
Column = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True)
class Window:
    """Items ``start`` to ``end`` (inclusive) of a listing sorted by ``sort``."""

    sort: str
    descending: bool
    start: int
    end: int
    filters: Mapping[str, Any]

    @property
    def limit(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class Slice:
    """The records of a window and the total matching the filters (at most ``COUNT_CAP``)."""

    items: Sequence[Any]
    total: int
    capped: bool = False


def check_sort(window: Window, sortable: Sequence[str]) -> None:
    if window.sort not in sortable:
        raise InvalidInput(
            f"cannot sort by {window.sort!r}; sortable fields are: {', '.join(sortable)}"
        )


def check_filters(window: Window, filterable: Sequence[str]) -> None:
    unknown = sorted(set(window.filters) - set(filterable))
    if unknown:
        raise InvalidInput(
            f"cannot filter by {', '.join(map(repr, unknown))}; filters are: "
            f"{', '.join(filterable) or 'none'}"
        )


def text_filter(window: Window, name: str) -> str | None:
    """A filter that must be a string (or absent); ``q``, prefixes, names."""
    value = window.filters.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"the filter {name!r} must be a string, got {value!r}")
    return value


def sql_window(
    conn: Connection,
    statement: Select[*tuple[Any, ...]],
    columns: Mapping[str, Column],
    window: Window,
    tiebreak: Column,
) -> Slice:
    """Run ``statement`` (already filtered) for ``window``; ``tiebreak`` makes the order total so
    neighbouring windows neither repeat nor skip rows that share a sort value."""
    check_sort(window, list(columns))
    column = columns[window.sort]
    order = [column.desc(), tiebreak.desc()] if window.descending else [column, tiebreak]
    rows = conn.execute(statement.order_by(*order).offset(window.start).limit(window.limit)).all()
    counted = statement.with_only_columns(tiebreak).order_by(None).limit(COUNT_CAP + 1).subquery()
    total = int(conn.execute(select(func.count()).select_from(counted)).scalar_one())
    if total > COUNT_CAP:
        return Slice(rows, COUNT_CAP, capped=True)
    return Slice(rows, total)


def memory_window(
    records: Sequence[T],
    window: Window,
    fields: Mapping[str, Callable[[T], Any]],
    keep: Callable[[T], bool] = lambda record: True,
) -> Slice:
    """The same window over records already in memory (small lists only).

    Values that are ``None`` sort first, and values of mixed types compare as text, so a sort
    never fails on a missing field."""
    check_sort(window, list(fields))
    key = fields[window.sort]
    kept = [record for record in records if keep(record)]

    def order(record: T) -> tuple[bool, str, Any]:
        value = key(record)
        return (value is not None, type(value).__name__, value if value is not None else 0)

    kept.sort(key=order, reverse=window.descending)
    return Slice(kept[window.start : window.end + 1], len(kept))
