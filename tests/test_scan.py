"""Reading a whole file once without leaving it in the page cache (``adapters/scan.py``), and
billing conversions reading through it."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from datoferum.adapters import scan
from datoferum.errors import BillingFileError
from datoferum.services.focus import convert
from focus_samples import CUR_LEGACY, read_rows, write_rows, write_text

pytestmark = pytest.mark.skipif(
    not hasattr(os, "RWF_NOWAIT") or not hasattr(os, "posix_fadvise"),
    reason="the page-cache probe and drop need Linux",
)


#: The probe, kept for the tests that replace it in ``scan``.
PROBE = scan.cached_share


def share(path: Path) -> float:
    """What the probe sees of ``path`` in the cache (it may start read-ahead there)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        found = PROBE(descriptor)
    finally:
        os.close(descriptor)
    assert found is not None, "the probe should work wherever RWF_NOWAIT exists"
    return found


def evict(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def large_file(path: Path) -> bytes:
    """Random bytes in a file large enough that the probe's places are farther apart than
    the read-ahead a miss starts; skips where the file system keeps files in memory."""
    content = os.urandom((8 << 20) + 12345)
    path.write_bytes(content)
    evict(path)
    if share(path) != 0.0:
        pytest.skip(f"{path.parent} keeps its files in memory (tmpfs?): nothing to drop")
    evict(path)  # what the probe's read-ahead brought back
    return content


def warm(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(1 << 20):
            pass


@pytest.fixture
def dropping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any file counts as large, and drops come often enough for small test files."""
    monkeypatch.setattr(scan, "SMALLEST_BYTES", 0)
    monkeypatch.setattr(scan, "DROP_BYTES", 64 << 10)


def test_probe_tells_a_cached_file_from_a_dropped_one(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    large_file(path)
    assert share(path) == 0.0
    warm(path)
    assert share(path) == 1.0


@pytest.mark.usefixtures("dropping")
def test_drop_behind_reads_every_byte_and_keeps_none_cached(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    content = large_file(path)
    reader = scan.uncached(path)
    assert isinstance(reader, scan.DropBehind)
    with reader:
        head = reader.read(100_000)
        buffer = bytearray(300_000)
        count = reader.readinto(buffer)
        rest = reader.read()
    assert head + bytes(buffer[:count]) + rest == content
    assert share(path) == 0.0


def test_small_or_cached_files_are_read_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.bin"
    large_file(path)
    assert scan.uncached(path) is None  # under SMALLEST_BYTES
    monkeypatch.setattr(scan, "SMALLEST_BYTES", 0)
    warm(path)
    assert scan.uncached(path) is None  # in the cache: dropping it would only cost a re-read


@pytest.fixture
def small_exports(dropping: None, monkeypatch: pytest.MonkeyPatch) -> list[scan.DropBehind]:
    """Exports of a few hundred kilobytes count as not cached (reading their header caches
    most of them before the rows are read; the probe itself is tested above). Gives the
    drop-behind readers made, as they are made."""
    made: list[scan.DropBehind] = []
    opened = scan.uncached

    def recorded(path: Path) -> scan.DropBehind | None:
        reader = opened(path)
        if reader is not None:
            made.append(reader)
        return reader

    monkeypatch.setattr(scan, "cached_share", lambda descriptor: 0.0)
    monkeypatch.setattr(scan, "uncached", recorded)
    return made


@pytest.mark.parametrize("packed", [False, True], ids=["csv", "csv.gz"])
def test_conversion_of_an_uncached_export_is_the_same(
    tmp_path: Path, packed: bool, request: pytest.FixtureRequest
) -> None:
    header, rows = read_rows(write_text(tmp_path / "one.csv", CUR_LEGACY))
    plain = write_rows(tmp_path / "cur.csv", header, rows * 400)
    source = plain
    if packed:
        source = tmp_path / "cur.csv.gz"
        source.write_bytes(gzip.compress(plain.read_bytes()))
    convert([source], tmp_path / "as-usual.parquet")  # small: read as usual
    made: list[scan.DropBehind] = request.getfixturevalue("small_exports")
    assert not made
    report = convert([source], tmp_path / "dropping.parquet")
    assert report.rows == len(rows) * 400
    assert len(made) == 1 and made[0].closed  # the rows were read through it, and let go
    expected = pq.read_table(tmp_path / "as-usual.parquet")
    assert pq.read_table(tmp_path / "dropping.parquet").equals(expected)


def test_bad_row_of_an_uncached_export_is_named(
    tmp_path: Path, small_exports: list[scan.DropBehind]
) -> None:
    header, rows = read_rows(write_text(tmp_path / "one.csv", CUR_LEGACY))
    bad = rows[:1] * 1500 + [[*rows[0][:17], "not-a-cost", *rows[0][18:]]]
    source = write_rows(tmp_path / "cur.csv", header, bad)
    with pytest.raises(BillingFileError, match=r"cur\.csv: row 1502: not a number: 'not-a-cost'"):
        convert([source], tmp_path / "out.parquet")
    assert not list(tmp_path.glob("*.parquet"))
    assert len(small_exports) == 1 and small_exports[0].closed
