"""The job queue, workers and the scheduler, against a real catalog."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from datoferum.domain.ids import utcnow
from datoferum.errors import InvalidInput, StorageUnavailable
from datoferum.services.scheduler import Scheduler, next_time, set_schedule
from datoferum.services.worker import JobContext, Worker
from datoferum.spine import jobs
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Job
from datoferum.spine.jobs import JobState, NewJob

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url)
    migrate.upgrade(catalog)
    yield catalog
    catalog.dispose()


def _enqueue(catalog: Catalog, job: NewJob) -> jobs.JobRecord:
    with catalog.writing() as conn:
        return jobs.enqueue(conn, job, "test")


def _get(catalog: Catalog, job_id: str) -> jobs.JobRecord:
    with catalog.reading() as conn:
        return jobs.get(conn, job_id)


def test_idempotency_key_queues_once(catalog: Catalog) -> None:
    first = _enqueue(catalog, NewJob("x", {"n": 1}, idempotency_key="once"))
    second = _enqueue(catalog, NewJob("x", {"n": 2}, idempotency_key="once"))
    assert first.id == second.id and second.payload == {"n": 1}


def test_claims_follow_priority_then_due_time_and_skip_future_jobs(catalog: Catalog) -> None:
    later = _enqueue(catalog, NewJob("x", priority=100))
    urgent = _enqueue(catalog, NewJob("x", priority=1))
    _enqueue(catalog, NewJob("x", run_at=utcnow() + timedelta(hours=1)))
    order = []
    for _ in range(3):
        with catalog.writing() as conn:
            claimed = jobs.claim(conn, "w", timedelta(seconds=30))
        order.append(claimed.id if claimed else None)
    assert order == [urgent.id, later.id, None]


def test_expired_lease_is_claimed_again_and_counts_an_attempt(catalog: Catalog) -> None:
    job = _enqueue(catalog, NewJob("x", max_attempts=2))
    with catalog.writing() as conn:
        assert jobs.claim(conn, "dead-worker", timedelta(seconds=30)) is not None
        assert jobs.claim(conn, "other", timedelta(seconds=30)) is None  # lease still valid
        conn.execute(
            update(Job).where(Job.id == job.id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        again = jobs.claim(conn, "other", timedelta(seconds=30))
    assert again is not None and again.worker == "other" and again.attempts == 2
    with catalog.writing() as conn:
        conn.execute(
            update(Job).where(Job.id == job.id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        assert jobs.claim(conn, "third", timedelta(seconds=30)) is None
    lost = _get(catalog, job.id)
    assert lost.state == JobState.FAILED and "stopped answering" in (lost.last_error or "")


def _worker(catalog: Catalog, **handlers: Any) -> Worker:
    return Worker(catalog, handlers, name="test-worker", heartbeat_seconds=0)


def test_worker_runs_a_handler_with_progress(catalog: Catalog) -> None:
    seen: list[int] = []

    def count(ctx: JobContext) -> dict[str, int]:
        for n in range(1, 4):
            ctx.progress(n, 3)
            seen.append(_get(catalog, ctx.job.id).progress_done)
        return {"counted": 3}

    job = _enqueue(catalog, NewJob("count"))
    worker = _worker(catalog, count=count)
    assert worker.run_once() is not None
    assert worker.run_once() is None
    done = _get(catalog, job.id)
    assert done.state == JobState.SUCCEEDED and done.result == {"counted": 3}
    assert (done.progress_done, done.progress_total) == (3, 3) and seen == [1, 2, 3]


def test_transient_failures_retry_with_backoff_then_fail(catalog: Catalog) -> None:
    def flaky(ctx: JobContext) -> None:
        raise StorageUnavailable("the disk went away")

    job = _enqueue(catalog, NewJob("flaky", max_attempts=2))
    worker = _worker(catalog, flaky=flaky)
    worker.run_once()
    retried = _get(catalog, job.id)
    assert retried.state == JobState.QUEUED and retried.run_at > utcnow()
    assert retried.last_error == "the disk went away"
    with catalog.writing() as conn:
        conn.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))
    worker.run_once()
    assert _get(catalog, job.id).state == JobState.FAILED


def test_terminal_errors_do_not_retry(catalog: Catalog) -> None:
    def bad(ctx: JobContext) -> None:
        raise InvalidInput("this job can never work")

    job = _enqueue(catalog, NewJob("bad"))
    _worker(catalog, bad=bad).run_once()
    failed = _get(catalog, job.id)
    assert failed.state == JobState.FAILED and failed.attempts == 1


def test_cancel_queued_and_running_jobs(catalog: Catalog) -> None:
    queued = _enqueue(catalog, NewJob("loop"))
    with catalog.writing() as conn:
        assert jobs.cancel(conn, queued.id).state == JobState.CANCELLED
        with pytest.raises(InvalidInput, match="already ended"):
            jobs.cancel(conn, queued.id)

    started = threading.Event()

    def loop(ctx: JobContext) -> None:
        started.set()
        for n in range(10_000):
            ctx.progress(n)
        raise AssertionError("the cancellation was never seen")

    running = _enqueue(catalog, NewJob("loop"))
    worker = _worker(catalog, loop=loop)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert started.wait(10)
    with catalog.writing() as conn:
        jobs.cancel(conn, running.id)
    thread.join(30)
    assert _get(catalog, running.id).state == JobState.CANCELLED


def test_queue_depth(catalog: Catalog) -> None:
    _enqueue(catalog, NewJob("x"))
    _enqueue(catalog, NewJob("x", run_at=utcnow() + timedelta(days=1)))
    with catalog.reading() as conn:
        status = jobs.depth(conn)
    assert status["jobs"]["queued"] == 2 and status["jobs"]["running"] == 0
    assert status["oldest_due_seconds"] >= 0


def test_scheduler_queues_each_due_run_once(catalog: Catalog) -> None:
    with catalog.writing() as conn:
        set_schedule(conn, "policy.run:nightly", "0 3 * * *")
    scheduler = Scheduler(catalog, lambda name: NewJob("policy.run", {"name": name}))
    assert scheduler.run_once() == []  # not due yet
    later = utcnow() + timedelta(days=1, hours=1)
    first = scheduler.run_once(later)
    assert [job.kind for job in first] == ["policy.run"]
    assert scheduler.run_once(later) == []  # the next run is a day later
    twin = Scheduler(catalog, lambda name: NewJob("policy.run", {"name": name}))
    assert twin.run_once(later) == []


def test_bad_cron_is_refused_with_an_example() -> None:
    with pytest.raises(InvalidInput, match="0 3"):
        next_time("every night", utcnow())
    assert next_time("*/5 * * * *", utcnow()) > utcnow()


def test_a_retried_plan_run_works_through_the_same_items(
    tmp_path: Path, database_url: str | None
) -> None:
    """A policy run from a plan that fails half-way is retried on the plan's items."""
    from datoferum.config import Settings
    from datoferum.domain.roles import SYSTEM
    from datoferum.services.capture import CaptureRequest
    from datoferum.services.wiring import build_services, prepare

    settings = Settings(home=tmp_path / "home", durability="relaxed", database_url=database_url)
    prepare(settings)
    services = build_services(settings)
    try:
        for n in range(3):
            capture = services.capture.start(CaptureRequest("c", f"f{n}", SYSTEM))
            capture.finish(b"x")
        text = (
            "policies:\n  - name: tagger\n    resource: file\n    mode: {type: manual}\n"
            "    filters:\n      - collection: c\n    actions:\n      - tag: {seen: 'yes'}\n"
        )
        services.policies.apply("test", text, "t.yaml")
        plan_id, _, items = services.policies.preview("test", "tagger")
        job = services.policies.start("test", "tagger", plan_id)
        calls = {"n": 0}
        real = services.policies.run_job

        def flaky(context: JobContext) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise StorageUnavailable("a passing fault")
            return real(context)

        worker = Worker(services.catalog, {"policy.run": flaky}, name="w", heartbeat_seconds=0)
        worker.run_once()
        with services.catalog.writing() as conn:
            conn.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))
        worker.run_once()
        done = _get(services.catalog, job.id)
        assert done.state == JobState.SUCCEEDED, done.last_error
        assert done.result is not None and done.result["files"] == len(items) == 3
    finally:
        services.close()
