"""Retention: how long each version must be kept, and what happens when that time comes.

``retain_until`` is stored per version and indexed, so finding what is due reads only due rows.
Compliance retention can only be extended; governance retention may be shortened by an admin,
and that shortening is recorded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from datoferum.domain.ids import isoformat, utcnow
from datoferum.domain.records import State
from datoferum.spine.catalog.schema import Version


def purge_schedule(conn: Connection) -> dict[str, Any]:
    """When the next purge is due, how many are overdue, and the lag of the oldest overdue one."""
    now = utcnow()
    pending = (Version.expiry_action == "purge", Version.state == State.STORED)
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
