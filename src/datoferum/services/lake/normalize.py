"""The normalization job: a captured file's rows, read by the source that recognises it, written
to the lake with lineage on both sides.

``lake.normalize`` jobs are queued by the capture watcher (``watch.py``) for every captured file
a source recognises, and on request (``POST /api/v1/lake/normalize``) to normalize a file again.
The file's timeline gets ``lake.normalized`` (the source, rows, the objects written and those
they replaced) or, when the input is bad, ``lake.normalize_failed`` with the reason; each lake
object's catalog row names the file and version it came from. A failure leaves the lake as it
was: objects are registered only once all of them are written and verified (``store.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from datoferum.adapters.storage.base import StorageBackend
from datoferum.domain.records import State
from datoferum.errors import DatoferumError, InvalidInput, NotFound
from datoferum.services.lake.registry import SOURCES, named, recognise
from datoferum.services.lake.sources import HEAD_BYTES, LakeSource
from datoferum.services.lake.store import LakeStore, Lineage
from datoferum.services.worker import JobContext
from datoferum.spine import eventlog, jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Collection, File, Replica, Version
from datoferum.spine.eventlog import NewEvent
from datoferum.spine.jobs import JobRecord, NewJob

JOB = "lake.normalize"
#: A bad input fails at once (a terminal error); these attempts are for a backend out of reach.
ATTEMPTS = 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Input:
    """A version to normalize and where its bytes are."""

    file_id: str
    version_id: str
    number: int
    collection: str
    path: str
    content_type: str
    state: str
    #: backend → key of each present copy.
    copies: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.collection}/{self.path}"


_VERSIONS = (
    select(
        Version.id,
        Version.file_id,
        Version.number,
        Version.state,
        Version.content_type,
        File.path,
        File.latest_version,
        Collection.name.label("collection"),
    )
    .join(File, File.id == Version.file_id)
    .join(Collection, Collection.id == File.collection_id)
)


def _inputs(conn: Connection, rows: Sequence[Any]) -> list[Input]:
    """The versions ``rows`` (of ``_VERSIONS``) with their present copies, in one more query."""
    copies: dict[str, dict[str, str]] = {row.id: {} for row in rows}
    if copies:
        for replica in conn.execute(
            select(Replica.version_id, Replica.backend, Replica.key).where(
                Replica.version_id.in_(list(copies)), Replica.state == "present"
            )
        ):
            copies[replica.version_id][replica.backend] = replica.key
    return [
        Input(
            row.file_id, row.id, row.number, row.collection, row.path, row.content_type or "",
            row.state, copies[row.id],
        )
        for row in rows
    ]  # fmt: skip


def find(conn: Connection, *, version_id: str | None = None, file_id: str | None = None,
         number: int | None = None) -> Input:  # fmt: skip
    """A version by id, or a file's version ``number`` (its newest when None)."""
    if version_id is not None:
        query = _VERSIONS.where(Version.id == version_id)
    else:
        chosen = number if number is not None else File.latest_version
        query = _VERSIONS.where(Version.file_id == file_id, Version.number == chosen)
    row = conn.execute(query).first()
    if row is None:
        what = f"version {number} of file {file_id}" if number else f"file {file_id}"
        raise NotFound(f"there is no {what if version_id is None else 'version ' + version_id}")
    return _inputs(conn, [row])[0]


def find_many(conn: Connection, wanted: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Input]:
    """Versions by (file id, number), in two queries whatever their number: the capture watcher
    looks up a page of captures at a time. Versions that no longer exist are left out."""
    if not wanted:
        return {}
    keys = set(wanted)
    rows = [
        row
        for row in conn.execute(_VERSIONS.where(Version.file_id.in_({f for f, _ in keys})))
        if (row.file_id, row.number) in keys
    ]
    return {(found.file_id, found.number): found for found in _inputs(conn, rows)}


