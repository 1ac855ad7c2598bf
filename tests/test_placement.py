"""Storage policies: copies made by placement jobs, transitions, and purges of every copy
(on two local disks, see layouts.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from datoferum.config import Settings
from datoferum.domain.records import FileRecord, State
from datoferum.domain.roles import SYSTEM
from datoferum.errors import InvalidInput
from datoferum.services.capture import CaptureRequest
from datoferum.services.files import get_file
from datoferum.services.purge import PurgeRequest
from datoferum.services.wiring import Services, build_services
from datoferum.services.worker import Worker
from datoferum.spine import eventlog
from layouts import two_disk_services

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True

CAPTURE = """
policies:
  - name: place-by-collection
    resource: file
    mode: {type: capture}
    filters:
      - collection: [safe-media]
    actions:
      - storage-policy: safe
  - name: archive-by-collection
    resource: file
    mode: {type: capture}
    filters:
      - collection: [archive-media]
    actions:
      - storage-policy: archive
"""
TRANSITION = """
policies:
  - name: move-to-archive
    resource: file
    mode: {type: manual}
    filters:
      - collection: [hot-media]
    actions:
      - transition: {to: archive}
"""


@pytest.fixture
def services(tmp_path: Path, database_url: str | None) -> Iterator[Services]:
    built = two_disk_services(tmp_path, database_url, "hot")
    built.policies.apply("test", CAPTURE, "capture.yaml")
    yield built
    built.close()


def _upload(services: Services, collection: str, data: bytes) -> FileRecord:
    capture = services.capture.start(CaptureRequest(collection, "take.mov", SYSTEM))
    return capture.finish(data)


def _record(services: Services, file_id: str) -> FileRecord:
    with services.catalog.reading() as conn:
        return get_file(conn, file_id)


def _replicas(services: Services, file_id: str) -> dict[str, str]:
    return {r.backend: r.state for r in _record(services, file_id).current.replicas}


def _run_jobs(services: Services) -> int:
    worker = Worker(services.catalog, services.handlers, heartbeat_seconds=0)
    done = 0
    while worker.run_once() is not None:
        done += 1
    return done


def _bytes_on(services: Services, backend: str, file_id: str) -> bytes | None:
    (replica,) = [r for r in _record(services, file_id).current.replicas if r.backend == backend]
    store = services.backends[backend]
    return None if store.stat(replica.key) is None else b"".join(store.read(replica.key))


def _event_types(services: Services, file_id: str) -> list[str]:
    with services.catalog.reading() as conn:
        return [e.type for e in eventlog.for_file(conn, file_id)]


def test_a_policy_of_two_copies_is_placing_until_both_exist(services: Services) -> None:
    data = os.urandom(300_000)
    record = _upload(services, "safe-media", data)
    assert record.current.state == State.PLACING
    assert _replicas(services, record.id) == {"local": "present"}
    answer = b"".join(services.access.read(record, 0, len(data)))
    assert answer == data  # readable from its first copy meanwhile
    assert _run_jobs(services) == 1
    placed = _record(services, record.id)
    assert placed.current.state == State.STORED
    assert _replicas(services, record.id) == {"local": "present", "cold": "present"}
    assert _bytes_on(services, "cold", record.id) == data
    types = _event_types(services, record.id)
    assert types.index("replica.created") < types.index("file.placed")


def test_the_default_policy_is_stored_at_once(services: Services) -> None:
    record = _upload(services, "plain", b"small")
    assert record.current.state == State.STORED
    assert _run_jobs(services) == 0


def test_a_policy_elsewhere_moves_the_bytes(services: Services) -> None:
    data = b"archive me" * 1000
    record = _upload(services, "archive-media", data)
    _run_jobs(services)
    assert _record(services, record.id).current.state == State.STORED
    assert _replicas(services, record.id) == {"local": "removed", "cold": "present"}
    assert _bytes_on(services, "local", record.id) is None  # the ingest copy is gone
    located = services.access.locate("archive-media", "take.mov")
    assert b"".join(services.access.read(located, 0, len(data))) == data
    assert "replica.removed" in _event_types(services, record.id)


def test_a_transition_moves_an_existing_version(services: Services) -> None:
    record = _upload(services, "hot-media", b"hot bytes")
    services.policies.apply("test", TRANSITION, "transition.yaml")
    _plan, _stored, items = services.policies.preview("test", "move-to-archive")
    assert [(i.file_id, i.version) for i in items] == [(record.id, 1)]
    services.policies.start("test", "move-to-archive")
    _run_jobs(services)  # the policy run, then the placement it queued
    assert _record(services, record.id).current.state == State.STORED
    assert _replicas(services, record.id) == {"local": "removed", "cold": "present"}
    types = _event_types(services, record.id)
    assert types.index("file.storage_policy_set") < types.index("file.placed")


def test_a_corrupt_source_is_not_copied(services: Services) -> None:
    record = _upload(services, "safe-media", b"original bytes")
    (replica,) = record.current.replicas
    path = services.backends["local"].local_path(replica.key)
    assert path is not None
    path.write_bytes(b"rotten bytes!!")
    worker = Worker(services.catalog, services.handlers, heartbeat_seconds=0)
    worker.run_once()
    assert _replicas(services, record.id) == {"local": "present"}  # nothing copied
    assert _record(services, record.id).current.state == State.PLACING
    assert list(services.backends["cold"].abandoned()) == []


def test_a_purge_removes_every_copy_and_certifies_each(services: Services) -> None:
    data = b"two copies"
    record = _upload(services, "safe-media", data)
    _run_jobs(services)
    (outcome,) = services.purge.purge_many([PurgeRequest(record.id, 1, {"reason": "t"}, "t")])
    assert outcome.outcome == "purged"
    for backend in ("local", "cold"):
        assert _bytes_on(services, backend, record.id) is None
    certificate = services.certificates.get(str(outcome.certificate_id))
    replicas: list[dict[str, Any]] = certificate.document["replicas"]
    assert sorted(r["backend"] for r in replicas) == ["cold", "local"]
    assert all(r["verified"] for r in replicas)
    assert hashlib.sha256(data).hexdigest() == certificate.document["sha256"]


def test_a_placement_that_finds_the_version_purging_leaves_no_copy(services: Services) -> None:
    record = _upload(services, "safe-media", b"going away")
    services.purge.purge_many([PurgeRequest(record.id, 1, {"reason": "t"}, "t")])
    worker = Worker(services.catalog, services.handlers, heartbeat_seconds=0)
    job = worker.run_once()
    assert job is not None
    assert _replicas(services, record.id) == {"local": "deleted"}
    assert list(services.backends["cold"].abandoned()) == []


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("backends: {local: {type: local}}\npolicies: {hot: [disk]}", "unknown backend 'disk'"),
        ("backends: {local: {type: tape}}\npolicies: {hot: [local]}", "type must be one of"),
        ("backends: {local: {type: local}}\npolicies: {hot: []}", "non-empty list"),
        (
            "backends: {local: {type: local}}\npolicies: {hot: [local, local]}",
            "names local twice",
        ),
        (
            "backends: {local: {type: local}}\npolicies: {hot: [{backend: local, replication: 3}]}",
            "do not apply to a copy on local",
        ),
        ("backends: {local: {type: local}}\npolicies: {hot: [local]}\ndefault: x", "default"),
        ("backends: {local: {type: local, rot: /x}}\npolicies: {hot: [local]}", "unknown option"),
        ("backends: [\n", "not valid YAML"),
    ],
)
def test_bad_layouts_are_refused_clearly(tmp_path: Path, layout: str, message: str) -> None:
    path = tmp_path / "storage.yaml"
    path.write_text(layout)
    with pytest.raises(InvalidInput, match=message) as raised:
        build_services(Settings(home=tmp_path / "home", storage_config=path))
    assert str(path) in raised.value.detail or "backend local" in raised.value.detail


def test_the_layout_is_shown_without_credentials() -> None:
    from datoferum.domain.storage_layout import parse_layout

    secret = "do-not-show-" + "z" * 20
    layout = parse_layout(
        {
            "backends": {
                "local": {"type": "local"},
                "s3": {"type": "s3", "bucket": "b", "access_key": {"env": "S3_KEY"},
                       "secret_key": secret},
            },
            "policies": {"hot": ["local"], "archive": ["s3"]},
        },
        "storage.yaml",
    )  # fmt: skip
    shown = layout.public()
    assert secret not in str(shown)
    (s3,) = [b for b in shown["backends"] if b["name"] == "s3"]
    assert s3["secret_key"] == "(set)" and s3["access_key"] == "(env)"
    assert shown["default"] == "hot" and shown["ingest"] == "local"
    assert {"name": "archive", "copies": ["s3"]} in shown["policies"]


LATER = """
policies:
  - name: archive-when-done
    resource: file
    mode: {type: manual}
    filters:
      - collection: [later-media]
    actions:
      - retention: {days: 1, mode: governance, then: transition}
      - transition: {to: archive}
