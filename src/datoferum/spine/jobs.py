"""The job queue, kept in the catalog database so scaling out needs no broker.

A job is claimed under a lease that its worker renews with heartbeats. If a worker dies, the lease
runs out and another worker claims the job again, so handlers must be idempotent: doing a step
twice must leave the same result as doing it once. Claims use ``FOR UPDATE SKIP LOCKED`` on
engines that have it (MariaDB, PostgreSQL); on SQLite the writing transaction's ``BEGIN
IMMEDIATE`` already lets one claimer in at a time.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from datoferum.domain.ids import isoformat, new_id, utcnow
from datoferum.errors import InvalidInput, NotFound
from datoferum.spine.catalog.schema import Job


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    ALL = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
    FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})


BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=10)


@dataclass(frozen=True)
class NewJob:
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    run_at: datetime | None = None
    priority: int = 100
    max_attempts: int = 5
    idempotency_key: str | None = None
    total: int | None = None


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    payload: dict[str, Any]
    state: str
    priority: int
    run_at: datetime
    attempts: int
    max_attempts: int
    lease_until: datetime | None
    worker: str | None
    progress_done: int
    progress_total: int | None
    cancel_requested: bool
    idempotency_key: str | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    created_by: str
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return isoformat(value) if value else None

        return {
            "id": self.id,
            "kind": self.kind,
            "payload": self.payload,
            "state": self.state,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": isoformat(self.run_at),
            "worker": self.worker,
            "lease_until": moment(self.lease_until),
            "progress": {"done": self.progress_done, "total": self.progress_total},
            "cancel_requested": self.cancel_requested,
            "last_error": self.last_error,
            "result": self.result,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "finished_at": moment(self.finished_at),
        }


def _record(row: Any) -> JobRecord:
    return JobRecord(
        row.id, row.kind, json.loads(row.payload), row.state, row.priority, row.run_at,
        row.attempts, row.max_attempts, row.lease_until, row.worker, row.progress_done,
        row.progress_total, bool(row.cancel_requested), row.idempotency_key, row.last_error,
        json.loads(row.result) if row.result else None, row.created_at, row.created_by,
        row.finished_at,
    )  # fmt: skip


def get(conn: Connection, job_id: str) -> JobRecord:
    row = conn.execute(select(Job.__table__).where(Job.id == job_id)).first()
    if row is None:
        raise NotFound(f"there is no job with id {job_id!r}")
    return _record(row)


def enqueue(conn: Connection, job: NewJob, actor: str) -> JobRecord:
    """Queue ``job``; with an idempotency key already used, return that job instead."""
    if job.idempotency_key is not None:
        found = conn.execute(
            select(Job.__table__).where(Job.idempotency_key == job.idempotency_key)
        ).first()
        if found is not None:
            return _record(found)
    now = utcnow()
    job_id = new_id()
    try:
        with conn.begin_nested():
            conn.execute(
                insert(Job).values(
                    id=job_id, kind=job.kind, payload=json.dumps(dict(job.payload)),
                    state=JobState.QUEUED, priority=job.priority, run_at=job.run_at or now,
                    attempts=0, max_attempts=job.max_attempts, progress_done=0,
                    progress_total=job.total, cancel_requested=False,
                    idempotency_key=job.idempotency_key, created_at=now, created_by=actor,
                )
            )  # fmt: skip
    except IntegrityError:  # the same key, queued concurrently
        found = conn.execute(
            select(Job.__table__).where(Job.idempotency_key == job.idempotency_key)
        ).first()
        if found is None:
            raise
        return _record(found)
    return get(conn, job_id)


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Job.state == JobState.QUEUED, Job.run_at <= now),
        and_(Job.state == JobState.RUNNING, Job.lease_until < now),
    )


def claim(
    conn: Connection, worker: str, lease: timedelta, kinds: Sequence[str] | None = None
) -> JobRecord | None:
    """Take the most urgent job that is due (or whose worker's lease ran out)."""
    now = utcnow()
    query = select(Job.__table__).where(_claimable(now))
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    query = query.order_by(Job.priority, Job.run_at).limit(1)
    if conn.dialect.name in ("postgresql", "mysql", "mariadb"):
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    if row is None:
        return None
    if row.state == JobState.RUNNING and row.attempts >= row.max_attempts:
        conn.execute(
            update(Job)
            .where(Job.id == row.id)
            .values(
                state=JobState.FAILED, finished_at=now, lease_until=None,
                last_error=f"worker {row.worker} stopped answering on the last attempt",
            )
        )  # fmt: skip
        return claim(conn, worker, lease, kinds)
    taken = conn.execute(
        update(Job)
        .where(Job.id == row.id, _claimable(now))
        .values(
            state=JobState.RUNNING, worker=worker, lease_until=now + lease,
            attempts=Job.attempts + 1,
        )
    ).rowcount  # fmt: skip
    return get(conn, row.id) if taken == 1 else None


def heartbeat(
    conn: Connection,
    job_id: str,
    worker: str,
    lease: timedelta,
    *,
    done: int | None = None,
    total: int | None = None,
) -> JobRecord | None:
    """Renew the lease and record progress; None if the job is no longer this worker's."""
    values: dict[str, Any] = {"lease_until": utcnow() + lease}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    renewed = conn.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING)
        .values(**values)
    ).rowcount
    return get(conn, job_id) if renewed == 1 else None