class Normalizer:
    """Recognises captured files and normalizes them into the lake."""

    def __init__(
        self,
        catalog: Catalog,
        backends: Mapping[str, StorageBackend],
        store: LakeStore,
        work: Path,
        sources: Sequence[LakeSource] = SOURCES,
    ) -> None:
        self.catalog = catalog
        self.backends = backends
        self.store = store
        self.work = work
        self.sources = sources

    def _copy(self, target: Input) -> tuple[StorageBackend, str]:
        """A readable copy, preferring one on local disk."""
        usable = [(self.backends[b], k) for b, k in target.copies.items() if b in self.backends]
        if not usable:
            raise NotFound(f"{target.name} version {target.number} has no readable copy")
        usable.sort(key=lambda item: not item[0].capabilities.local_paths)
        return usable[0]

    def head(self, target: Input) -> bytes:
        """The first :data:`HEAD_BYTES` of the version."""
        backend, key = self._copy(target)
        return b"".join(backend.read(key, 0, HEAD_BYTES))

    def recognise(self, target: Input) -> LakeSource | None:
        return recognise(self.head(target), target.path, target.content_type, self.sources)

    def request(
        self, file_id: str, number: int | None, source: str | None, actor: str,
        correlation_id: str = "",
    ) -> JobRecord:  # fmt: skip
        """Queue the normalization of a file's version (its newest by default)."""
        if source is not None and named(source, self.sources) is None:
            known = ", ".join(s.name for s in self.sources)
            raise InvalidInput(f"unknown lake source {source!r}; the sources are: {known}")
        with self.catalog.writing() as conn:
            target = find(conn, file_id=file_id, number=number)
            _check_live(target)
            return queue(conn, target, actor, correlation_id, source=source)

    @contextmanager
    def _local(self, target: Input) -> Iterator[Path]:
        """A local file with the version's bytes: the object itself on local disk, otherwise a
        temporary copy streamed from the backend."""
        backend, key = self._copy(target)
        path = backend.local_path(key)
        if path is not None:
            yield path
            return
        self.work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work, prefix="input-") as scratch:
            copy = Path(scratch) / Path(target.path).name
            with copy.open("wb") as handle:
                for chunk in backend.read(key):
                    handle.write(chunk)
            yield copy

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """The ``lake.normalize`` job."""
        payload = context.payload
        with self.catalog.reading() as conn:
            target = find(conn, version_id=str(payload["version_id"]))
        correlation = str(payload.get("correlation_id", ""))
        try:
            _check_live(target)
            result = self._normalize(target, payload.get("source"), context)
        except DatoferumError as error:
            last = context.job.attempts >= context.job.max_attempts
            if not error.transient or last:
                self._failed(target, context.actor, correlation, error.detail)
            raise
        return result

    def _normalize(self, target: Input, source_name: object, context: JobContext) -> dict[str, Any]:
        source = named(str(source_name), self.sources) if source_name else self.recognise(target)
        if source is None:
            known = ", ".join(s.name for s in self.sources)
            raise InvalidInput(
                f"{target.name}: unknown format: no lake source recognises it (sources: {known})"
            )
        with self._local(target) as local:
            try:
                parts = self.store.stage(
                    source.dataset, source.read(local), lambda rows: context.progress(rows)
                )
            except DatoferumError as error:
                error.detail = error.detail.replace(str(local), target.name)
                raise
        lineage = Lineage(
            f"file:{target.file_id}", source.name, target.file_id, target.version_id,
            target.number,
        )  # fmt: skip
        rows = sum(part.rows for part in parts)

        def events(replaced: list[dict[str, Any]]) -> list[NewEvent]:
            details = {
                "source": source.name, "dataset": source.dataset, "rows": rows,
                "partitions": [part.as_dict() for part in parts],
                "replaced": [{"id": r["id"], "path": r["path"]} for r in replaced],
            }  # fmt: skip
            correlation = str(context.payload.get("correlation_id", ""))
            return [
                NewEvent("lake.normalized", context.actor, target.file_id, target.number,
                         details, correlation)
            ]  # fmt: skip

        done = self.store.register(parts, lineage, context.actor, events)
        context.progress(rows, rows, force=True)
        return {
            "file_id": target.file_id, "version": target.number, "source": source.name,
            "dataset": source.dataset, "rows": rows,
            "partitions": [part.as_dict() for part in done.parts],
            "replaced": len(done.replaced),
        }  # fmt: skip

    def _failed(self, target: Input, actor: str, correlation: str, reason: str) -> None:
        with self.catalog.writing() as conn:
            eventlog.append(
                conn,
                [
                    NewEvent("lake.normalize_failed", actor, target.file_id, target.number,
                             {"reason": reason}, correlation)
                ],
            )  # fmt: skip


def _check_live(target: Input) -> None:
    if target.state in (State.PURGING, State.PURGED):
        raise InvalidInput(
            f"{target.name} version {target.number} is {target.state}: there is nothing to "
            "normalize"
        )


def queue(
    conn: Connection,
    target: Input,
    actor: str,
    correlation_id: str = "",
    *,
    source: str | None = None,
    once: bool = False,
) -> JobRecord:
    """Queue ``lake.normalize`` for ``target`` in the caller's transaction; with ``once``, at
    most one such job per version (the capture watcher's)."""
    payload: dict[str, Any] = {
        "file_id": target.file_id, "version_id": target.version_id, "version": target.number,
        "correlation_id": correlation_id,
    }  # fmt: skip
    if source is not None:
        payload["source"] = source
    key = f"{JOB}:{target.version_id}" if once else None
    return jobs.enqueue(
        conn, NewJob(JOB, payload, max_attempts=ATTEMPTS, idempotency_key=key), actor
    )
