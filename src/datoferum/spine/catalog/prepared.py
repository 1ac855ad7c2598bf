"""Statements compiled once per dialect and run straight on the DB-API cursor.

SQLAlchemy's per-execution machinery (cache lookup, execution context, result wrapping, events)
costs 40-60 µs a statement on a small machine, more than SQLite needs to run the statement. The
capture and event-append transactions run eight statements for every upload, so they use this
instead: the statement is still written in SQLAlchemy and compiled by the live dialect (so the
SQL, quoting and parameter style are right for SQLite, MariaDB and PostgreSQL alike), and values go
through the dialect's own bind processors, but execution skips the machinery.

Rows come back as plain tuples without result processing: a datetime column is a string on
SQLite, which :func:`as_datetime` evens out.

A list given for an expanding parameter (``col.in_(bindparam("ids", expanding=True))``) is sent
as that many placeholders. SQLAlchemy renders such a list again at every execution, which for a
purge batch's 500 ids cost more than the update it ran; here the rendering is compiled once per
size class (the next power of two), the list padded to it by repeating its last value, which
leaves an ``IN`` unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Plan:
    compiled: Any  # SQLCompiler: fills in the statement's own constant parameters
    sql: str
    order: tuple[str, ...] | None  # parameter order for positional styles, None for named ones
    processors: Mapping[str, Callable[[Any], Any]]
    #: The statement's own values (``.values(state="purged")``), when every other parameter
    #: is one of the caller's by the same name: then arguments are built without asking the
    #: compiler, which cost ~7 µs a row, more than SQLite's executemany spent on it.
    constants: Mapping[str, Any] | None

    def arguments(self, params: Mapping[str, Any], last: dict[str, tuple[Any, Any]]) -> Any:
        """The driver's arguments for one row. ``last`` remembers each column's latest value
        and its converted form across the rows of one batch: the rows of a batch usually share
        one timestamp object, and converting a datetime for SQLite costs ~2 µs each time."""
        if self.constants is not None:
            values = {**self.constants, **params}
        else:
            values = self.compiled.construct_params(params)
        for name, process in self.processors.items():
            value = values.get(name)
            if value is None:
                continue
            seen = last.get(name)
            if seen is None or seen[0] is not value:
                seen = last[name] = (value, process(value))
            values[name] = seen[1]
        return values if self.order is None else tuple(values[name] for name in self.order)


#: A list of an expanding parameter is padded to a power of two, at least this long.
_SMALLEST_CLASS = 8


def _size_class(length: int) -> int:
    return max(_SMALLEST_CLASS, 1 << (length - 1).bit_length())


class Prepared:
    """One statement; ``run`` and ``run_many`` take parameters by name, like Core."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, frozenset[str], tuple[tuple[str, int], ...]], _Plan] = {}

    def _plan(
        self, dialect: Dialect, keys: frozenset[str], lists: tuple[tuple[str, int], ...] = ()
    ) -> _Plan:
        """``lists``: each expanding parameter with its size class; ``keys``: the others."""
        plan = self._plans.get((dialect.name, keys, lists))
        if plan is None:
            compiled: Any = self.statement.compile(dialect=dialect, column_keys=sorted(keys))
            constants = _constants(compiled, keys | {name for name, _size in lists})
            if lists and constants is None:
                raise ValueError(
                    f"a statement with an expanding list must get all its parameters by name: "
                    f"{compiled.string}"
                )
            sql = compiled.string
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            # _bind_processors is how SQLAlchemy itself converts values for the driver.
            processors = dict(compiled._bind_processors)
            if lists:
                # The compiler renders a list of this size once; its numbered parameters
                # (``ids_1``, ``ids_2``, ...) are what ``_expanded`` fills in.
                example = {name: [None] * size for name, size in lists}
                state = compiled.construct_expanded_state(
                    {**dict.fromkeys(keys), **example}, escape_names=False
                )
                sql = state.statement
                order = tuple(state.positiontup or ()) if compiled.positional else None
                processors = dict(state.processors)
            plan = _Plan(compiled, sql, order, processors, constants)
            self._plans[(dialect.name, keys, lists)] = plan
        return plan

    def run(
        self, conn: Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Execute once; returns the rows, if the statement produces any. A list value is an
        expanding parameter's (it must not be empty: ``IN ()`` is no valid SQL)."""
        params = params or {}
        lists = tuple(sorted((k, v) for k, v in params.items() if isinstance(v, list)))
        if lists:
            scalars = {k: v for k, v in params.items() if not isinstance(v, list)}
            classes = tuple((name, _size_class(len(values))) for name, values in lists)
            plan = self._plan(conn.dialect, frozenset(scalars), classes)
            params = _expanded(scalars, lists)
        else:
            plan = self._plan(conn.dialect, frozenset(params))
        arguments = plan.arguments(params, {})
        cursor = conn.connection.cursor()
        try:
            cursor.execute(plan.sql, arguments)
            return list(cursor.fetchall()) if cursor.description else []
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translated(plan.sql, arguments, exc, conn.dialect) from exc
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute for each row (all rows must have the same keys)."""
        if not rows:
            return
        plan = self._plan(conn.dialect, frozenset(rows[0]))
        last: dict[str, tuple[Any, Any]] = {}
        arguments = [plan.arguments(row, last) for row in rows]
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(plan.sql, arguments)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translated(plan.sql, arguments, exc, conn.dialect) from exc
        finally:
            cursor.close()


@functools.cache
def _expanded_names(name: str, size: int) -> tuple[str, ...]:
    return tuple(f"{name}_{index + 1}" for index in range(size))


def _expanded(scalars: dict[str, Any], lists: tuple[tuple[str, list[Any]], ...]) -> dict[str, Any]:
    """``scalars`` and each list spread over its numbered parameters, padded to its class."""
    spread = dict(scalars)
    for name, values in lists:
        if not values:
            raise ValueError(f"the list for {name!r} is empty; an IN needs at least one value")
        size = _size_class(len(values))
        padded = values + [values[-1]] * (size - len(values))
        spread.update(zip(_expanded_names(name, size), padded, strict=True))
    return spread


def _constants(compiled: Any, keys: frozenset[str]) -> dict[str, Any] | None:
    """The statement's own bound values, if every parameter it needs besides them is one of
    ``keys`` (else None: the compiler must map the parameters, and say what is missing)."""
    every = compiled.construct_params(_check=False)
    if not keys <= every.keys():
        return None
    constants = {}
    for name in every.keys() - keys:
        bind = compiled.binds.get(name)
        if bind is None or bind.required:
            return None
        constants[name] = every[name]
    return constants


def _translated(sql: str, arguments: Any, exc: Exception, dialect: Dialect) -> Exception:
    """The same exception SQLAlchemy would raise, so callers catch ``IntegrityError`` etc."""
    return DBAPIError.instance(sql, arguments, exc, dialect.loaded_dbapi.Error, dialect=dialect)


def as_datetime(value: datetime | str) -> datetime:
    """A datetime column read without result processing (SQLite returns text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value
