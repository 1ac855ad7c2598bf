"""Retention: how long each version must be kept, and what happens when that time comes.

``retain_until`` is stored per version and indexed, so finding what is due reads only due rows.
Compliance retention can only be extended; governance retention may be shortened by an admin,
and that shortening is recorded. When the time comes, the version's ``expiry_action`` runs:
``purge`` (unless a hold wins), ``transition`` or ``notify``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from datoferum.domain.ids import is_id, isoformat, utcnow
from datoferum.domain.records import State
from datoferum.domain.retention import RetentionRule
from datoferum.errors import DatoferumError, InvalidInput, NotFound, Retained
from datoferum.services import placement
from datoferum.services.purge import PurgeOutcome, PurgeRequest, PurgeService
from datoferum.services.worker import JobContext
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Version
from datoferum.spine.eventlog import NewEvent

log = logging.getLogger(__name__)

SWEEP_BATCH = 500


def apply_rule(
    conn: Connection, version_id: str, rule: RetentionRule, actor: str, correlation_id: str = ""
) -> bool:
    """Set retention on a version if it keeps the version at least as long as now.

    Rules never shorten: a later deadline (or a first one) wins, and compliance is never
    downgraded to governance. Returns whether anything changed; a change is an event.
    """
    row = conn.execute(
        select(Version.file_id, Version.number, Version.retain_until, Version.retention_mode)
        .where(Version.id == version_id)
    ).one()  # fmt: skip
    if row.retain_until is not None and row.retain_until >= rule.until:
        return False
    mode = "compliance" if "compliance" in (row.retention_mode, rule.mode) else rule.mode
    conn.execute(
        update(Version)
        .where(Version.id == version_id)
        .values(
            retain_until=rule.until, retention_mode=mode, expiry_action=rule.then,
            expiry_policy=rule.transition_to, retention_cause=rule.cause[:255],
        )
    )  # fmt: skip
    details = {
        "retain_until": isoformat(rule.until), "mode": mode, "then": rule.then,
        "cause": rule.cause, "previous": isoformat(row.retain_until) if row.retain_until else None,
    }  # fmt: skip
    if rule.transition_to:
        details["transition_to"] = rule.transition_to
    eventlog.append(
        conn,
        [NewEvent("file.retention_set", actor, row.file_id, row.number, details, correlation_id)],
    )
    return True


def purge_schedule(conn: Connection) -> dict[str, Any]:
    """When the next purge is due, how many are overdue, and the lag of the oldest overdue one."""
    now = utcnow()
    pending = (Version.expiry_action == "purge", Version.state.in_(State.LIVE))
    next_due = conn.execute(
        select(func.min(Version.retain_until)).where(*pending, Version.retain_until > now)
    ).scalar()
    oldest_overdue, overdue = conn.execute(
        select(func.min(Version.retain_until), func.count()).where(
            *pending, Version.retain_until <= now
        )
    ).one()
    return {
        "next_purge_due": isoformat(next_due) if next_due else None,
        "purges_overdue": overdue,
        "purge_lag_seconds": (now - oldest_overdue).total_seconds() if oldest_overdue else 0.0,
    }


ACTOR = "retention"


def _cause(row: Any) -> dict[str, str]:
    return {"retention": row.retention_cause or "", "due": isoformat(row.retain_until)}


def _purges(rows: Sequence[Any]) -> list[PurgeRequest]:
    return [PurgeRequest(row.file_id, row.number, _cause(row), ACTOR) for row in rows]


def _purge_count(row: Any, outcome: PurgeOutcome) -> str:
    """Which of the sweep's counts a purge outcome adds to."""
    if outcome.outcome == "failed":
        log.warning("expiry of %s v%s failed: %s", row.file_id, row.number, outcome.detail)
        return "failed"
    return "purged" if outcome.outcome in ("purged", "already-purged") else "held"


