"""The helper process that unlinks big batches: it answers for every path, a helper that dies is
replaced without losing a batch, and a failure reaches the caller as a storage error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from datoferum.adapters import unlinker
from datoferum.adapters.storage import local
from datoferum.adapters.storage.local import LocalDiskBackend
from datoferum.errors import StorageUnavailable


@pytest.fixture
def helper() -> Iterator[unlinker.Unlinker]:
    helper = unlinker.Unlinker()
    yield helper
    helper.close()


def files(directory: Path, count: int) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [str(directory / f"f{n}") for n in range(count)]
    for path in paths:
        Path(path).write_bytes(b"x")
    return paths


def test_the_helper_says_which_paths_existed(tmp_path: Path, helper: unlinker.Unlinker) -> None:
    paths = files(tmp_path / "a", 100)
    assert helper.unlink_all([*paths, str(tmp_path / "never")]) == [True] * 100 + [False]
    assert not any(Path(path).exists() for path in paths)
    # The same helper process serves the next batch.
    process = helper._process
    assert process is not None and process.poll() is None
    assert helper.unlink_all(files(tmp_path / "b", 3)) == [True] * 3
    assert helper._process is process


def test_a_helper_that_died_is_replaced_and_the_batch_still_done(
    tmp_path: Path, helper: unlinker.Unlinker
) -> None:
    helper.unlink_all(files(tmp_path / "a", 1))
    first = helper._process
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    paths = files(tmp_path / "b", 10)
    assert helper.unlink_all(paths) == [True] * 10
    assert not any(Path(path).exists() for path in paths)
    assert helper.unlink_all(files(tmp_path / "c", 2)) == [True, True]
    assert helper._process is not None and helper._process is not first


def test_a_path_that_cannot_be_removed_fails_the_batch_clearly(tmp_path: Path) -> None:
    backend = LocalDiskBackend(tmp_path / "store")
    keys = [os.urandom(16).hex() for _ in range(local.OFFLOADED_DELETES)]
    for key in keys[1:]:
        writer = backend.open_writer(key)
        writer.write(b"x")
        writer.commit()
        writer.release()
    backend.object_path(keys[0]).mkdir()  # unlink refuses a directory, even to root
    with pytest.raises(StorageUnavailable, match=r"deleting from .* failed: .*directory"):
        backend.delete_many(keys)


def test_the_helper_reports_errors_instead_of_dying(tmp_path: Path) -> None:
    """The helper's own loop: an unlink that fails is answered as an error line."""
    import io

    target = tmp_path / "a-directory"
    target.mkdir()
    answers = io.StringIO()
    unlinker.serve(io.StringIO(f'["{target}"]\n["{tmp_path / "gone"}"]\n'), answers)
    first, second = answers.getvalue().splitlines()
    assert "error" in first and "a-directory" in first
    assert second == "[false]"


def test_a_helper_dying_in_the_middle_of_a_batch_loses_nothing(
    tmp_path: Path, helper: unlinker.Unlinker
) -> None:
    """Fault injection: a helper that reads the batch and exits without answering."""
    helper._process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    paths = files(tmp_path / "a", 20)
    assert helper.unlink_all(paths) == [True] * 20  # done in this process instead
    assert not any(Path(path).exists() for path in paths)
    assert helper._process is None  # the next batch starts a real helper
    assert helper.unlink_all(files(tmp_path / "b", 1)) == [True]
