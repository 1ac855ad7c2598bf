"""The scheduler: turns cron schedules into queued jobs, exactly once per due time.

Each due run is queued with the idempotency key ``schedule:<name>:<due time>``, so several
schedulers (one per server process) may tick at once without queueing a run twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cronsim import CronSim, CronSimError
from sqlalchemy import Connection, delete, insert, select, update

from datoferum.domain.ids import isoformat, utcnow
from datoferum.errors import InvalidInput
from datoferum.spine import jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Schedule
from datoferum.spine.jobs import JobRecord, NewJob


def next_time(cron: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that matches ``cron`` (times in UTC)."""
    try:
        return next(CronSim(cron, after))
    except CronSimError as exc:
        raise InvalidInput(
            f"invalid cron expression {cron!r}: {exc}; use five fields, e.g. '0 3 * * *'"
        ) from None


def check_cron(cron: str) -> str:
    next_time(cron, utcnow())
    return cron


def set_schedule(conn: Connection, name: str, cron: str | None) -> None:
    """Create, change or (with ``cron=None``) remove the schedule called ``name``."""
    if cron is None:
        conn.execute(delete(Schedule).where(Schedule.name == name))
        return
    due = next_time(cron, utcnow())
    changed = conn.execute(
        update(Schedule).where(Schedule.name == name).values(cron=cron, next_run_at=due)
    ).rowcount
    if not changed:
        conn.execute(insert(Schedule).values(name=name, cron=cron, next_run_at=due))


class Scheduler:
    def __init__(self, catalog: Catalog, job_for: Callable[[str], NewJob]) -> None:
        """``job_for(name)`` says what to queue when the schedule ``name`` is due."""
        self.catalog = catalog
        self.job_for = job_for

    def run_once(self, now: datetime | None = None) -> list[JobRecord]:
        """Queue every due run; returns the jobs queued (or found already queued)."""
        now = now or utcnow()
        queued: list[JobRecord] = []
        with self.catalog.writing() as conn:
            due = conn.execute(select(Schedule.__table__).where(Schedule.next_run_at <= now)).all()
            for row in due:
                template = self.job_for(row.name)
                job = NewJob(
                    template.kind,
                    template.payload,
                    idempotency_key=f"schedule:{row.name}:{isoformat(row.next_run_at)}",
                )
                queued.append(jobs.enqueue(conn, job, f"schedule:{row.name}"))
                conn.execute(
                    update(Schedule)
                    .where(Schedule.name == row.name)
                    .values(last_run_at=now, next_run_at=next_time(row.cron, now))
                )
        return queued
