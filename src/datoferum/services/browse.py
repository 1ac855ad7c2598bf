"""Windows over the job queue and the event log, for screens that page by position.

The queue and the log have their own feeds (newest jobs; events after a sequence number) that
workers and auditors follow. People browsing them want the usual table instead: sorted by a
column, filtered, "41-60 of 2,310". These functions answer that from the same tables and
indexes, with the bounded count of ``services.listing``.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from datoferum.domain.ids import is_id
from datoferum.errors import InvalidInput
from datoferum.services.listing import Column, Slice, Window, sql_window, text_filter
from datoferum.spine.catalog.schema import Event, Job
from datoferum.spine.eventlog import _record as event_record
from datoferum.spine.jobs import JobState
from datoferum.spine.jobs import _record as job_record

JOB_SORTS: dict[str, Column] = {
    "id": Job.id,
    "kind": Job.kind,
    "state": Job.state,
    "priority": Job.priority,
    "attempts": Job.attempts,
    "run_at": Job.run_at,
    "created_at": Job.created_at,
    "finished_at": Job.finished_at,
}
JOB_FILTERS = ("state", "kind")

EVENT_SORTS: dict[str, Column] = {"seq": Event.seq, "id": Event.seq}
EVENT_FILTERS = ("type", "file_id", "actor")


def window_jobs(conn: Connection, window: Window) -> Slice:
    """Jobs filtered by ``state`` and ``kind`` (both indexed with ``state`` first)."""
    statement = select(Job.__table__)
    state = text_filter(window, "state")
    if state is not None:
        if state not in JobState.ALL:
            raise InvalidInput(
                f"unknown job state {state!r}; states are: {', '.join(JobState.ALL)}"
            )
        statement = statement.where(Job.state == state)
    kind = text_filter(window, "kind")
    if kind is not None:
        statement = statement.where(Job.kind == kind)
    found = sql_window(conn, statement, JOB_SORTS, window, Job.id)
    return Slice([job_record(row) for row in found.items], found.total, found.capped)


def window_events(conn: Connection, window: Window) -> Slice:
    """Events by sequence number, filtered by type prefix, file and actor. ``id`` sorts as
    ``seq`` so a front end whose rows are keyed by ``id`` can sort by it."""
    statement = select(Event.__table__)
    type_prefix = text_filter(window, "type")
    if type_prefix is not None:
        statement = statement.where(Event.type.startswith(type_prefix, autoescape=True))
    file_id = text_filter(window, "file_id")
    if file_id is not None:
        if not is_id(file_id):
            raise InvalidInput(f"file_id must be a file id (32 hex digits), got {file_id!r}")
        statement = statement.where(Event.file_id == file_id)
    actor = text_filter(window, "actor")
    if actor is not None:
        statement = statement.where(Event.actor == actor)
    found = sql_window(conn, statement, EVENT_SORTS, window, Event.seq)
    return Slice([event_record(row) for row in found.items], found.total, found.capped)
