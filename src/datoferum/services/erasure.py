"""Erasure requests: a data subject's right to erasure (LGPD art. 18, GDPR art. 17).

A subject is named by one metadata value (``subject: cpf:123.456.789-00``). A request finds every
version carrying it, in any collection, and purges each through :class:`PurgeService`, so each gets
what any purge gets: holds and retention win, the bytes leave every replica, and a signed
certificate is issued per version. The subject key is erased from the purged versions' metadata
even when capture did not mark it personal.

The value is itself personal data, so nothing kept or recorded holds it: requests, plans, job
payloads, events and logs carry only ``sha256(key + "\\n" + value)``. That is why execution always
runs from a plan made while the value was at hand (a preview, or one made on the spot): the job
acts on the plan's list of versions and never needs the value.

Metadata is JSON text that no portable index can see into, so matching is a scan: a ``LIKE`` on the
JSON-escaped value lets the database skip most rows, each candidate is confirmed by parsing its
JSON, and versions are read in keyset batches so memory stays bounded however large the catalog.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update

from datoferum.domain.ids import is_id, isoformat, new_id, utcnow
from datoferum.domain.metadata import KEY_PATTERN
from datoferum.domain.records import State
from datoferum.errors import InvalidInput, NotFound
from datoferum.services import plans
from datoferum.services.listing import Slice, Window, check_filters, sql_window, text_filter
from datoferum.services.plans import PlanItem
from datoferum.services.purge import BATCH as PURGE_BATCH
from datoferum.services.purge import PurgeOutcome, PurgeRequest, PurgeService
from datoferum.services.worker import JobContext
from datoferum.spine import eventlog, jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import (
    Certificate,
    Collection,
    ErasureRequest,
    File,
    Plan,
    Version,
)
from datoferum.spine.eventlog import NewEvent
from datoferum.spine.jobs import NewJob

KIND = "erasure"
JOB_KIND = "erasure.run"
BATCH = 1_000
MAX_VALUE_BYTES = 8 * 1024  # the most a whole metadata set may hold
MAX_REASON = 4000
PREVIEW_OUTCOMES = ("would-purge", "held", "retained")
RUN_OUTCOMES = ("purged", "held", "retained", "already-purged", "failed")


def subject_hash(key: str, value: str) -> str:
    """How a subject is named wherever it is kept: never the value itself."""
    return hashlib.sha256(f"{key}\n{value}".encode()).hexdigest()


@dataclass(frozen=True)
class Subject:
    """Whose data is erased. ``repr`` leaves the value out, so a logged object cannot leak it."""

    key: str
    value: str = field(repr=False)

    @property
    def hash(self) -> str:
        return subject_hash(self.key, self.value)

    @property
    def needle(self) -> str:
        """The value as stored metadata JSON spells it (capture writes ``ensure_ascii=False``)."""
        return json.dumps(self.value, ensure_ascii=False)

    def carried_by(self, metadata_text: str) -> bool:
        """The exact test the ``LIKE`` prefilter only approximates (the value may sit under
        another key, or inside a longer value)."""
        metadata = json.loads(metadata_text)
        return isinstance(metadata, dict) and metadata.get(self.key) == self.value


def check_subject(key: Any, value: Any, default_key: str) -> Subject:
    """A subject from untrusted input; messages never echo the value."""
    key = default_key if key is None else key
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key.lower()):
        raise InvalidInput(
            '"key" must be a metadata key: up to 64 letters, digits, ".", "_" or "-"'
        )
    if not isinstance(value, str) or not value:
        raise InvalidInput('"value" must be the subject\'s metadata value, as non-empty text')
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidInput(f'"value" is longer than any metadata value ({MAX_VALUE_BYTES} bytes)')
    return Subject(key.lower(), value)


def _check_reason(reason: Any, subject: Subject) -> str:
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(f'"reason" must be text of at most {MAX_REASON} characters')
    if subject.value.casefold() in reason.casefold():
        # The reason is kept and recorded in events: it must not carry the value either.
        raise InvalidInput('"reason" must not contain the subject\'s value: cite a ticket instead')
    return reason


@dataclass(frozen=True)
class Match:
    file_id: str
    collection: str
    path: str
    version: int


def _counts(items: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(names, 0)
    for item in items:
        counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
    return counts


def _preview_item(match: Match, outcome: PurgeOutcome) -> dict[str, Any]:
    return {
        "file_id": match.file_id,
        "collection": match.collection,
        "path": match.path,
        "version": match.version,
        "outcome": outcome.outcome,
        "detail": outcome.detail,
        "holds": list(outcome.holds),
    }


def _planned(items: Sequence[Mapping[str, Any]]) -> list[PlanItem]:
    """Plan items keep ids, versions and preview outcomes only: no paths, which may name
    people too."""
    return [
        PlanItem(
            i["file_id"], i["version"], "erase", {"outcome": i["outcome"], "holds": i["holds"]}
        )
        for i in items
    ]


def _plan_item(item: PlanItem) -> dict[str, Any]:
    return {"file_id": item.file_id, "version": item.version, **item.details}


def _event(conn: Connection, kind: str, actor: str, details: dict[str, Any], rid: str) -> None:
    eventlog.append(conn, [NewEvent(kind, actor, details=details, correlation_id=rid)])


SORTS = {
    "created_at": ErasureRequest.created_at, "executed_at": ErasureRequest.executed_at,
    "key": ErasureRequest.subject_key, "created_by": ErasureRequest.created_by,
}  # fmt: skip
_FILTERED = {
    "key": ErasureRequest.subject_key, "created_by": ErasureRequest.created_by,
    "subject_hash": ErasureRequest.subject_hash,
}  # fmt: skip
LIST_FILTERS = tuple(_FILTERED)


class ErasureService:
    def __init__(self, catalog: Catalog, purge: PurgeService, default_key: str) -> None:
        self.catalog = catalog
        self.purge = purge
        self.default_key = default_key

    def subject(self, key: Any, value: Any) -> Subject:
        return check_subject(key, value, self.default_key)

    # -- finding -------------------------------------------------------------------------------

    def matches(self, subject: Subject) -> Iterator[Match]:
        """Every unpurged version whose metadata holds the subject, in capture order.

        Each batch is its own short transaction, so a long scan never pins an old snapshot.
        """
        query = (
            select(
                Version.id, Version.file_id, Version.number, Version.user_metadata, File.path,
                Collection.name.label("collection"),
            )
            .join(File, File.id == Version.file_id)
            .join(Collection, Collection.id == File.collection_id)
            .where(
                Version.state != State.PURGED,
                Version.user_metadata.contains(subject.needle, autoescape=True),
            )
            .order_by(Version.id)
            .limit(BATCH)
        )  # fmt: skip
        after = ""
        while True:
            with self.catalog.reading() as conn:
                rows = conn.execute(query.where(Version.id > after)).all()
            for row in rows:
                if subject.carried_by(row.user_metadata):
                    yield Match(row.file_id, row.collection, row.path, row.number)
            if len(rows) < BATCH:
                return
            after = rows[-1].id

    def preview(self, subject: Subject) -> list[dict[str, Any]]:
        """Each matching version and what a purge would do to it now (purge, held, retained)."""
        items = []
        for match in self.matches(subject):
            items.append(_preview_item(match, self.purge.preview(match.file_id, match.version)))
            if len(items) > plans.MAX_ITEMS:
                break  # enough for plans.create to refuse with its advice
        return items

    # -- requests ------------------------------------------------------------------------------

    def create(
        self, actor: str, subject: Subject, reason: Any, *, dry_run: bool, correlation_id: str
    ) -> dict[str, Any]:
        """A new request: preview and store the plan; unless ``dry_run``, queue it at once."""
        reason = _check_reason(reason, subject)
        items = self.preview(subject)
        counts = _counts(items, PREVIEW_OUTCOMES)
        request_id = new_id()
        with self.catalog.writing() as conn:
            plan_id = plans.create(conn, KIND, subject.hash, _planned(items), actor)
            conn.execute(
                insert(ErasureRequest).values(
                    id=request_id, subject_hash=subject.hash, subject_key=subject.key,
                    reason=reason, plan_id=plan_id, preview_counts=json.dumps(counts),
                    created_at=utcnow(), created_by=actor,
                )
            )  # fmt: skip
            details = {
                "request": request_id, "subject_hash": subject.hash, "key": subject.key,
                "reason": reason, "counts": counts, "dry_run": dry_run, "plan": plan_id,
            }  # fmt: skip
            _event(conn, "erasure.requested", actor, details, correlation_id)
            if not dry_run:
                self._queue(conn, self._row(conn, request_id), actor, correlation_id)
            view = self._view(conn, self._row(conn, request_id))
        return {**view, "dry_run": dry_run, "items": items}

    def execute(
        self, actor: str, plan_id: str, subject: Subject | None, correlation_id: str
    ) -> dict[str, Any]:
        """Queue the purge of exactly what a preview listed. Giving the subject again is
        optional; if given, it must be the one the plan was made for."""
        with self.catalog.writing() as conn:
            row = (
                conn.execute(
                    select(ErasureRequest.__table__).where(ErasureRequest.plan_id == plan_id)
                ).first()
                if is_id(plan_id)
                else None
            )
            if row is None:
                raise NotFound(
                    f"there is no erasure plan with id {plan_id!r}: preview first (dry_run true)"
                )
            if subject is not None and subject.hash != row.subject_hash:
                raise InvalidInput(f"plan {plan_id} was made for another subject")
            items = self._queue(conn, row, actor, correlation_id)
            view = self._view(conn, self._row(conn, row.id))
        return {**view, "dry_run": False, "items": [_plan_item(item) for item in items]}

    def _queue(self, conn: Connection, row: Any, actor: str, correlation_id: str) -> list[PlanItem]:
        """Mark the plan executed and queue its job (its payload is only the request id)."""
        items = plans.take(conn, row.plan_id, KIND, row.subject_hash)
        job = jobs.enqueue(conn, NewJob(JOB_KIND, {"request": row.id}, total=len(items)), actor)
        conn.execute(
            update(ErasureRequest)
            .where(ErasureRequest.id == row.id)
            .values(job_id=job.id, executed_at=utcnow(), executed_by=actor)
        )
        details = {"request": row.id, "subject_hash": row.subject_hash, "job": job.id,
                   "versions": len(items)}  # fmt: skip
        _event(conn, "erasure.queued", actor, details, correlation_id)
        return items

    def listing(self, window: Window) -> Slice:
        """Requests a window at a time (each as ``get`` shows it); filters: ``key``,
        ``created_by``, and ``subject_hash`` (to find a subject's requests without their value)."""
        check_filters(window, LIST_FILTERS)
        statement = select(ErasureRequest.__table__)
        for name in LIST_FILTERS:
            if (value := text_filter(window, name)) is not None:
                statement = statement.where(_FILTERED[name] == value)
        with self.catalog.reading() as conn:
            found = sql_window(conn, statement, SORTS, window, ErasureRequest.id)
            items = [self._view(conn, row) for row in found.items]
        return Slice(items, found.total, found.capped)

    def get(self, request_id: str) -> dict[str, Any]:
        with self.catalog.reading() as conn:
            return self._view(conn, self._row(conn, request_id))

    def _row(self, conn: Connection, request_id: str) -> Any:
        row = (
            conn.execute(
                select(ErasureRequest.__table__).where(ErasureRequest.id == request_id)
            ).first()
            if is_id(request_id)
            else None
        )
        if row is None:
            raise NotFound(f"there is no erasure request with id {request_id!r}")
        return row

    def _view(self, conn: Connection, row: Any) -> dict[str, Any]:
        """The request as clients see it; its state and summary are its job's."""
        job = jobs.get(conn, row.job_id) if row.job_id else None
        return {
            "request_id": row.id,
            "subject_hash": row.subject_hash,
            "key": row.subject_key,
            "reason": row.reason,
            "plan_id": row.plan_id,
            "counts": json.loads(row.preview_counts),
            "created_at": isoformat(row.created_at),
            "created_by": row.created_by,
            "state": job.state if job else "previewed",
            "job_id": row.job_id,
            "executed_at": isoformat(row.executed_at) if row.executed_at else None,
            "executed_by": row.executed_by,
            "progress": {"done": job.progress_done, "total": job.progress_total} if job else None,
            "summary": job.result if job else None,
            "error": job.last_error if job else None,
        }

    # -- the job -------------------------------------------------------------------------------

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """The ``erasure.run`` job: purge each version of the plan, in its requester's name.

        Safe to run again after a crash: versions purged the first time are found with their
        certificates and reported as purged.
        """
        request_id = str(context.payload.get("request", ""))
        with self.catalog.reading() as conn:
            row = self._row(conn, request_id)
            stored = conn.execute(select(Plan.items).where(Plan.id == row.plan_id)).scalar_one()
        items = [PlanItem(**item) for item in json.loads(stored)]
        cause = {"request": f"{KIND}:{request_id}"}
        results = []
        for first in range(0, len(items), PURGE_BATCH):
            batch = items[first : first + PURGE_BATCH]
            requests = [
                PurgeRequest(item.file_id, item.version, cause, context.actor, cause["request"],
                             (row.subject_key,))
                for item in batch
            ]  # fmt: skip
            results += [
                self._reported(o, cause["request"]) for o in self.purge.purge_many(requests)
            ]
            context.progress(first + len(batch), len(items))
        context.progress(len(items), len(items), force=True)
        counts = _counts(results, RUN_OUTCOMES)
        with self.catalog.writing() as conn:
            details = {"request": request_id, "subject_hash": row.subject_hash, "counts": counts}
            _event(conn, "erasure.completed", context.actor, details, cause["request"])
        return {"request": request_id, "counts": counts, "items": results}

    def _reported(self, outcome: PurgeOutcome, request: str) -> dict[str, Any]:
        """A version's line in the summary: one this request purged before a crash (and the
        rerun finds already purged) is reported purged, with the certificate it got then."""
        if outcome.outcome == "already-purged":
            earlier = self._certificate_of(outcome.file_id, outcome.version, request)
            if earlier is not None:
                outcome = PurgeOutcome(
                    outcome.file_id, outcome.version, "purged", "purged", certificate_id=earlier
                )
        return outcome.as_dict()

    def _certificate_of(self, file_id: str, version: int, request: str) -> str | None:
        """The certificate this request already got for a version (a rerun after a crash)."""
        with self.catalog.reading() as conn:
            rows = conn.execute(
                select(Certificate.id, Certificate.document).where(
                    Certificate.file_id == file_id, Certificate.version == version
                )
            ).all()
        for row in rows:
            if json.loads(row.document).get("cause", {}).get("request") == request:
                return str(row.id)
        return None
