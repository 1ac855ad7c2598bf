"""Purges in batches: each version keeps its own outcome, events and certificate.

Policies, the retention sweep and erasure requests hand the purge thousands of versions at once;
these tests check that batching changes nothing a single purge promises: a held or retained
version in the batch is refused on record while the others go, a version asked for twice is
purged once, and batches overlapped with each other still certify every purge exactly once.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from datoferum.adapters import unlinker
from datoferum.adapters.storage import local
from datoferum.adapters.storage.local import LocalDiskBackend
from datoferum.config import Settings
from datoferum.domain.certificates import verify as verify_certificate
from datoferum.domain.records import FileRecord
from datoferum.domain.roles import SYSTEM, Principal, Role
from datoferum.services import purge as purge_module
from datoferum.services.capture import CaptureRequest
from datoferum.services.files import get_file
from datoferum.services.purge import PurgeRequest
from datoferum.services.wiring import Services, build_services
from datoferum.spine import eventlog
from datoferum.spine.catalog import migrate
from datoferum.spine.catalog.schema import Event

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True

CAUSE = {"policy": "batch-test", "policy_version": 1}
ADMIN = Principal("token:admin", "admin", Role.ADMIN)


@pytest.fixture
def services(tmp_path: Path, database_url: str | None) -> Iterator[Services]:
    built = build_services(Settings(home=tmp_path / "home", database_url=database_url))
    migrate.upgrade(built.catalog)
    yield built
    built.close()


def _capture(services: Services, count: int, collection: str = "batch") -> list[str]:
    ids = []
    for number in range(count):
        capture = services.capture.start(CaptureRequest(collection, f"f{number}.dat", SYSTEM))
        ids.append(capture.finish(os.urandom(64) + str(number).encode()).id)
    return ids


def _events(services: Services, kind: str) -> Counter[str | None]:
    with services.catalog.reading() as conn:
        rows = conn.execute(select(Event.file_id).where(Event.type == kind)).scalars()
        return Counter(rows)


def _record(services: Services, file_id: str) -> FileRecord:
    with services.catalog.reading() as conn:
        return get_file(conn, file_id)


def _object_exists(services: Services, file_id: str) -> bool:
    (replica,) = _record(services, file_id).versions[0].replicas
    path = services.storage.local_path(replica.key)
    assert path is not None
    return path.exists()


def test_a_batch_refuses_what_it_must_and_purges_the_rest(services: Services) -> None:
    ok, held, retained, twice = _capture(services, 4)
    hold = services.holds.place(
        ADMIN, scope="file", target=held, reason="litigation", owner="legal"
    )
    services.retention.change(
        "token:admin", retained, 1, datetime(2999, 1, 1), reason="contract", mode="compliance"
    )
    missing = "0" * 32
    requests = [
        PurgeRequest(file_id, 1, CAUSE, "policy:batch-test")
        for file_id in (ok, held, retained, missing, twice, twice)
    ]
    outcomes = services.purge.purge_many(requests)

    assert [o.outcome for o in outcomes] == [
        "purged", "held", "retained", "failed", "purged", "purged",
    ]  # fmt: skip
    assert outcomes[1].holds == (hold.id,)
    assert "has no version 1" in outcomes[3].detail and outcomes[3].error is not None
    assert outcomes[4].certificate_id == outcomes[5].certificate_id  # purged once
    assert not _object_exists(services, ok) and not _object_exists(services, twice)
    assert _object_exists(services, held) and _object_exists(services, retained)
    assert _events(services, "file.purged") == Counter({ok: 1, twice: 1})
    assert _events(services, "file.purge_refused") == Counter({held: 1, retained: 1})
    key = services.signer.public_key_pem()
    for outcome in (outcomes[0], outcomes[4]):
        certificate = services.certificates.get(str(outcome.certificate_id))
        assert verify_certificate(certificate.as_dict(), key)["file"]["id"] == outcome.file_id


def test_a_cause_that_is_not_json_fails_its_version_only(services: Services) -> None:
    good, bad = _capture(services, 2)
    outcomes = services.purge.purge_many(
        [
            PurgeRequest(good, 1, CAUSE, "policy:batch-test"),
            PurgeRequest(bad, 1, {"why": float("nan")}, "policy:batch-test"),
        ]
    )
    assert [o.outcome for o in outcomes] == ["purged", "failed"]
    assert "plain JSON" in outcomes[1].detail
    assert _object_exists(services, bad)
    assert _record(services, bad).versions[0].state == "stored"


def test_overlapped_batches_certify_every_purge_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purge_module, "BATCH", 3)
    ids = _capture(services, 11)
    outcomes = services.purge.purge_many([PurgeRequest(i, 1, CAUSE, "policy:t") for i in ids])
    assert [o.outcome for o in outcomes] == ["purged"] * 11
    assert len({o.certificate_id for o in outcomes}) == 11
    assert not any(_object_exists(services, file_id) for file_id in ids)
    assert _events(services, "file.purge_started") == Counter(ids)
    assert _events(services, "file.purged") == Counter(ids)
    with services.catalog.reading() as conn:
        assert eventlog.verify(conn).ok
    key = services.signer.public_key_pem()
    for file_id in ids:
        (certificate,) = services.certificates.for_file(file_id)
        document = verify_certificate(certificate.as_dict(), key)
        assert document["replicas"][0]["verified"] is True


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each-directory"])
@pytest.mark.parametrize(
    "count",
    [3, unlinker.PARALLEL + 10, local.OFFLOADED_DELETES + 10],
    ids=["one-thread", "threads", "helper-process"],
)
def test_local_batch_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool, count: int
) -> None:
    if not syncfs:
        monkeypatch.setattr(local, "_syncfs", None)
    backend = LocalDiskBackend(tmp_path / "store")
    keys = [os.urandom(16).hex() for _ in range(count)]
    for key in keys:
        writer = backend.open_writer(key)
        writer.write(b"bytes of " + key.encode())
        writer.commit()
        writer.release()
    absent = os.urandom(16).hex()
    existed = backend.delete_many([*keys, absent])
    assert existed == [True] * len(keys) + [False]
    assert all(backend.stat(key) is None for key in keys)
