"""Workers: claim jobs from the queue and run their handlers.

Built around :meth:`Worker.run_once`, which claims and runs at most one job, so tests drive a
worker step by step and the long-running loop is a thin shell around it. Handlers report progress
through their :class:`JobContext`; each report renews the lease and is where a cancellation
request takes effect.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from datoferum.errors import DatoferumError
from datoferum.spine import jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.jobs import JobRecord, JobState

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a handler when someone cancelled its job."""


class LeaseLost(Exception):
    """Raised inside a handler whose job was taken over (its lease ran out)."""


class JobContext:
    """What a handler sees: its job, and a way to report progress and keep its lease."""

    def __init__(self, worker: Worker, job: JobRecord) -> None:
        self.job = job
        self.payload = job.payload
        self._worker = worker
        self._last_beat = time.monotonic()

    @property
    def actor(self) -> str:
        """Who set this work in motion: automatic actions are recorded in their name."""
        return self.job.created_by

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress (at most every heartbeat interval unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last_beat < self._worker.heartbeat_seconds:
            return
        self._last_beat = now
        with self._worker.catalog.writing() as conn:
            job = jobs.heartbeat(
                conn, self.job.id, self._worker.name, self._worker.lease, done=done, total=total
            )
        if job is None:
            raise LeaseLost(f"job {self.job.id} is no longer held by {self._worker.name}")
        self.job = job
        if job.cancel_requested:
            raise JobCancelled(f"job {job.id} was cancelled")


Handler = Callable[[JobContext], Mapping[str, Any] | None]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    def __init__(
        self,
        catalog: Catalog,
        handlers: Mapping[str, Handler],
        *,
        name: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self.catalog = catalog
        self.handlers = handlers
        self.name = name or worker_name()
        self.lease = lease
        # Renew well before the lease runs out, or a short lease would pass to another worker
        # between two heartbeats of a healthy one.
        self.heartbeat_seconds = min(heartbeat_seconds, lease.total_seconds() / 4)

    def run_once(self) -> JobRecord | None:
        """Claim one due job and run it to an end; returns it (as claimed), or None if idle."""
        with self.catalog.writing() as conn:
            job = jobs.claim(conn, self.name, self.lease, list(self.handlers))
        if job is None:
            return None
        state, result, error, retry = self._run(job)
        with self.catalog.writing() as conn:
            if state == JobState.FAILED:
                state = jobs.fail(conn, job, self.name, error, retry=retry)
            else:
                jobs.finish(conn, job.id, self.name, state, result)
        log.info("job %s (%s) %s", job.id, job.kind, state)
        return job

    def _run(self, job: JobRecord) -> tuple[str, Mapping[str, Any] | None, str, bool]:
        """(new state, result, error, retry?) of running the job's handler."""
        context = JobContext(self, job)
        try:
            if job.cancel_requested:
                raise JobCancelled(f"job {job.id} was cancelled")
            result = self.handlers[job.kind](context)
        except JobCancelled:
            return JobState.CANCELLED, {"done": context.job.progress_done}, "", False
        except LeaseLost as lost:
            return JobState.FAILED, None, str(lost), True
        except DatoferumError as error:
            return JobState.FAILED, None, error.detail, error.transient
        except Exception as error:  # an unexpected fault: retry, with the trace in the log
            log.exception("job %s (%s) failed", job.id, job.kind)
            return JobState.FAILED, None, f"{type(error).__name__}: {error}", True
        return JobState.SUCCEEDED, result, "", False

    def run(self, stop: threading.Event, *, idle_seconds: float = 1.0) -> None:
        """Work until ``stop`` is set; between jobs, ``tick`` callbacks (the scheduler) run."""
        while not stop.is_set():
            try:
                busy = self.run_once() is not None
            except DatoferumError as error:  # the catalog was briefly unavailable
                log.warning("worker %s: %s", self.name, error.detail)
                busy = False
            if not busy:
                stop.wait(idle_seconds)
