"""Totals over the catalog for the dashboard.

``catalog_totals``: files and bytes by collection and by state, one ``GROUP BY`` over the files
table (the newest version's state and size are kept on each file row, so no join over versions is
needed). That reads every file row once: about a second per few million files on SQLite here,
which is why the dashboard asks for it on demand and not on every page.

``activity``: versions captured per day over the last days, and purges due per day over the next
ones. Both read only their window through an index: version ids are UUIDv7, so "captured since"
is a range of the primary key, and due dates have their own index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, String, cast, func, select

from datoferum.domain.ids import first_id_since, utcnow
from datoferum.domain.records import State
from datoferum.errors import InvalidInput
from datoferum.spine.catalog.schema import Collection, File, Version

#: The longest window ``activity`` covers, each way.
MAX_DAYS = 90


def catalog_totals(conn: Connection) -> dict[str, Any]:
    """``{"files": n, "bytes": n, "by_collection": [...], "by_state": [...]}``, largest first."""
    by_collection: list[dict[str, Any]] = [
        {"collection": name, "files": count, "bytes": int(size or 0)}
        for name, count, size in conn.execute(
            select(Collection.name, func.count(File.id), func.sum(File.size))
            .join(File, File.collection_id == Collection.id)
            .group_by(Collection.name)
        )
    ]
    by_state: list[dict[str, Any]] = [
        {"state": state, "files": count, "bytes": int(size or 0)}
        for state, count, size in conn.execute(
            select(File.state, func.count(File.id), func.sum(File.size)).group_by(File.state)
        )
    ]
    by_collection.sort(key=lambda row: (-int(row["bytes"]), str(row["collection"])))
    by_state.sort(key=lambda row: (-int(row["files"]), str(row["state"])))
    return {
        "files": sum(row["files"] for row in by_state),
        "bytes": sum(row["bytes"] for row in by_state),
        "by_collection": by_collection,
        "by_state": by_state,
    }


def _day(column: Any) -> Any:
    """``YYYY-MM-DD`` of a datetime column, in SQL every catalog engine runs: each one's text
    form of a timestamp starts with the date."""
    return func.substr(cast(column, String), 1, 10)


def activity(conn: Connection, days: int) -> dict[str, Any]:
    """Versions captured per day over the last ``days`` days (today included), and purges due
    per day over the next ``days`` days; days without any are left out."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}, got {days}")
    now = utcnow()
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    captured_day = _day(Version.created_at)
    captured = conn.execute(
        select(captured_day, func.count(), func.sum(Version.size))
        .where(Version.id >= first_id_since(since))
        .group_by(captured_day)
        .order_by(captured_day)
    )
    due_day = _day(Version.retain_until)
    due = conn.execute(
        select(due_day, func.count(), func.sum(Version.size))
        .where(
            Version.expiry_action == "purge",
            Version.state.in_(State.LIVE),
            Version.retain_until > now,
            Version.retain_until <= now + timedelta(days=days),
        )
        .group_by(due_day)
        .order_by(due_day)
    )
    return {
        "days": days,
        "captured": [
            {"day": day, "versions": count, "bytes": int(size or 0)}
            for day, count, size in captured
        ],
        "purges_due": [
            {"day": day, "versions": count, "bytes": int(size or 0)} for day, count, size in due
        ],
    }