class RetentionService:
    def __init__(self, catalog: Catalog, purge: PurgeService) -> None:
        self.catalog = catalog
        self.purge = purge

    def change(
        self,
        actor: str,
        file_id: str,
        number: int,
        until: datetime,
        *,
        reason: str,
        mode: str | None = None,
        then: str | None = None,
        to: str | None = None,
        correlation_id: str = "",
    ) -> dict[str, Any]:
        """An admin's change of retention: extending always, shortening only governance.
        ``to`` is the storage policy a ``then: transition`` moves the version to."""
        if not reason.strip():
            raise InvalidInput("a change of retention needs a reason")
        RetentionRule(until, mode or "governance", then, transition_to=to)  # checked first
        with self.catalog.writing() as conn:
            row = (
                conn.execute(
                    select(Version.__table__).where(
                        Version.file_id == file_id, Version.number == number
                    )
                ).first()
                if is_id(file_id)
                else None
            )
            if row is None:
                raise NotFound(f"file {file_id!r} has no version {number}")
            shorter = row.retain_until is not None and until < row.retain_until
            if shorter and row.retention_mode == "compliance":
                raise Retained(
                    f"version {number} is under compliance retention until "
                    f"{isoformat(row.retain_until)}; compliance retention can only be extended"
                )
            new_mode = mode or row.retention_mode or "governance"
            if row.retention_mode == "compliance" and new_mode != "compliance":
                raise Retained("compliance retention cannot be turned into governance retention")
            conn.execute(
                update(Version)
                .where(Version.id == row.id)
                .values(
                    retain_until=until, retention_mode=new_mode,
                    expiry_action=then if then is not None else row.expiry_action,
                    expiry_policy=to if then is not None else row.expiry_policy,
                    retention_cause=f"{actor}: {reason}"[:255],
                )
            )  # fmt: skip
            kind = "file.retention_shortened" if shorter else "file.retention_set"
            details = {
                "retain_until": isoformat(until), "mode": new_mode, "reason": reason,
                "previous": isoformat(row.retain_until) if row.retain_until else None,
            }  # fmt: skip
            eventlog.append(conn, [NewEvent(kind, actor, file_id, number, details, correlation_id)])
        return details

    def sweep(self, context: JobContext | None = None) -> dict[str, int]:
        """Run the expiry action of every version whose time has come (a job handler)."""
        counts = {"purged": 0, "held": 0, "notified": 0, "transitioned": 0, "failed": 0}
        now = utcnow()
        after: tuple[datetime, str] | None = None
        while True:
            with self.catalog.reading() as conn:
                query = select(
                    Version.id, Version.file_id, Version.number, Version.retain_until,
                    Version.expiry_action, Version.expiry_policy, Version.retention_cause,
                ).where(
                    Version.retain_until <= now, Version.expiry_action.is_not(None),
                    # A purge stopped half-way (crash) stays "purging": running it again ends it.
                    Version.state.in_(State.LIVE)
                    | ((Version.state == State.PURGING) & (Version.expiry_action == "purge")),
                )  # fmt: skip
                if after is not None:
                    query = query.where(
                        (Version.retain_until > after[0])
                        | ((Version.retain_until == after[0]) & (Version.id > after[1]))
                    )
                due = conn.execute(
                    query.order_by(Version.retain_until, Version.id).limit(SWEEP_BATCH)
                ).all()
            if not due:
                return counts
            purges = [row for row in due if row.expiry_action == "purge"]
            for row, purged in zip(purges, self.purge.purge_many(_purges(purges)), strict=True):
                counts[_purge_count(row, purged)] += 1
            for row in due:
                if row.expiry_action == "purge":
                    continue
                try:
                    outcome = self._expire(row)
                except DatoferumError as error:  # one bad file must not stop the others
                    log.warning(
                        "expiry of %s v%s failed: %s", row.file_id, row.number, error.detail
                    )
                    outcome = "failed"
                counts[outcome] += 1
            after = (due[-1].retain_until, due[-1].id)
            if context is not None:
                context.progress(sum(counts.values()))

    def _expire(self, row: Any) -> str:
        """Notify, or move to its next storage policy, one version whose retention ended."""
        details: dict[str, Any] = _cause(row)
        with self.catalog.writing() as conn:
            conn.execute(update(Version).where(Version.id == row.id).values(expiry_action=None))
            if row.expiry_action == "notify":
                kind, outcome = "file.retention_notified", "notified"
            else:
                placement.move(conn, row.id, row.expiry_policy, ACTOR)
                kind, outcome = "file.transitioned", "transitioned"
                details["storage_policy"] = row.expiry_policy
            eventlog.append(conn, [NewEvent(kind, ACTOR, row.file_id, row.number, details)])
        return outcome
