"""Totals over the catalog for the dashboard: files and bytes by collection and by state.

Both are one ``GROUP BY`` over the files table (the newest version's state and size are kept on
each file row, so no join over versions is needed). That reads every file row once: about a
second per few million files on SQLite here, which is why the dashboard asks for it on demand
and not on every page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from datoferum.spine.catalog.schema import Collection, File


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
