"""The S3 backend's own rules, on a real SeaweedFS gateway: credentials refused clearly and never
shown, multipart uploads that really happen and leave nothing when aborted, abandoned writes found
by age, batch deletes, strict keys. The shared behaviour is in ``test_backend_contract.py``."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

import pytest

from datoferum.adapters.storage import s3
from datoferum.adapters.storage.s3 import S3Backend, S3Writer, part_size_for
from datoferum.errors import InvalidInput, StorageUnavailable
from servers.s3 import S3Server

MiB = 1024 * 1024
TiB = 1024 * 1024 * MiB


def _chunks(size: int, step: int = MiB) -> Iterator[bytes]:
    for start in range(0, size, step):
        length = min(step, size - start)
        yield (hashlib.sha256(start.to_bytes(8, "big")).digest() * (length // 32 + 1))[:length]


def _write(backend: S3Backend, key: str, size: int) -> S3Writer:
    writer = backend.open_writer(key)
    for chunk in _chunks(size):
        writer.write(chunk)
    return writer


def _texts(error: BaseException) -> str:
    """Everything an error and the errors behind it say."""
    said = []
    current: BaseException | None = error
    while current is not None:
        said += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(said)


def _uploads(server: S3Server, prefix: str) -> list[str]:
    answer = server.client().list_multipart_uploads(Bucket=server.bucket, Prefix=prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def _names(server: S3Server, prefix: str) -> list[str]:
    answer = server.client().list_objects_v2(Bucket=server.bucket, Prefix=prefix)
    return [item["Key"] for item in answer.get("Contents", [])]


def _etag(server: S3Server, backend: S3Backend, key: str) -> str:
    head = server.client().head_object(Bucket=server.bucket, Key=backend.object_name(key))
    return head["ETag"].strip('"')


def _key(backend: S3Backend, path: str = "") -> str:
    version_id = uuid.uuid4().hex
    return backend.key_for("tests", path or f"{version_id}.bin", version_id, 1)


def test_a_wrong_secret_key_is_refused_without_showing_it(
    s3_server: S3Server, s3_backend: S3Backend
) -> None:
    secret = f"wrong-{uuid.uuid4().hex}"
    backend = s3_server.backend(s3_backend.prefix, secret_key=secret)
    with pytest.raises(StorageUnavailable, match="rejected the credentials") as caught:
        backend.check()
    assert "SignatureDoesNotMatch" in str(caught.value)
    key = _key(backend)
    for attempt in (
        backend.check,
        lambda: backend.open_writer(key),
        lambda: backend.stat(key),
        lambda: b"".join(backend.read(key)),
        lambda: backend.delete_many([key]),
        lambda: list(backend.abandoned()),
    ):
        with pytest.raises(StorageUnavailable) as caught:
            attempt()
        said = _texts(caught.value)
        assert secret not in said
        assert s3_server.access_key not in str(caught.value)


def test_an_unknown_access_key_is_refused(s3_server: S3Server, s3_backend: S3Backend) -> None:
    backend = s3_server.backend(s3_backend.prefix, access_key="NOSUCHKEY", secret_key="x" * 40)
    with pytest.raises(StorageUnavailable, match=r"rejected the credentials.*InvalidAccessKeyId"):
        backend.check()


def test_the_secret_is_in_no_repr(s3_server: S3Server, s3_backend: S3Backend) -> None:
    writer = s3_backend.open_writer(_key(s3_backend))
    try:
        for shown in (repr(s3_backend), str(s3_backend), repr(vars(s3_backend)), repr(writer)):
            assert s3_server.secret_key not in shown
        assert "S3Backend(name='s3'" in repr(s3_backend)
    finally:
        writer.abort()


def test_check_passes_and_names_what_is_wrong(s3_server: S3Server, s3_backend: S3Backend) -> None:
    s3_backend.check()
    assert _names(s3_server, s3_backend.prefix) == []  # the probe is gone
    missing = s3_server.backend(s3_backend.prefix, bucket="datoferum-no-such-bucket")
    with pytest.raises(StorageUnavailable, match=r"'datoferum-no-such-bucket'.*does not exist"):
        missing.check()


def test_an_unreachable_endpoint_fails_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = S3Backend(
        endpoint_url=f"http://127.0.0.1:{port}", bucket="b-u-c", access_key="a", secret_key="s"
    )
    with pytest.raises(StorageUnavailable, match=r"cannot reach .* check that the store runs"):
        backend.check()


def test_a_versioned_bucket_is_refused(s3_server: S3Server, s3_backend: S3Backend) -> None:
    """Deleted objects would stay as old versions, so purges could not remove the bytes."""
    bucket = "datoferum-test-versioned"
    client = s3_server.client()
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    backend = s3_server.backend(s3_backend.prefix, bucket=bucket)
    with pytest.raises(StorageUnavailable, match="versioning enabled"):
        backend.check()


def test_big_writes_stream_in_parts(s3_server: S3Server, s3_backend: S3Backend) -> None:
    backend = s3_server.backend(s3_backend.prefix, part_size=5 * MiB)
    key = _key(backend)
    size = 12 * MiB + 5
    writer = _write(backend, key, size)
    assert _uploads(s3_server, backend.object_name(key)) == [backend.object_name(key)]
    assert backend.stat(key) is None  # invisible until the commit
    writer.commit()
    writer.release()
    assert _etag(s3_server, backend, key).endswith("-3")  # three parts: 5 MiB, 5 MiB, 2 MiB + 5
    part = s3_server.client().head_object(
        Bucket=s3_server.bucket, Key=backend.object_name(key), PartNumber=1
    )
    assert part["ContentLength"] == 5 * MiB
    assert hashlib.sha256(b"".join(backend.read(key))).digest() == (
        hashlib.sha256(b"".join(_chunks(size))).digest()
    )
    assert _uploads(s3_server, backend.prefix) == []
    assert _names(s3_server, backend.prefix) == [backend.object_name(key)]  # no marker left


@pytest.mark.parametrize("size", [MiB, 5 * MiB])
def test_up_to_one_part_is_a_single_put(
    s3_server: S3Server, s3_backend: S3Backend, size: int
) -> None:
    backend = s3_server.backend(s3_backend.prefix, part_size=5 * MiB)
    key = _key(backend)
    writer = _write(backend, key, size)
    assert _uploads(s3_server, backend.prefix) == []
    writer.commit()
    writer.release()
    assert "-" not in _etag(s3_server, backend, key)
    stat = backend.stat(key)
    assert stat is not None and stat.size == size


def test_an_aborted_multipart_upload_leaves_nothing(
    s3_server: S3Server, s3_backend: S3Backend
) -> None:
    backend = s3_server.backend(s3_backend.prefix, part_size=5 * MiB)
    key = _key(backend)
    writer = _write(backend, key, 11 * MiB)  # two parts sent, the third in memory
    assert len(_uploads(s3_server, backend.prefix)) == 1
    writer.abort()
    assert _uploads(s3_server, backend.prefix) == []
    assert _names(s3_server, backend.prefix) == []
    writer.abort()


def test_abandoned_writes_are_found_by_age_and_forgotten(
    s3_server: S3Server, s3_backend: S3Backend
) -> None:
    backend = s3_server.backend(s3_backend.prefix, part_size=5 * MiB, stale_after=2)
    gone_key = _key(backend, "päth with spaces/ünïcode.bin")  # listings decode keys right
    _write(backend, gone_key, 6 * MiB)  # a part uploaded, then the process "dies"
    live = _write(backend, _key(backend), 1024)
    assert list(backend.abandoned()) == []  # both markers are fresh
    time.sleep(2.5)
    live.write(b"more")  # a live writer's heartbeat renews its marker
    assert list(backend.abandoned()) == [gone_key]
    assert backend.stat(gone_key) is None
    backend.forget_staging(gone_key)
    assert list(backend.abandoned()) == []
    assert _uploads(s3_server, backend.object_name(gone_key)) == []
    live.abort()


def test_uploads_without_a_marker_are_abandoned_too(
    s3_server: S3Server, s3_backend: S3Backend
) -> None:
    """A crash between the marker's removal and the upload's, or an upload by another tool."""
    key = _key(s3_backend)
    s3_server.client().create_multipart_upload(
        Bucket=s3_server.bucket, Key=s3_backend.object_name(key)
    )
    assert list(s3_backend.abandoned()) == []  # younger than stale_after
    sweeper = s3_server.backend(s3_backend.prefix, stale_after=0)
    assert list(sweeper.abandoned()) == [key]
    sweeper.forget_staging(key)
    assert _uploads(s3_server, s3_backend.prefix) == []


def test_delete_many_answers_per_key_across_batches(
    s3_backend: S3Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "DELETE_BATCH", 2)
    keys = [_key(s3_backend) for _ in range(5)]
    for key in keys[::2]:
        writer = s3_backend.open_writer(key)
        writer.write(b"x")
        writer.commit()
        writer.release()
    assert s3_backend.delete_many(keys) == [True, False, True, False, True]
    assert all(s3_backend.stat(key) is None for key in keys)
    assert s3_backend.delete_many([]) == []


def test_reads_stream_bounded_chunks(s3_backend: S3Backend) -> None:
    key = _key(s3_backend)
    writer = _write(s3_backend, key, 3 * MiB + 7)
    writer.commit()
    writer.release()
    chunks = list(s3_backend.read(key))
    assert sum(map(len, chunks)) == 3 * MiB + 7
    assert max(map(len, chunks)) <= s3.READ_CHUNK
    assert b"".join(s3_backend.read(key, 3 * MiB + 7)) == b""  # at the end: nothing, like local
    assert b"".join(s3_backend.read(key, 0, 0)) == b""
    with pytest.raises(StorageUnavailable, match="missing"):
        b"".join(s3_backend.read(_key(s3_backend), 0, 0))


def test_keys_are_readable_and_checked(s3_server: S3Server, s3_backend: S3Backend) -> None:
    key = s3_backend.key_for("media", "2026/take one.mov", "0190", 3)
    assert key == "media/2026/take one.mov/v3"
    assert s3_backend.object_name(key) == f"{s3_backend.prefix}media/2026/take one.mov/v3"
    too_long = "a/" + "b" * 1100
    for bad in ("", "/a", "a/", "a//b", "a/./b", "a/../b", "a\\b", "a\x00b", "a\nb", "a\u200bb",
                ".staging/a", too_long):  # fmt: skip
        with pytest.raises(InvalidInput):
            s3_backend.open_writer(bad)
    with pytest.raises(InvalidInput):
        s3_server.backend("no-slash", secret_key="s")
    with pytest.raises(InvalidInput, match="5 MiB to 5 GiB"):
        s3_server.backend(s3_backend.prefix, part_size=4 * MiB)


def test_part_sizes_reach_the_largest_upload() -> None:
    """10,000 growing parts hold more than the 5 TiB an upload may have, each within S3's 5 GiB."""
    sizes = [part_size_for(number, 8 * MiB) for number in range(1, s3.MAX_PARTS + 1)]
    assert sum(sizes) > 5 * TiB
    assert max(sizes) <= s3.MAX_PART_SIZE
    assert sizes[0] == sizes[999] == 8 * MiB and sizes[1000] == 16 * MiB


def test_the_sweep_removes_a_crashed_write(s3_server: S3Server, s3_backend: S3Backend) -> None:
    """The steps of ``services.sweep`` for a write the catalog never saw, from a second backend
    object: after a crash nothing in memory survives, only what S3 holds."""
    key = _key(s3_backend)
    writer = _write(s3_server.backend(s3_backend.prefix, part_size=5 * MiB), key, 6 * MiB)
    del writer
    sweeper = s3_server.backend(s3_backend.prefix, stale_after=0)
    assert list(sweeper.abandoned()) == [key]
    assert sweeper.stat(key) is None
    sweeper.delete(key)
    sweeper.forget_staging(key)
    assert _names(s3_server, s3_backend.prefix) == []
    assert _uploads(s3_server, s3_backend.prefix) == []
