"""The dashboard's activity: captures per day behind, purges due per day ahead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from datoferum.domain.ids import first_id_since, new_id, utcnow
from datoferum.errors import InvalidInput
from datoferum.services.stats import activity
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Collection, File, Version

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    catalog = Catalog(catalog_url)
    migrate.upgrade(catalog)
    yield catalog
    catalog.dispose()


def _id_at(moment: datetime) -> str:
    """A version id as the product would have issued it at ``moment`` (UUIDv7 order)."""
    return first_id_since(moment)[:12] + os.urandom(10).hex()


def _versions(catalog: Catalog, rows: list[dict[str, Any]]) -> None:
    now = utcnow()
    collection, file_id = new_id(), new_id()
    with catalog.writing() as conn:
        conn.execute(insert(Collection).values(id=collection, name="activity", created_at=now))
        conn.execute(
            insert(File).values(
                id=file_id, collection_id=collection, path="a.bin", path_hash="0" * 64,
                created_at=now, updated_at=now, latest_version=len(rows), state="stored",
                size=1, sha256="0" * 64,
            )
        )  # fmt: skip
        for number, row in enumerate(rows, start=1):
            created = row.pop("created_at", now)
            conn.execute(
                insert(Version).values(
                    id=_id_at(created), file_id=file_id, number=number, sha256="0" * 64,
                    content_type="application/octet-stream", user_metadata="{}",
                    created_at=created, created_by="test", **{"state": "stored", **row},
                )
            )  # fmt: skip


def test_captures_behind_and_purges_ahead_per_day(catalog: Catalog) -> None:
    now = utcnow()
    day = timedelta(days=1)
    purge = {"expiry_action": "purge"}
    _versions(
        catalog,
        [
            {"size": 10},
            {"size": 20},
            {"size": 5, "created_at": now - 2 * day},
            {"size": 7, "created_at": now - 40 * day},  # before the window
            {"size": 100, "retain_until": now + day, **purge},
            {"size": 200, "retain_until": now + 3 * day, **purge},
            {"size": 300, "retain_until": now + 3 * day, **purge},
            {"size": 1, "retain_until": now + 3 * day, "expiry_action": "transition"},
            {"size": 1, "retain_until": now + 3 * day, "state": "purged", **purge},
            {"size": 1, "retain_until": now - day, **purge},  # overdue: not ahead
            {"size": 1, "retain_until": now + 40 * day, **purge},  # after the window
        ],
    )
    with catalog.reading() as conn:
        found = activity(conn, 30)
    today = now.date().isoformat()
    captured = {row["day"]: (row["versions"], row["bytes"]) for row in found["captured"]}
    # Today: the first two and the seven with retention (sizes 100+200+300+1+1+1+1).
    assert captured == {
        (now - 2 * day).date().isoformat(): (1, 5),
        today: (9, 10 + 20 + 600 + 4),
    }
    due = {row["day"]: (row["versions"], row["bytes"]) for row in found["purges_due"]}
    assert due == {
        (now + day).date().isoformat(): (1, 100),
        (now + 3 * day).date().isoformat(): (2, 500),
    }
    with catalog.reading() as conn, pytest.raises(InvalidInput, match="between 1 and 90"):
        activity(conn, 0)


def test_activity_over_http(server: LiveServer, collection: str) -> None:
    with server.client() as client:
        assert client.put(f"/api/v1/data/{collection}/a.bin", content=b"x").status_code == 201
        answer = client.get("/api/v1/stats/activity", params={"days": "7"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["days"] == 7
        today = utcnow().date().isoformat()
        assert any(row["day"] == today for row in answer.json()["captured"])
        wrong = client.get("/api/v1/stats/activity", params={"days": "a week"})
        assert wrong.status_code == 400 and "whole number" in wrong.json()["detail"]
    assert httpx.get(f"{server.url}/api/v1/stats/activity").status_code == 401
