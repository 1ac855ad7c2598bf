"""Dry-run plans: the exact list a preview showed, so executing it acts on exactly that list.

A plan is executed once. Whatever changed in between is checked again at execution (a hold placed
after the preview still wins, and the answer says so), but nothing outside the plan is touched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update

from datoferum.domain.ids import is_id, new_id, utcnow
from datoferum.errors import Conflict, InvalidInput, NotFound
from datoferum.spine.catalog.schema import Plan

MAX_ITEMS = 100_000


@dataclass(frozen=True)
class PlanItem:
    file_id: str
    version: int
    action: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def create(conn: Connection, kind: str, subject: str, items: Sequence[PlanItem], actor: str) -> str:
    if len(items) > MAX_ITEMS:
        raise InvalidInput(
            f"the preview selects {len(items)} items; plans hold at most {MAX_ITEMS}: "
            "narrow the selection and preview again"
        )
    plan_id = new_id()
    conn.execute(
        insert(Plan).values(
            id=plan_id, kind=kind, subject=subject,
            items=json.dumps([item.as_dict() for item in items]), created_at=utcnow(),
            created_by=actor,
        )
    )  # fmt: skip
    return plan_id


def take(conn: Connection, plan_id: str, kind: str, subject: str) -> list[PlanItem]:
    """The items of an unexecuted plan of this kind and subject, marking it executed."""
    row = (
        conn.execute(select(Plan.__table__).where(Plan.id == plan_id)).first()
        if is_id(plan_id)
        else None
    )
    if row is None:
        raise NotFound(f"there is no plan with id {plan_id!r}: preview again with dry_run")
    if (row.kind, row.subject) != (kind, subject):
        raise InvalidInput(
            f"plan {plan_id} is a preview of {row.kind} {row.subject!r}, not of this"
        )
    if row.executed_at is not None:
        raise Conflict(f"plan {plan_id} was already executed; preview again to act once more")
    conn.execute(update(Plan).where(Plan.id == plan_id).values(executed_at=utcnow()))
    return [PlanItem(**item) for item in json.loads(row.items)]


def items(conn: Connection, plan_id: str) -> list[PlanItem]:
    """The items of a plan already taken for execution (a job working through it, or retrying)."""
    found = conn.execute(select(Plan.items).where(Plan.id == plan_id)).scalar()
    if found is None:
        raise NotFound(f"there is no plan with id {plan_id!r}")
    return [PlanItem(**item) for item in json.loads(found)]
