"""Queries over the lake: DuckDB reading the registered Parquet objects.

Every query gets a fresh in-memory DuckDB database that sees the lake's datasets as views (one
per dataset, e.g. ``focus``) over exactly the objects the catalog registers, read with
``union_by_name`` because sources bring different ``x_`` columns. Objects on local disk are read
in place; objects on backends without local paths (HDFS, S3) are fetched once into a local cache
(``<home>/lake/cache``, by sha256, checked on the way), so DuckDB needs neither network access
nor credentials.

The SQL endpoint runs what a user writes, so the database is closed before it runs:

* the text must be exactly one ``SELECT`` statement (DuckDB's own parser decides);
* ``enable_external_access`` is off, with ``allowed_paths`` holding only the lake objects: no
  other file, no URL, no ``ATTACH``, ``COPY ... TO``, extension install or load;
* ``lock_configuration`` is on, so ``SET``/``PRAGMA``/``RESET`` cannot reopen any of this;
* the database is in memory and thrown away after the query, so nothing it creates survives;
* ``memory_limit``, two threads, a time limit (the query is interrupted) and a row limit.

Costs are summed per ``BillingCurrency`` (always a group), so no sum mixes currencies. Rows are
bucketed by ``ChargePeriodStart``, so corrections count in the period they correct.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select

from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.focus import COLUMNS, COLUMNS_BY_NAME
from datoferum.errors import DatoferumError, InvalidInput
from datoferum.services.focus.converter import arrow_schema
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import LakePartition

COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
GRANULARITIES = {"day": "%Y-%m-%d", "month": "%Y-%m", "none": None}
_TAG = re.compile(r'^[^"\\]{1,255}$')
MAX_TOP = 1000
_DAY_US = 86_400_000_000


class QueryFailed(InvalidInput):
    """A lake query DuckDB refused or stopped: bad SQL, a forbidden statement, too slow."""

    code = "query-failed"
    title = "Lake query failed"


@dataclass(frozen=True)
class Limits:
    seconds: float = 30.0
    rows: int = 10_000
    memory: str = "1GB"


@dataclass(frozen=True)
class CostQuery:
    """Cost summed by ``group_by`` (FOCUS columns or ``tag:<key>``) over ``[start, end)``."""

    group_by: Sequence[str] = ()
    granularity: str = "month"
    cost: str = "BilledCost"
    start: datetime | None = None
    end: datetime | None = None
    #: column (or ``tag:<key>``) → accepted values.
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: Only the ``top`` largest groups, largest first (no time buckets).
    top: int | None = None


class LakeQuery:
    def __init__(
        self,
        catalog: Catalog,
        backends: Mapping[str, StorageBackend],
        cache: Path,
        limits: Limits = Limits(),
    ) -> None:
        self.catalog = catalog
        self.backends = backends
        self.cache = cache
        self.limits = limits

    # -- the database a query sees ---------------------------------------------------------

    def _objects(self) -> dict[str, list[str]]:
        """dataset → local paths of its registered objects."""
        with self.catalog.reading() as conn:
            rows = conn.execute(
                select(
                    LakePartition.dataset, LakePartition.backend, LakePartition.storage_key,
                    LakePartition.sha256,
                ).order_by(LakePartition.dataset, LakePartition.id)
            ).all()  # fmt: skip
        found: dict[str, list[str]] = {}
        for row in rows:
            path = self._local(row.backend, row.storage_key, row.sha256)
            found.setdefault(row.dataset, []).append(str(path))
        return found

    def _local(self, backend_name: str, key: str, sha256: str) -> Path:
        backend = self.backends.get(backend_name)
        if backend is None:
            raise DatoferumError(f"lake object {key} is on backend {backend_name}, not configured")
        path = backend.local_path(key)
        if path is not None:
            return path
        cached = self.cache / f"{sha256}.parquet"
        if not cached.exists():
            self.cache.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.{threading.get_ident()}")
            digest = hashlib.sha256()
            with partial.open("wb") as handle:
                for chunk in backend.read(key):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != sha256:
                partial.unlink()
                raise DatoferumError(f"lake object {key} on {backend_name} changed since written")
            partial.replace(cached)
        return cached

    @contextmanager
    def _database(self) -> Iterator[duckdb.DuckDBPyConnection]:
        objects = self._objects()
        db = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        try:
            paths = [path for listed in objects.values() for path in listed]
            db.execute("SET enable_progress_bar = false")
            db.execute("SET TimeZone = 'UTC'")
            db.execute("SET threads = 2")
            db.execute(f"SET memory_limit = '{self.limits.memory}'")
            db.execute(f"SET allowed_paths = {_strings(paths)}")
            db.execute("SET enable_external_access = false")
            for dataset, listed in objects.items():
                name = '"' + dataset.replace('"', '""') + '"'
                db.execute(
                    f"CREATE VIEW {name} AS SELECT * FROM "
                    f"read_parquet({_strings(listed)}, union_by_name = true)"
                )
            if "focus" not in objects:  # an empty lake still answers cost queries
                db.register("focus", _EMPTY_FOCUS.empty_table())
            db.execute("SET lock_configuration = true")
            yield db
        finally:
            db.close()

    @contextmanager
    def _deadline(self, db: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Interrupt the query when the time limit passes."""
        timer = threading.Timer(self.limits.seconds, db.interrupt)
        timer.start()
        started = time.monotonic()
        try:
            yield
        except duckdb.InterruptException:
            raise QueryFailed(
                f"the query ran longer than {self.limits.seconds:g} s and was stopped; narrow "
                "it (a time range, filters, fewer groups)"
            ) from None
        except duckdb.Error as error:
            if time.monotonic() - started >= self.limits.seconds:
                raise QueryFailed(
                    f"the query ran longer than {self.limits.seconds:g} s and was stopped"
                ) from None
            raise QueryFailed(_first_line(error)) from None
        finally:
            timer.cancel()

    # -- cost ------------------------------------------------------------------------------

    def cost(self, query: CostQuery) -> dict[str, Any]:
        """Cost by the query's groups (and period), with the columns used, as JSON-ready rows."""
        sql, params, names = cost_sql(query, "focus")
        with self._database() as db, self._deadline(db):
            rows = db.execute(sql, params).fetchall()
        items = [{**dict(zip(names, row[:-1], strict=True)), "cost": row[-1]} for row in rows]
        return {
            "cost_column": query.cost,
            "granularity": "none" if query.top else query.granularity,
            "group_by": list(query.group_by),
            "items": [_jsonable(item) for item in items],
        }

    # -- SQL -------------------------------------------------------------------------------

    def sql(self, text: str) -> dict[str, Any]:
        """Run one read-only ``SELECT`` over the lake's views in the sandbox."""
        if not text.strip():
            raise InvalidInput("the query is empty; write one SELECT over the lake's views")
        with self._database() as db:
            try:
                statements = db.extract_statements(text)
            except duckdb.Error as error:
                raise QueryFailed(_first_line(error)) from None
            if len(statements) != 1:
                raise QueryFailed(
                    f"the query holds {len(statements)} statements; send exactly one SELECT"
                )
            kind = statements[0].type
            if kind != duckdb.StatementType.SELECT:
                raise QueryFailed(
                    f"only SELECT queries run here, not {kind.name}; the lake is read-only"
                )
            limit = self.limits.rows
            rows: list[list[Any]] = []
            with self._deadline(db):
                # Through Arrow: every DuckDB type converts, time zones included.
                reader = db.sql(text).to_arrow_reader(1024)
                columns = list(reader.schema.names)
                for batch in reader:
                    # By column: names may repeat (SELECT 1, 1), which a dict per row loses.
                    values = [column.to_pylist() for column in batch.columns]
                    rows += [list(row) for row in zip(*values, strict=True)]
                    if len(rows) > limit:
                        break
        return {
            "columns": columns,
            "rows": [[_value(v) for v in row] for row in rows[:limit]],
            "truncated": len(rows) > limit,
            "limit": limit,
        }


