"""Policy evaluation over a large catalog, against a scan that reads the same rows unjudged.

The catalog is a benchmark fixture: collections, files, versions and replicas are bulk-inserted
with SQLAlchemy Core (no bytes exist), shaped like a real store: nested paths, a spread of media
types, sizes from bytes to gigabytes (log-uniform), capture times over two years with ids that
are UUIDv7 of those times, and a little user metadata. Then ``PolicyService.evaluate`` judges a
typical four-filter policy that selects about one file in ten. The reference runs the same
candidate query (the policy's SQL hints included) through the DB-API cursor and does nothing with
the rows, so the ratio is the price of judging: building each file's facts and matching them.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from datoferum.config import Settings
from datoferum.domain.ids import utcnow
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.schema import Collection, File, Replica, Version

from bench.report import Comparison, Series, interleave

BATCH = 20_000
#: The target: a million files judged in under ten seconds.
TARGET_RATE = 100_000
POLICY_NAME = "old-raw-media"
#: Four filters: two narrow the SQL query (collection, size), two only the judging can check
#: (a glob in the middle of the path, a metadata test); about 10 % of the files match.
POLICY = f"""
policies:
  - name: {POLICY_NAME}
    description: Raw camera media of the studios, past thumbnail size, is purged.
    resource: file
    mode: {{type: manual}}
    filters:
      - collection: [videos, images]
      - path: "**/raw/**"
      - size: {{gt: 65536}}
      - metadata: {{key: owner, op: in, value: [studio-a, studio-b, studio-c]}}
    actions:
      - purge: {{}}
"""

#: collection -> (share of files, [(extension, sniffed type)])
COLLECTIONS: dict[str, tuple[float, list[tuple[str, str | None]]]] = {
    "videos": (0.25, [("mp4", "video/mp4"), ("mov", "video/quicktime")]),
    "images": (0.25, [("jpg", "image/jpeg"), ("png", "image/png"), ("dng", None)]),
    "logs": (0.3, [("log", "text/plain"), ("json", "application/json")]),
    "telemetry": (0.2, [("parquet", None), ("csv", "text/csv")]),
}
OWNERS = ("studio-a", "studio-b", "studio-c", "lab", "archive")
STAGES = ("raw", "raw", "edit", "final")  # half of the files are raw


def _uuid7(moment: datetime, rng: random.Random) -> str:
    """A UUIDv7 for ``moment``, as the product's ``new_id`` makes them (time-ordered)."""
    millis = int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return f"{value:032x}"


