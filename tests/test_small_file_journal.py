"""The small-file journal: small uploads made durable by the catalog commit, flushed later, and
restored from the catalog after a crash; never restored once purged."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from datoferum.config import Settings
from datoferum.domain.ids import new_id, utcnow
from datoferum.domain.roles import SYSTEM
from datoferum.services.capture import CaptureRequest
from datoferum.services.wiring import Services, build_services, prepare
from datoferum.spine.catalog.schema import JournaledObject

from conftest import LiveServer

#: Runs on SQLite, MariaDB and PostgreSQL (see conftest).
CATALOG_SUITE = True


def _services(home: Path, database_url: str | None, **settings: Any) -> Services:
    config = Settings(home=home, database_url=database_url, **settings)
    prepare(config)
    return build_services(config)


@pytest.fixture
def services(tmp_path: Path, database_url: str | None) -> Iterator[Services]:
    built = _services(tmp_path / "home", database_url)
    yield built
    built.close()


def _upload(services: Services, path: str, body: bytes) -> str:
    capture = services.capture.start(CaptureRequest("journal", path, SYSTEM))
    return capture.finish(body).current.id


def _journaled(services: Services) -> dict[str, bytes]:
    with services.catalog.reading() as conn:
        rows = conn.execute(select(JournaledObject.key, JournaledObject.data)).all()
    return {row.key: row.data for row in rows}


def _object(services: Services, key: str) -> Path:
    path = services.storage.local_path(key)
    assert path is not None
    return path


def test_a_small_upload_is_journaled_and_then_flushed(services: Services) -> None:
    body = os.urandom(4096)
    key = _upload(services, "small.bin", body)
    assert _journaled(services) == {key: body}
    assert _object(services, key).read_bytes() == body  # readable before the flush too

    assert services.journal.flush() == 1
    assert _journaled(services) == {}
    assert b"".join(services.storage.read(key)) == body


def test_only_uploads_up_to_the_limit_are_journaled(tmp_path: Path) -> None:
    limit = 1024
    built = _services(tmp_path / "home", None, small_file_journal_bytes=limit)
    try:
        at_limit = _upload(built, "at.bin", b"a" * limit)
        over = _upload(built, "over.bin", b"o" * (limit + 1))
        assert _journaled(built) == {at_limit: b"a" * limit}
        assert b"".join(built.storage.read(over)) == b"o" * (limit + 1)
    finally:
        built.close()


@pytest.mark.parametrize(
    "settings", [{"durability": "relaxed"}, {"small_file_journal_bytes": 0}], ids=str
)
def test_nothing_is_journaled_when_nothing_is_flushed_or_the_journal_is_off(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    built = _services(tmp_path / "home", None, **settings)
    try:
        key = _upload(built, "plain.bin", b"plain bytes")
        assert _journaled(built) == {}
        assert b"".join(built.storage.read(key)) == b"plain bytes"
    finally:
        built.close()


def test_recovery_rewrites_lost_empty_and_torn_objects(
    tmp_path: Path, database_url: str | None
) -> None:
    home = tmp_path / "home"
    built = _services(home, database_url)
    bodies = {name: os.urandom(3000) for name in ("lost", "empty", "torn", "intact")}
    keys = {name: _upload(built, f"{name}.bin", body) for name, body in bodies.items()}
    # A power cut: what was never flushed may be gone, empty or half written.
    _object(built, keys["lost"]).unlink()
    _object(built, keys["empty"]).write_bytes(b"")
    torn = _object(built, keys["torn"])
    torn.write_bytes(b"\0" * 512 + bodies["torn"][512:])
    built.close = lambda: None  # type: ignore[method-assign]  # died: no flush at exit
    built.catalog.dispose()

    restarted = _services(home, database_url)  # prepare() recovers before serving
    try:
        assert _journaled(restarted) == {}
        for name, body in bodies.items():
            assert b"".join(restarted.storage.read(keys[name])) == body, name
        record = restarted.access.locate("journal", "torn.bin")
        assert record.current.sha256 == hashlib.sha256(bodies["torn"]).hexdigest()
        assert restarted.audit.verify().ok
    finally:
        restarted.close()


def test_a_purged_object_is_never_restored(services: Services) -> None:
    body = b"personal data that must go"
    _upload(services, "purge-me.bin", body)
    record = services.access.locate("journal", "purge-me.bin")
    key = record.current.id
    assert key in _journaled(services)
    services.purge.purge(
        record.id, record.current.number, cause={"reason": "test"}, actor=SYSTEM.subject
    )
    assert _journaled(services) == {}, "the purge left the bytes in the catalog"
    assert services.storage.stat(key) is None
    assert services.journal.recover() == 0
    assert services.storage.stat(key) is None


def test_rows_of_a_storage_no_longer_configured_are_kept(services: Services) -> None:
    key = new_id()
    with services.catalog.writing() as conn:
        conn.execute(
            insert(JournaledObject).values(
                backend="gone",
                key=key,
                data=b"kept",
                host=services.journal.host,
                created_at=utcnow(),
            )
        )
    assert services.journal.recover() == 0
    assert services.journal.flush() == 0
    assert _journaled(services) == {key: b"kept"}


def test_only_the_machine_that_wrote_a_file_flushes_it(services: Services) -> None:
    """Servers sharing a catalog and a network file system: a row written elsewhere stays until
    its own machine flushes it; recovery, which writes and flushes the bytes itself, takes it."""
    body = b"written by another server"
    key = _upload(services, "elsewhere.bin", body)
    with services.catalog.writing() as conn:
        conn.execute(update(JournaledObject).values(host="another-machine"))
    assert services.journal.flush() == 0
    assert _journaled(services) == {key: body}
    _object(services, key).write_bytes(b"")  # that machine's write never reached the disk
    assert services.journal.recover() == 1
    assert _journaled(services) == {}
    assert b"".join(services.storage.read(key)) == body


def test_a_mebibyte_fits_the_journal_on_every_engine(
    tmp_path: Path, database_url: str | None
) -> None:
    built = _services(tmp_path / "home", database_url, small_file_journal_bytes=1024 * 1024)
    try:
        body = os.urandom(1024 * 1024)
        key = _upload(built, "mebibyte.bin", body)
        assert _journaled(built) == {key: body}
    finally:
        built.close()


def test_a_killed_server_serves_its_small_uploads_after_restart(tmp_path: Path) -> None:
    """End to end: uploads answered 201, the server killed before any flush, the unflushed files
    lost; the restarted server serves every upload's bytes."""
    live = LiveServer(tmp_path / "home", DATOFERUM_JOURNAL_FLUSH_SECONDS="3600").start()
    try:
        bodies = {f"f{n}.bin": os.urandom(100 + n) for n in range(5)}
        with live.client() as client:
            for name, body in bodies.items():
                answer = client.put(f"/api/v1/data/crash/{name}", content=body)
                assert answer.status_code == 201, answer.text
        live.kill()
        for path in (live.home / "objects" / "objects").rglob("*"):
            if path.is_file():
                path.unlink()  # what a power cut may do to files never flushed
        live.start()
        with live.client() as client:
            for name, body in bodies.items():
                answer = client.get(f"/api/v1/data/crash/{name}")
                assert answer.status_code == 200, answer.text
                assert answer.content == body
    finally:
        live.stop()
