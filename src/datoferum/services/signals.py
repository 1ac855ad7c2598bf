"""Signals: named facts that outside processes report about a file ("published", "consumed",
"approved-for-deletion"). Each is an event on the file's record, and policies may count time
from one ("purge 30 days after consumed")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from datoferum.domain.ids import is_id, isoformat
from datoferum.domain.records import State
from datoferum.domain.roles import Principal
from datoferum.errors import Conflict, InvalidInput, NotFound
from datoferum.services import plans
from datoferum.services.files import get_file
from datoferum.services.plans import PlanItem
from datoferum.services.worker import JobContext
from datoferum.spine import eventlog, jobs
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import File, Signal
from datoferum.spine.eventlog import EventRecord, NewEvent
from datoferum.spine.jobs import JobRecord, NewJob

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_DATA_BYTES = 16 * 1024

#: Called after a signal is committed, with the file id and the signal name (the policy engine
#: uses it to start retention clocks that count from that signal).
SignalHook = Callable[[str, str], None]


def check_signal(name: Any, data: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInput(
            f"signal name {name!r} is invalid: use up to 64 lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (e.g. 'consumed')"
        )
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise InvalidInput("signal data must be a JSON object")
    if len(json.dumps(data)) > MAX_DATA_BYTES:
        raise InvalidInput(f"signal data is larger than {MAX_DATA_BYTES} bytes")
    return name, data


def latest_signals(conn: Connection, file_id: str) -> dict[str, datetime]:
    """The newest time each signal was received for the file."""
    rows = conn.execute(
        select(Signal.name, func.max(Signal.at))
        .where(Signal.file_id == file_id)
        .group_by(Signal.name)
    )
    return dict(rows.all())


class SignalService:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.hooks: list[SignalHook] = []

    def record(
        self,
        conn: Connection,
        actor: str,
        file_id: str,
        name: str,
        data: Mapping[str, Any],
        correlation_id: str = "",
    ) -> EventRecord:
        """Record a checked signal inside the caller's transaction."""
        row = (
            conn.execute(select(File.latest_version, File.state).where(File.id == file_id)).first()
            if is_id(file_id)
            else None
        )
        if row is None:
            raise NotFound(f"there is no file with id {file_id!r}")
        if row.state in (State.PURGING, State.PURGED):
            raise Conflict(f"file {file_id} is {row.state}; signals can no longer change its life")
        # The row takes the event's time, so both records of the signal agree exactly.
        (event,) = eventlog.append(
            conn,
            [
                NewEvent(
                    "file.signal", actor, file_id, row.latest_version,
                    {"name": name, "data": dict(data)}, correlation_id,
                )
            ],
        )  # fmt: skip
        conn.execute(
            insert(Signal).values(
                file_id=file_id, version=row.latest_version, name=name,
                data=json.dumps(dict(data), ensure_ascii=False), at=event.time, actor=actor,
            )
        )  # fmt: skip
        return event

    def for_file(self, file_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The file's newest ``limit`` signals, newest first (a 404 for an unknown file)."""
        with self.catalog.reading() as conn:
            get_file(conn, file_id, with_versions=False)
            rows = conn.execute(
                select(Signal.name, Signal.version, Signal.data, Signal.at, Signal.actor)
                .where(Signal.file_id == file_id)
                .order_by(Signal.id.desc())
                .limit(limit)
            ).all()
        return [
            {
                "name": row.name, "version": row.version, "data": json.loads(row.data),
                "at": isoformat(row.at), "actor": row.actor,
            }
            for row in rows
        ]  # fmt: skip

    def send(
        self, actor: Principal, file_id: str, name: Any, data: Any, correlation_id: str = ""
    ) -> EventRecord:
        name, data = check_signal(name, data)
        with self.catalog.writing() as conn:
            event = self.record(conn, actor.subject, file_id, name, data, correlation_id)
        for hook in self.hooks:
            hook(file_id, name)
        return event


#: Picks the files a saved query (policy filters) selects; given by the policy engine.
Selector = Callable[[Sequence[Any], str], list[PlanItem]]


class BulkSignals:
    """One signal for many files: previewed as a plan, sent by a ``signal.bulk`` job."""

    def __init__(self, catalog: Catalog, signals: SignalService, selector: Selector) -> None:
        self.catalog = catalog
        self.signals = signals
        self.selector = selector

    def preview(
        self, actor: str, name: Any, data: Any, query: Sequence[Any]
    ) -> tuple[str, list[PlanItem]]:
        name, data = check_signal(name, data)
        items = self.selector(query, "signal")
        with self.catalog.writing() as conn:
            return plans.create(conn, "signal", name, items, actor), items

    def start(
        self, actor: str, name: Any, data: Any, query: Sequence[Any] | None, plan_id: str | None
    ) -> JobRecord:
        name, data = check_signal(name, data)
        if plan_id is None and not query:
            raise InvalidInput("give 'query' (policy filters) or the 'plan' of a dry run")
        payload = {"name": name, "data": data, "query": list(query or []), "plan": plan_id}
        with self.catalog.writing() as conn:
            if plan_id is not None:  # taken with the job queued: a retried job reads it again
                plans.take(conn, plan_id, "signal", name)
            return jobs.enqueue(conn, NewJob("signal.bulk", payload), actor)

    def run_job(self, context: JobContext) -> dict[str, Any]:
        payload = context.payload
        name, data = check_signal(payload["name"], payload.get("data"))
        if payload.get("plan"):
            with self.catalog.reading() as conn:
                items = plans.items(conn, str(payload["plan"]))
        else:
            items = self.selector(payload.get("query") or [], "signal")
        counts = {"sent": 0, "skipped": 0}
        for done, item in enumerate(items, 1):
            try:
                with self.catalog.writing() as conn:
                    self.signals.record(conn, context.actor, item.file_id, name, data)
            except (Conflict, NotFound):  # purged or gone since the preview
                counts["skipped"] += 1
            else:
                counts["sent"] += 1
                for hook in self.signals.hooks:
                    hook(item.file_id, name)
            context.progress(done, len(items))
        return {"signal": name, "files": len(items), **counts}