_EMPTY_FOCUS = arrow_schema([c.name for c in COLUMNS if c.core])


def cost_sql(query: CostQuery, source: str) -> tuple[str, list[Any], list[str]]:
    """The SQL of a cost query over ``source`` (a view or a ``read_parquet(...)``), its
    parameters, and the names of its columns before ``cost``.

    Time buckets are made in two steps: rows are summed per UTC day number (``epoch_us`` divided
    by a day: integer work), then the few day groups are named and summed again per period.
    Formatting or truncating each row's ``TIMESTAMP WITH TIME ZONE`` instead goes through the
    time-zone calendar row by row, which made a query over 10 M rows five to ten times slower.
    """
    if query.cost not in COST_COLUMNS:
        raise InvalidInput(
            f"unknown cost column {query.cost!r}; choose one of {', '.join(COST_COLUMNS)}"
        )
    if query.granularity not in GRANULARITIES:
        raise InvalidInput(f"unknown granularity {query.granularity!r}; choose day, month or none")
    if query.start and query.end and query.end <= query.start:
        raise InvalidInput("end must be after start")
    fmt = None if query.top else GRANULARITIES[query.granularity]
    inner: list[str] = []
    outer: list[str] = []
    params: list[Any] = []
    names: list[str] = []
    if fmt is not None:
        inner.append(f"epoch_us(ChargePeriodStart) // {_DAY_US} AS g_day")
        outer.append(f"strftime(DATE '1970-01-01' + CAST(g_day AS INTEGER), '{fmt}')")
        names.append("period")
    for number, group in enumerate([*query.group_by, "BillingCurrency"]):
        expression, bound = _dimension(group) if group != "BillingCurrency" else (group, [])
        inner.append(f"{expression} AS g{number}")
        outer.append(f"g{number}")
        params += bound
        names.append(group)
    where, where_params = _where(query)
    inner_keys = ", ".join(str(n) for n in range(1, len(inner) + 1))
    keys = ", ".join(str(n) for n in range(1, len(outer) + 1))
    sql = (
        f"SELECT {', '.join(outer)}, sum(cost) AS cost FROM ("
        f"SELECT {', '.join(inner)}, sum({query.cost}) AS cost FROM {source} {where} "
        f"GROUP BY {inner_keys}) GROUP BY {keys} "
    )
    params += where_params
    if query.top:
        sql += "ORDER BY cost DESC LIMIT ?"
        params.append(query.top)
    else:
        sql += f"ORDER BY {keys}"
    return sql, params, names