def _rows(
    files: int, collection_ids: dict[str, str], rng: random.Random
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(file, version, replica) rows in capture order, spread evenly over the last two years."""
    # One entry per 5 % of the files, so picking a collection is one random index.
    picks = [name for name, (share, _) in COLLECTIONS.items() for _ in range(round(share * 20))]
    end = utcnow() - timedelta(hours=1)
    step = timedelta(days=730) / files
    moment = end - timedelta(days=730)
    for number in range(files):
        moment += step
        collection = picks[rng.randrange(20)]
        extension, sniffed = rng.choice(COLLECTIONS[collection][1])
        site, stage = rng.randrange(40), rng.choice(STAGES)
        path = (
            f"site-{site:02d}/{moment:%Y/%m/%d}/{stage}/cam-{rng.randrange(16):02d}/"
            f"{collection[:-1]}-{number:07d}.{extension}"
        )
        size = int(2 ** rng.uniform(8, 31))
        sha256 = rng.randbytes(32).hex()
        file_id, version_id = _uuid7(moment, rng), _uuid7(moment, rng)
        metadata = {"owner": rng.choice(OWNERS), "camera": f"cam-{rng.randrange(16):02d}"}
        if rng.random() < 0.3:
            metadata["shoot"] = f"S{rng.randrange(10_000):04d}"
        yield (
            {
                "id": file_id, "collection_id": collection_ids[collection], "path": path,
                "path_hash": hashlib.sha256(path.encode()).hexdigest(), "created_at": moment,
                "updated_at": moment, "latest_version": 1, "state": "stored", "size": size,
                "sha256": sha256,
            },
            {
                "id": version_id, "file_id": file_id, "number": 1, "state": "stored",
                "size": size, "sha256": sha256, "content_type": "application/octet-stream",
                "user_metadata": json.dumps(metadata), "created_at": moment,
                "created_by": f"token:{rng.randrange(8):012x}", "sniffed_type": sniffed,
                "tags": "{}", "personal_keys": "[]",
            },
            {
                "version_id": version_id, "backend": "local", "key": version_id,
                "state": "present", "created_at": moment,
            },
        )  # fmt: skip


def build(home: Path, files: int) -> Services:
    """Services over a catalog of ``files`` catalogued files; prints how long building took."""
    started = time.perf_counter()
    # Every setting given, so no DATOFERUM_* variable of the shell changes what is measured.
    settings = Settings(
        home=home, database_url=None, storage_root=None, durability="relaxed", policy_dir=None
    )
    services = build_services(settings)
    migrate.upgrade(services.catalog)
    rng = random.Random(20240601)
    collection_ids = {name: _uuid7(utcnow(), rng) for name in COLLECTIONS}
    with services.catalog.writing() as conn:
        conn.execute(
            insert(Collection),
            [{"id": i, "name": n, "created_at": utcnow()} for n, i in collection_ids.items()],
        )
    batch: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for rows in _rows(files, collection_ids, rng):
        batch.append(rows)
        if len(batch) == BATCH:
            _insert(services, batch)
            batch = []
    _insert(services, batch)
    services.policies.apply("bench", POLICY, "bench")
    with services.catalog.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    size = (home / "catalog.db").stat().st_size / 1024**2
    elapsed = time.perf_counter() - started
    print(f"    built {files:,} files in {elapsed:.1f} s ({size:.0f} MiB of SQLite)", flush=True)
    return services


def _insert(services: Services, batch: Sequence[tuple[dict[str, Any], ...]]) -> None:
    if not batch:
        return
    with services.catalog.writing() as conn:
        conn.execute(insert(File), [rows[0] for rows in batch])
        conn.execute(insert(Version), [rows[1] for rows in batch])
        conn.execute(insert(Replica), [rows[2] for rows in batch])


_SCAN = """
SELECT files.id, files.path, collections.name, versions.id, versions.number,
       versions.sniffed_type, versions.content_type, versions.size, versions.user_metadata,
       versions.tags, versions.created_at, versions.created_by, versions.state
FROM files
JOIN collections ON collections.id = files.collection_id
JOIN versions ON versions.file_id = files.id AND versions.number = files.latest_version
WHERE versions.state = 'stored' AND collections.name IN ('images', 'videos')
  AND versions.size >= 65537
"""


def _evaluate(services: Services, files: int, expected: list[int]) -> float:
    started = time.perf_counter()
    _stored, items = services.policies.evaluate(POLICY_NAME)
    elapsed = time.perf_counter() - started
    expected.append(len(items))
    if len(set(expected)) != 1:
        raise RuntimeError(f"evaluation selected different numbers of files: {expected}")
    return files / elapsed


def _scan(services: Services, files: int, expected: list[int]) -> float:
    """The reference: the candidate rows evaluation reads (the policy's SQL hints applied),
    fetched through the driver's cursor in one statement, and not judged."""
    with services.catalog.reading() as conn:
        started = time.perf_counter()
        cursor = conn.connection.cursor()
        cursor.execute(_SCAN)
        count = 0
        while batch := cursor.fetchmany(BATCH):
            count += len(batch)
        cursor.close()
        elapsed = time.perf_counter() - started
    expected.append(count)
    if len(set(expected)) != 1:
        raise RuntimeError(f"the scan read different numbers of rows: {expected}")
    return files / elapsed


def evaluate(workdir: Path, runs: int, files: int) -> list[Comparison]:
    services = build(workdir / "policy", files)
    try:
        selected: list[int] = []
        scanned: list[int] = []
        ours = Series("Datoferum policy evaluate", "files/s", work=files)
        scan = Series("SQL scan of the candidates", "files/s", work=files)
        interleave(
            runs,
            [
                (ours, lambda _: _evaluate(services, files, selected)),
                (scan, lambda _: _scan(services, files, scanned)),
            ],
        )
        print(
            f"    {selected[0]:,} files selected ({100 * selected[0] / files:.1f} %) "
            f"of {scanned[0]:,} candidates",
            flush=True,
        )
    finally:
        services.close()
    label = f"Policy evaluation, {files / 1e6:g} M files" if files >= 1e6 else f"Policy, {files:,}"
    # The target is absolute: a fixed rate stands in as the reference, so the table reads the
    # same way as every other row.
    target = Series("target: 1 M files in 10 s", "files/s", values=[TARGET_RATE] * runs, work=files)
    return [Comparison(label, ours, target, 1.0), Comparison(label, ours, scan, None)]
