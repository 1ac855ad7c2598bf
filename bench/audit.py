"""Audit verification of a long event chain, against a scan that reads the same rows unhashed.

The chain is built in process through the product's own ``eventlog.append`` (so it is a real,
valid chain with realistic event shapes), in large transactions, on a throwaway SQLite file.
Verification then re-hashes every event; the reference fetches the same rows in the same order
through SQLAlchemy without hashing, so their ratio is the price of the hashing itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import select

from datoferum.domain.ids import new_id
from datoferum.spine import eventlog
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Event
from datoferum.spine.eventlog import NewEvent

from bench.report import Comparison, Series, interleave

BATCH_FILES = 10_000
ACTOR = "token:0123456789ab"


def _capture_events(number: int) -> list[NewEvent]:
    """The two events a real capture appends, with the same fields and detail shapes."""
    file_id, version_id, correlation = new_id(), new_id(), new_id()
    captured = {
        "collection": "audit", "path": f"site-{number % 97}/run-{number}.bin", "size": 4096,
        "sha256": os.urandom(32).hex(), "content_type": "application/octet-stream",
        "metadata": {}, "verified_digests": ["sha256"],
    }  # fmt: skip
    return [
        NewEvent("file.captured", ACTOR, file_id, 1, captured, correlation),
        NewEvent("file.stored", ACTOR, file_id, 1, {"backend": "local", "key": version_id},
                 correlation),
    ]  # fmt: skip


def build(path: Path, events: int) -> Catalog:
    """A catalog holding ``events`` chained events; prints how long building took."""
    started = time.perf_counter()
    # NORMAL: this file is thrown away, so per-commit durability would only slow the build.
    catalog = Catalog(f"sqlite:///{path}", sqlite_synchronous="NORMAL")
    migrate.upgrade(catalog)
    files = events // 2
    for first in range(0, files, BATCH_FILES):
        batch = [
            e for n in range(first, min(first + BATCH_FILES, files)) for e in _capture_events(n)
        ]
        with catalog.writing() as session:
            eventlog.append(session, batch)
    if events % 2:
        with catalog.writing() as session:
            eventlog.append(session, _capture_events(files)[:1])
    elapsed = time.perf_counter() - started
    size = path.stat().st_size / 1024**2
    print(f"    built {events:,} events in {elapsed:.1f} s ({size:.0f} MiB of SQLite)", flush=True)
    return catalog


def _verify(catalog: Catalog, events: int) -> float:
    with catalog.reading() as session:
        started = time.perf_counter()
        result = eventlog.verify(session)
        elapsed = time.perf_counter() - started
    if not result.ok or result.events != events:
        raise RuntimeError(f"verification failed on an intact chain: {result.as_dict()}")
    return events / elapsed


_COLUMNS = (
    Event.seq, Event.id, Event.time, Event.file_id, Event.version, Event.type, Event.actor,
    Event.details, Event.correlation_id, Event.prev_hash, Event.hash,
)  # fmt: skip
_BATCH = 20_000


def _scan(catalog: Catalog, events: int) -> float:
    """The reference: fetch every event row in chain order through SQLAlchemy Core, with the
    columns and batch size verification uses, and do nothing with them."""
    with catalog.engine.connect() as conn, conn.begin():
        started = time.perf_counter()
        rows = conn.execute(
            select(*_COLUMNS).order_by(Event.seq), execution_options={"yield_per": _BATCH}
        )
        count = sum(1 for _ in rows)
        elapsed = time.perf_counter() - started
    return _checked(count, events, elapsed)


def _cursor_scan(catalog: Catalog, events: int) -> float:
    """A second reference: the same rows through the driver's own cursor, the cheapest way
    Python can read them, so the gap to verification is the hashing and checking alone."""
    names = ", ".join(column.key for column in _COLUMNS)
    with catalog.engine.connect() as conn, conn.begin():
        started = time.perf_counter()
        cursor = conn.connection.cursor()
        cursor.execute(f"SELECT {names} FROM events ORDER BY seq")
        count = 0
        while batch := cursor.fetchmany(_BATCH):
            count += len(batch)
        cursor.close()
        elapsed = time.perf_counter() - started
    return _checked(count, events, elapsed)


def _checked(count: int, events: int, elapsed: float) -> float:
    if count != events:
        raise RuntimeError(f"the scan saw {count} events instead of {events}")
    return events / elapsed


def verify(workdir: Path, runs: int, events: int) -> list[Comparison]:
    path = workdir / "audit" / "catalog.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog = build(path, events)
    try:
        ours = Series("Datoferum audit verify", "events/s", work=events)
        scan = Series("SQLAlchemy row scan", "events/s", work=events)
        raw = Series("DB-API cursor scan", "events/s", work=events)
        interleave(
            runs,
            [
                (ours, lambda _: _verify(catalog, events)),
                (scan, lambda _: _scan(catalog, events)),
                (raw, lambda _: _cursor_scan(catalog, events)),
            ],
        )
    finally:
        catalog.dispose()
    label = f"Audit verify, {events / 1e6:g} M events" if events >= 1e6 else f"Audit, {events:,}"
    return [Comparison(label, ours, scan, None), Comparison(label, ours, raw, None)]