def _strings(values: Sequence[str]) -> str:
    """A DuckDB list literal of strings (settings and view definitions take no parameters;
    the values are paths the server made, quoted all the same)."""
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _dimension(name: str) -> tuple[str, list[Any]]:
    """The SQL expression of a grouping or filter dimension, with its parameters."""
    if name.startswith("tag:"):
        key = name[4:]
        if not _TAG.match(key):
            raise InvalidInput(f"tag key {key!r} must be 1-255 characters without quotes")
        return "json_extract_string(Tags, ?)", [f'$."{key}"']
    if name in COST_COLUMNS or name not in COLUMNS_BY_NAME:
        raise InvalidInput(
            f"cannot group or filter by {name!r}: name a FOCUS column (ServiceName, "
            "RegionId, SubAccountId, ...) or a tag as tag:<key>"
        )
    return name, []


def _where(query: CostQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.start is not None:
        clauses.append("ChargePeriodStart >= ?")
        params.append(query.start)
    if query.end is not None:
        clauses.append("ChargePeriodStart < ?")
        params.append(query.end)
    for name, accepted in query.filters.items():
        expression, bound = _dimension(name)
        marks = ", ".join("?" for _ in accepted)
        clauses.append(f"{expression} IN ({marks})")
        params += bound + list(accepted)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _jsonable(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _value(value) for key, value in item.items()}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
