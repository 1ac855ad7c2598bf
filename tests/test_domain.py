"""Pure rules: names, digests, metadata, byte ranges, ids."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from datoferum.domain.digests import Hashes, parse_content_digest, parse_content_md5
from datoferum.domain.ids import is_id, new_id
from datoferum.domain.metadata import check_metadata
from datoferum.domain.names import check_collection, check_path, split_location
from datoferum.errors import (
    DigestMismatch,
    InvalidDigestHeader,
    InvalidMetadata,
    InvalidName,
    RangeNotSatisfiable,
)
from datoferum.interfaces.http.ranges import parse_range


@pytest.mark.parametrize(
    "path",
    ["a", "a/b/c.mp4", "vídeos/2026/episódio 1.mp4", "x" * 255, "/".join(["d" * 200] * 5)],
)
def test_good_paths(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".", "a\\b", "a\x00b", "a\nb",
        "a\x7fb", "a\u200bb", "a\u2028b", "x" * 256, "/".join(["d" * 200] * 6),
    ],
)  # fmt: skip
def test_bad_paths(path: str) -> None:
    with pytest.raises(InvalidName):
        check_path(path)


@pytest.mark.parametrize("name", ["videos", "a", "logs-2026.q1", "x_y", "0" * 63])
def test_good_collections(name: str) -> None:
    assert check_collection(name) == name


@pytest.mark.parametrize("name", ["", "Videos", "-a", ".a", "a/b", "a b", "0" * 64, "ção"])
def test_bad_collections(name: str) -> None:
    with pytest.raises(InvalidName):
        check_collection(name)


def test_split_location() -> None:
    assert split_location("videos/2026/a.mp4") == ("videos", "2026/a.mp4")
    with pytest.raises(InvalidName, match="COLLECTION/PATH"):
        split_location("videos")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_content_digest_parsing() -> None:
    sha256 = hashlib.sha256(b"x").digest()
    sha512 = hashlib.sha512(b"x").digest()
    header = f"sha-256=:{_b64(sha256)}:, sha-512=:{_b64(sha512)}:"
    assert parse_content_digest(header) == {"sha256": sha256, "sha512": sha512}
    assert parse_content_digest(f"unixsum=:AAA=:, sha-256=:{_b64(sha256)}:") == {"sha256": sha256}


@pytest.mark.parametrize(
    "header",
    [
        "sha-256=abc", "sha-256=:not base64!:", f"sha-256=:{_b64(b'short')}:", "md5=:AAAA:",
        "sha-256", "",
    ],
)  # fmt: skip
def test_bad_content_digest(header: str) -> None:
    with pytest.raises(InvalidDigestHeader):
        parse_content_digest(header)


def test_content_md5() -> None:
    digest = hashlib.md5(b"x").digest()
    assert parse_content_md5(_b64(digest)) == digest
    with pytest.raises(InvalidDigestHeader):
        parse_content_md5(_b64(b"too short"))


def test_hashes_verify_each_algorithm() -> None:
    data = b"abc" * 1000
    good = {"sha512": hashlib.sha512(data).digest(), "md5": hashlib.md5(data).digest()}
    hashes = Hashes(good)
    hashes.update(data[:10])
    hashes.update(data[10:])
    hashes.verify()
    assert hashes.sha256() == hashlib.sha256(data).digest()
    bad = Hashes({**good, "md5": hashlib.md5(b"other").digest()})
    bad.update(data)
    with pytest.raises(DigestMismatch, match="md5"):
        bad.verify()


def test_metadata_rules() -> None:
    assert check_metadata([("Owner", " Ana "), ("x-y.z_1", "")]) == {
        "owner": " Ana ",
        "x-y.z_1": "",
    }
    for pairs in (
        [("a", "1"), ("A", "2")],
        [("bad key", "1")],
        [("_x", "1")],
        [("k", "line\nbreak")],
        [(f"k{i}", "v") for i in range(65)],
        [("big", "v" * 9000)],
    ):
        with pytest.raises(InvalidMetadata):
            check_metadata(pairs)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None), ("bytes=0-0", 10, (0, 0)), ("bytes=2-", 10, (2, 9)),
        ("bytes=-3", 10, (7, 9)), ("bytes=-30", 10, (0, 9)), ("bytes=5-100", 10, (5, 9)),
        ("bytes=0-1,3-4", 10, None), ("items=0-1", 10, None), ("bytes=5-2", 10, None),
        ("bytes=abc", 10, None), ("bytes=²-3", 10, None), ("bytes=1", 10, None),
    ],
)  # fmt: skip
def test_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size", "detail"),
    [
        ("bytes=10-", 10, "valid positions 0 to 9"), ("bytes=-0", 10, "selects no bytes"),
        ("bytes=-1", 0, "selects no bytes"), ("bytes=0-0", 0, "an empty file has no range"),
    ],
)  # fmt: skip
def test_unsatisfiable_ranges(header: str, size: int, detail: str) -> None:
    with pytest.raises(RangeNotSatisfiable, match=detail):
        parse_range(header, size)


def test_ids_are_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(is_id(i) and i[12] == "7" and i[16] in "89ab" for i in ids)
    assert len(set(ids)) == 1000
    assert ids[0][:12] <= ids[-1][:12]
    assert not is_id("../" + "a" * 29)


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    """Random bytes are drawn for many ids at once; a child forked mid-pool (server workers are
    forked) must draw its own instead of issuing the ids its parent issues next."""
    new_id()  # the pool now holds random bytes for the ids to come
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        os.write(writer, "".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        text = pipe.read()
    in_child = {text[n : n + 32][12:] for n in range(0, len(text), 32)}
    in_parent = {new_id()[12:] for _ in range(50)}
    assert len(in_child) == 50
    assert not in_child & in_parent