"""


def _expire(services: Services, file_id: str) -> None:
    """Let the version's retention run out now (the API refuses past dates, rightly)."""
    from sqlalchemy import update

    from datoferum.spine.catalog.schema import Version

    with services.catalog.writing() as conn:
        conn.execute(
            update(Version)
            .where(Version.file_id == file_id)
            .values(retain_until=datetime(2000, 1, 1))
        )


def test_a_retention_ending_in_a_transition_moves_the_bytes_when_it_runs_out(
    services: Services,
) -> None:
    record = _upload(services, "later-media", b"keep hot for a day")
    services.policies.apply("test", LATER, "later.yaml")
    services.policies.start("test", "archive-when-done")
    _run_jobs(services)
    assert _replicas(services, record.id) == {"local": "present"}  # not moved yet
    assert _record(services, record.id).current.state == State.STORED
    _expire(services, record.id)
    assert services.retention.sweep()["transitioned"] == 1
    assert _record(services, record.id).current.state == State.PLACING
    _run_jobs(services)
    assert _record(services, record.id).current.state == State.STORED
    assert _replicas(services, record.id) == {"local": "removed", "cold": "present"}
    types = _event_types(services, record.id)
    assert types.index("file.retention_set") < types.index("file.transitioned")
    assert types.index("file.transitioned") < types.index("file.placed")


def test_an_admin_retention_can_end_in_a_transition(services: Services) -> None:
    record = _upload(services, "admin-media", b"admin")
    with pytest.raises(InvalidInput, match="names the storage policy"):
        services.retention.change(
            "token:admin", record.id, 1, datetime(2999, 1, 1), reason="r", then="transition"
        )
    services.retention.change(
        "token:admin", record.id, 1, datetime(2999, 1, 1), reason="move later",
        then="transition", to="archive",
    )  # fmt: skip
    _expire(services, record.id)
    services.retention.sweep()
    _run_jobs(services)
    assert _replicas(services, record.id) == {"local": "removed", "cold": "present"}
