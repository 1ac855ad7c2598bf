"""A SeaweedFS S3 gateway for the tests, and S3 backends on it (``s3_backend``).

The xdist workers of a run share one gateway, started by ``scripts/servers/seaweedfs`` in the
run's common temporary directory. Each worker holds a shared ``flock`` on ``users.lock`` while it
uses the gateway; starting and stopping happen under ``start.lock``, and the worker that leaves
last (the one that can then lock ``users.lock`` exclusively) stops it. A killed worker drops its
lock with its process, so it never stops the gateway under another; and a detached watchdog
waiting for an exclusive lock on ``users.lock`` stops the gateway when every worker is gone, so a
run killed outright (no teardown) leaves no server behind.

With ``DATOFERUM_TEST_S3_ENDPOINT``, ``_ACCESS_KEY`` and ``_SECRET_KEY`` set (and optionally
``DATOFERUM_TEST_S3_BUCKET``), the tests use that store instead and leave it running. Each test
gets a prefix of its own, emptied afterwards.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from datoferum.adapters.storage.s3 import S3Backend

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "servers" / "seaweedfs"
DEFAULT_BUCKET = "datoferum-test"


@dataclass(frozen=True)
class S3Server:
    """Where the tests' S3 store answers, and how to reach it."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    #: One boto3 session for every backend of the worker: a new one costs ~80 ms per test.
    session: boto3.session.Session = field(repr=False, default_factory=boto3.session.Session)

    def backend(self, prefix: str, **options: Any) -> S3Backend:
        """A backend on ``prefix``; ``options`` may replace the bucket and credentials too."""
        settings = {
            "bucket": self.bucket,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            **options,
        }
        return S3Backend(
            endpoint_url=self.endpoint, prefix=prefix, session=self.session, **settings
        )

    def client(self) -> S3Client:
        """A plain client, to look at the store behind a backend's back."""
        return self.session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def ensure_bucket(self) -> None:
        client = self.client()
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=self.bucket)

    def empty(self, prefix: str) -> None:
        """Remove every object and incomplete upload under ``prefix``."""
        client = self.client()
        for uploads in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for upload in uploads.get("Uploads", []):
                client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            objects: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", [])
            ]
            if objects:
                client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})


def _from_env(env: Mapping[str, str]) -> S3Server:
    return S3Server(
        endpoint=env["DATOFERUM_TEST_S3_ENDPOINT"],
        access_key=env["DATOFERUM_TEST_S3_ACCESS_KEY"],
        secret_key=env["DATOFERUM_TEST_S3_SECRET_KEY"],
        bucket=env.get("DATOFERUM_TEST_S3_BUCKET", DEFAULT_BUCKET),
    )


def _read_env_file(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _script(action: str, state: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), action, str(state)], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} {action} failed:\n{done.stderr}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _watch(state: Path) -> None:
    """Stop the gateway once no worker holds ``users.lock``, even if every worker was killed:
    a detached ``flock`` waits for the lock, then runs the stop (one per run: a second finds
    ``watchdog.lock`` taken and exits)."""
    if shutil.which("flock") is None or shutil.which("setsid") is None:
        return  # then only a worker's teardown stops it
    subprocess.run(
        ["setsid", "-f", "flock", "-n", str(state / "watchdog.lock"),
         "flock", "-x", str(state / "users.lock"), str(SCRIPT), "stop", str(state)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        check=True,
    )  # fmt: skip


@contextmanager
def _shared_gateway(state: Path) -> Iterator[S3Server]:
    """The run's gateway: started by the first worker to arrive, stopped by the last to leave
    (or by the watchdog, if the workers die)."""
    state.mkdir(exist_ok=True)
    with (state / "users.lock").open("a") as users:
        with _locked(state / "start.lock"):
            fcntl.flock(users, fcntl.LOCK_SH)
            _script("start", state)
            _watch(state)
            server = _from_env(_read_env_file(state / "env"))
            server.ensure_bucket()
        try:
            yield server
        finally:
            with _locked(state / "start.lock"):
                fcntl.flock(users, fcntl.LOCK_UN)
                try:
                    fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass  # another worker still uses it, or the watchdog is stopping it
                else:
                    _script("stop", state)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if os.environ.get("DATOFERUM_TEST_S3_ENDPOINT"):
        server = _from_env(os.environ)
        server.ensure_bucket()
        yield server
        return
    if shutil.which("weed") is None and not (ROOT / ".venv" / "bin" / "weed").exists():
        pytest.skip("SeaweedFS is not installed: no `weed` on PATH nor in .venv/bin (uv sync)")
    run_root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_root = run_root.parent  # shared by the workers of this run, and only by them
    with _shared_gateway(run_root / "seaweedfs") as server:
        yield server


@pytest.fixture
def s3_backend(s3_server: S3Server) -> Iterator[S3Backend]:
    """An S3 backend on a prefix of the test's own."""
    prefix = f"test-{uuid.uuid4().hex}/"
    yield s3_server.backend(prefix)
    s3_server.empty(prefix)