def finish(
    conn: Connection, job_id: str, worker: str, state: str, result: Mapping[str, Any] | None
) -> bool:
    """Record the end of a job this worker holds; False if it lost the job meanwhile."""
    ended = conn.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING)
        .values(
            state=state,
            finished_at=utcnow(),
            lease_until=None,
            result=json.dumps(dict(result)) if result is not None else None,
        )
    )
    return ended.rowcount == 1


def backoff(attempts: int) -> timedelta:
    """Exponential, capped, with jitter so retries of many jobs do not arrive together."""
    delay: timedelta = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    return delay * random.uniform(0.5, 1.0)


def fail(conn: Connection, job: JobRecord, worker: str, error: str, *, retry: bool) -> str:
    """Retry later with backoff, or fail for good; returns the new state."""
    now = utcnow()
    again = retry and job.attempts < job.max_attempts and not job.cancel_requested
    state = JobState.QUEUED if again else JobState.FAILED
    conn.execute(
        update(Job)
        .where(Job.id == job.id, Job.worker == worker, Job.state == JobState.RUNNING)
        .values(
            state=state, last_error=error[:4000], lease_until=None,
            run_at=now + backoff(job.attempts) if again else job.run_at,
            finished_at=None if again else now,
        )
    )  # fmt: skip
    return state


def cancel(conn: Connection, job_id: str) -> JobRecord:
    """Cancel a queued job at once; ask a running one to stop at its next heartbeat."""
    job = get(conn, job_id)
    if job.state in JobState.FINISHED:
        raise InvalidInput(f"job {job_id} already ended ({job.state}); there is nothing to cancel")
    if job.state == JobState.QUEUED:
        conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.QUEUED)
            .values(state=JobState.CANCELLED, finished_at=utcnow(), cancel_requested=True)
        )
    else:
        conn.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    return get(conn, job_id)


def page(
    conn: Connection,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[JobRecord]:
    """Jobs, newest first."""
    if state is not None and state not in JobState.ALL:
        raise InvalidInput(f"unknown job state {state!r}; states are: {', '.join(JobState.ALL)}")
    query = select(Job.__table__)
    if state is not None:
        query = query.where(Job.state == state)
    if kind is not None:
        query = query.where(Job.kind == kind)
    rows = conn.execute(query.order_by(Job.created_at.desc()).limit(limit)).all()
    return [_record(row) for row in rows]


def depth(conn: Connection) -> dict[str, Any]:
    """How many jobs are in each state, and how late the oldest due job is."""
    counts = dict.fromkeys(JobState.ALL, 0)
    for state, count in conn.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[state] = count
    now = utcnow()
    oldest = conn.execute(
        select(func.min(Job.run_at)).where(Job.state == JobState.QUEUED, Job.run_at <= now)
    ).scalar()
    return {
        "jobs": counts,
        "oldest_due_seconds": (now - oldest).total_seconds() if oldest is not None else 0.0,
    }
