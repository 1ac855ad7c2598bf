"""S3 backend: objects in a bucket of any S3-compatible store (AWS S3, SeaweedFS, Ceph RGW, …).

Layout under the bucket and the prefix (``datoferum/`` by default)::

    <prefix><collection>/<path>/v<number>    committed objects: readable keys (``key_for``)
    <prefix>.staging/<key>                   staging markers of writes in flight (empty objects)
    <prefix>.check/<random>                  probes of ``check()``, deleted at once

Keys whose first segment starts with ``.`` are refused, so these never meet the objects.

**Writes.** A writer puts its staging marker when it opens, then streams into a multipart upload
one part at a time, holding at most one part in memory; a write smaller than one part goes as a
single PutObject at ``commit``. Either way S3 shows nothing under the key before ``commit``
(CompleteMultipartUpload or PutObject), and then the whole object at once. Every part and object
is sent with a CRC32 checksum for the store to verify. S3 allows 10,000 parts, so the part size
doubles after every 1,000 parts: at the default 8 MiB an object may reach about 8 TB (about
1,023,000 × ``part_size``, parts staying under S3's 5 GiB); the price is memory for the largest
objects (at the default, 16 MiB parts beyond about 8 GB, 32 MiB beyond 25 GB, and so on).

**Abandoned writes.** S3 has no lock that dies with its process (the local disk's ``flock``), so a
live writer is told from a gone one by time. A writer rewrites its marker (a heartbeat) when a
quarter of ``stale_after`` has passed since the last, on ``write`` and at ``commit``;
``abandoned()`` reports markers older than ``stale_after`` (900 s by default), and incomplete
multipart uploads that are that old and have no fresh marker (a marker removed by hand, or uploads
left by other tools). Ages are measured on the store's own clock (the ``Date`` of the
listing against ``LastModified``), so the clocks of the carrier's hosts do not matter. The price:
a writer that receives no bytes for ``stale_after`` counts as gone, so keep it well above the
longest pause a client may take mid-upload. ``forget_staging`` removes the marker and aborts the
key's incomplete uploads.

**Deletes.** ``delete_many`` must say per key whether the object existed, which DeleteObjects does
not (it answers "deleted" for absent keys too). It asks with HEAD, eight at a time, then deletes in
DeleteObjects batches of 1,000. HEAD rather than a listing: a batch of versions is spread over
collections and paths, so one listing would have to page through every object under their common
prefix, while a HEAD costs the same whatever else the bucket holds. Every requested key is deleted,
existing or not, so an object written between the HEAD and the delete does not survive. A bucket
with versioning enabled would keep deleted bytes as old versions, so ``check()`` refuses one.

**Credentials** go to the boto3 client and nowhere else: not stored on the backend, not in its
``repr``, not in any error message (which name the backend, bucket and endpoint instead).
"""

from __future__ import annotations

import io
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from datoferum.adapters.parallel import each
from datoferum.adapters.storage.base import Capabilities, ObjectStat
from datoferum.errors import InvalidInput, PayloadTooLarge, StorageUnavailable

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef, ResponseMetadataTypeDef

MiB = 1024 * 1024
#: S3's bounds on a part (all but the last) and on the number of parts of one upload.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
#: The part size doubles after every this many parts, so 10,000 parts hold ~1,023,000 × part size.
PARTS_PER_SIZE = 1000
#: S3's limit on a key, in UTF-8 bytes (the staging marker's key is the longest we write).
MAX_KEY_BYTES = 1024
#: DeleteObjects takes at most this many keys.
DELETE_BATCH = 1000
#: Concurrent HEAD requests of ``delete_many`` (and the client's connection pool covers them).
HEAD_THREADS = 8
READ_CHUNK = MiB
DEFAULT_STALE_AFTER = 900.0
STAGING = ".staging/"
CHECKS = ".check/"
CHECKSUM: Final = "CRC32"

_T = TypeVar("_T")
_R = TypeVar("_R")
_REJECTED_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}
_FORBIDDEN = {"AccessDenied", "AllAccessDisabled", "403"}
_INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def part_size_for(number: int, base: int) -> int:
    """The size of part ``number`` (from 1): ``base``, doubled after every 1,000 parts."""
    return min(base << ((number - 1) // PARTS_PER_SIZE), MAX_PART_SIZE)


def _check_segments(text: str, what: str) -> None:
    """Refuse what S3 tools and file-system gateways would misread: absolute or empty parts,
    ``.``/``..``, backslashes and control or invisible characters."""
    if "\\" in text:
        raise InvalidInput(f"{what} {text!r} contains a backslash")
    for char in text:
        if unicodedata.category(char) in _INVISIBLE:
            raise InvalidInput(f"{what} {text!r} contains the character U+{ord(char):04X}")
    if any(segment in ("", ".", "..") for segment in text.split("/")):
        raise InvalidInput(f"{what} {text!r} has an empty, '.' or '..' segment")


def _check_prefix(prefix: str) -> str:
    if prefix:
        if not prefix.endswith("/"):
            raise InvalidInput(f"S3 prefix {prefix!r} must end with '/'")
        _check_segments(prefix[:-1], "S3 prefix")
    return prefix


def _check_part_size(part_size: int) -> int:
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise InvalidInput(
            f"S3 part size {part_size} is out of range: S3 parts are 5 MiB to 5 GiB "
            f"({MIN_PART_SIZE} to {MAX_PART_SIZE} bytes)"
        )
    return part_size


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _is_missing(exc: ClientError) -> bool:
    """A 404 about the object (a missing bucket is a 404 too, but a configuration problem)."""
    return _status(exc) == 404 and _code(exc) != "NoSuchBucket"


def _server_now(metadata: ResponseMetadataTypeDef) -> datetime:
    """The store's clock, from the ``Date`` of a response; ours if it sent none."""
    date = metadata.get("HTTPHeaders", {}).get("date")
    return parsedate_to_datetime(date) if date else datetime.now(UTC)


class S3Writer:
    """One staged write; see the module docstring for how it becomes visible."""

    def __init__(self, backend: S3Backend, key: str) -> None:
        self.key = key
        self._backend = backend
        self._buffer = io.BytesIO()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        #: Set once ``commit`` has begun: from then on the object may exist (a completion whose
        #: answer was lost still completed), so ``abort`` deletes it.
        self._committing = False
        backend.put_marker(key)
        self._beat = monotonic()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = self._part_limit() - self._buffer.tell()
            if room == 0:  # a full part and more to come: send it (a lone part waits for commit)
                self._send_part()
                continue
            self._buffer.write(view[:room])
            view = view[room:]
        self._beat_if_due()

    def _part_limit(self) -> int:
        return part_size_for(len(self._parts) + 1, self._backend.part_size)

    def _send_part(self) -> None:
        if len(self._parts) + 1 >= MAX_PARTS:  # the last part allowed, and more is coming
            raise PayloadTooLarge(
                f"the object is larger than S3 backend {self._backend.name!r} can store in "
                f"{MAX_PARTS} parts with a part size of {self._backend.part_size} bytes"
            )
        if self._upload_id is None:
            self._upload_id = self._backend.start_upload(self.key)
        self._send_buffer(self._upload_id)

    def _send_buffer(self, upload_id: str) -> None:
        self._buffer.seek(0)
        number = len(self._parts) + 1
        self._parts.append(self._backend.upload_part(self.key, upload_id, number, self._buffer))
        self._buffer = io.BytesIO()

    def _beat_if_due(self) -> None:
        """Rewrite the marker once a quarter of ``stale_after`` has passed, so a live writer
        never looks abandoned."""
        if monotonic() - self._beat >= self._backend.stale_after / 4:
            self._backend.put_marker(self.key)
            self._beat = monotonic()

    def commit(self, *, flush: bool = True) -> None:
        self._beat_if_due()  # the catalog commit that follows gets most of ``stale_after``
        self._committing = True
        if self._upload_id is None:
            self._buffer.seek(0)
            self._backend.put_object(self.key, self._buffer)
            self._buffer = io.BytesIO()
        else:
            self._send_buffer(self._upload_id)
            self._backend.complete_upload(self.key, self._upload_id, self._parts)
            self._upload_id = None

    def release(self) -> None:
        self._backend.delete_marker(self.key)

    def abort(self) -> None:
        self._buffer = io.BytesIO()
        if self._upload_id is not None:
            self._backend.abort_upload(self.key, self._upload_id)
            self._upload_id = None
        if self._committing:
            self._backend.delete_object(self.key)
            self._committing = False
        self._backend.delete_marker(self.key)


class S3Backend:
    """Stores objects in one bucket, under one prefix, of an S3-compatible store."""

    capabilities = Capabilities()

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "datoferum/",
        part_size: int = 8 * MiB,
        name: str = "s3",
        stale_after: float = DEFAULT_STALE_AFTER,
        session: boto3.session.Session | None = None,
    ) -> None:
        """``endpoint_url`` None means AWS itself. ``session`` lets several backends share one
        boto3 session, which loads the S3 API description once (~80 ms per new session)."""
        self.name = name
        self.bucket = bucket
        self.prefix = _check_prefix(prefix)
        self.part_size = _check_part_size(part_size)
        self.stale_after = stale_after
        self.endpoint_url = endpoint_url
        self._where = f"S3 bucket {bucket!r} at {endpoint_url or f'AWS ({region})'}"
        self._key_room = MAX_KEY_BYTES - len((self.prefix + STAGING).encode())
        config = Config(
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=2 * HEAD_THREADS,
        )
        self._client: S3Client = (session or boto3.session.Session()).client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    def close(self) -> None:
        """Close the client's pooled connections."""
        self._client.close()

    def __repr__(self) -> str:
        return f"S3Backend(name={self.name!r}, {self._where}, prefix={self.prefix!r})"

    # --- keys ---------------------------------------------------------------------------------

    def key_for(self, collection: str, path: str, version_id: str, number: int) -> str:
        return self._check_key(f"{collection}/{path}/v{number}")

    def _check_key(self, key: str) -> str:
        _check_segments(key, "storage key")
        if key.startswith("."):
            raise InvalidInput(
                f"storage key {key!r} starts with '.', which the S3 backend keeps for itself"
            )
        if len(key.encode()) > self._key_room:
            raise InvalidInput(
                f"storage key {key[:40]!r}… is {len(key.encode())} bytes; under the prefix "
                f"{self.prefix!r} S3 keys may have at most {self._key_room}"
            )
        return key

    def object_name(self, key: str) -> str:
        """The object's S3 key."""
        return self.prefix + self._check_key(key)

    def _marker_name(self, key: str) -> str:
        return self.prefix + STAGING + self._check_key(key)

    # --- errors -------------------------------------------------------------------------------

    def _unavailable(self, action: str, exc: Exception) -> StorageUnavailable:
        """The project's error for a failed S3 call: what to check, never the credentials."""
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in _REJECTED_CREDENTIALS:
                return StorageUnavailable(
                    f"{self._where} rejected the credentials of storage backend {self.name!r} "
                    f"({code}) while trying to {action}: check its access key and secret key"
                )
            if code in _FORBIDDEN:
                return StorageUnavailable(
                    f"{self._where} refused access while trying to {action} ({code}): the "
                    f"credentials of storage backend {self.name!r} were rejected or lack a "
                    "permission on this bucket"
                )
            if code == "NoSuchBucket":
                return StorageUnavailable(
                    f"{self._where} does not exist: create it, or configure storage backend "
                    f"{self.name!r} with an existing bucket"
                )
            return StorageUnavailable(
                f"{self._where} failed to {action}: {code or 'HTTP'} {_status(exc)}"
            )
        if isinstance(exc, EndpointConnectionError):
            return StorageUnavailable(
                f"cannot reach {self._where} to {action}: check that the store runs and that the "
                f"endpoint of storage backend {self.name!r} is right"
            )
        if isinstance(exc, ReadTimeoutError):
            return StorageUnavailable(f"{self._where} did not answer in time to {action}")
        return StorageUnavailable(f"{self._where} failed to {action}: {type(exc).__name__}")

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(action, exc) from exc

    # --- the writer's requests ----------------------------------------------------------------

    def put_marker(self, key: str) -> None:
        with self._calling(f"stage a write of {key}"):
            self._client.put_object(Bucket=self.bucket, Key=self._marker_name(key), Body=b"")

    def delete_marker(self, key: str) -> None:
        with self._calling(f"remove the staging marker of {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=self._marker_name(key))

    def put_object(self, key: str, body: io.BytesIO) -> None:
        with self._calling(f"store object {key}"):
            self._client.put_object(
                Bucket=self.bucket, Key=self.object_name(key), Body=body, ChecksumAlgorithm=CHECKSUM
            )

    def start_upload(self, key: str) -> str:
        with self._calling(f"start a multipart upload of {key}"):
            answer = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=self.object_name(key), ChecksumAlgorithm=CHECKSUM
            )
        return answer["UploadId"]

    def upload_part(
        self, key: str, upload_id: str, number: int, body: io.BytesIO
    ) -> CompletedPartTypeDef:
        with self._calling(f"upload part {number} of {key}"):
            answer = self._client.upload_part(
                Bucket=self.bucket,
                Key=self.object_name(key),
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm=CHECKSUM,
            )
        return {
            "PartNumber": number,
            "ETag": answer["ETag"],
            "ChecksumCRC32": answer["ChecksumCRC32"],
        }

    def complete_upload(self, key: str, upload_id: str, parts: list[CompletedPartTypeDef]) -> None:
        with self._calling(f"complete the multipart upload of {key}"):
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.object_name(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.object_name(key), UploadId=upload_id
            )
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":  # already aborted or completed
                raise self._unavailable(f"abort the multipart upload of {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"abort the multipart upload of {key}", exc) from exc

    def delete_object(self, key: str) -> None:
        with self._calling(f"delete object {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=self.object_name(key))

    # --- the StorageBackend protocol ----------------------------------------------------------

    def open_writer(self, key: str) -> S3Writer:
        return S3Writer(self, self._check_key(key))

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        if length == 0:  # S3 has no empty range, but a missing object must still fail
            if self._size(key) is None:
                raise self._missing(key)
            return
        body = self._get(key, offset, length)
        if body is None:
            return
        try:
            with self._calling(f"read object {key}"):
                yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def _missing(self, key: str) -> StorageUnavailable:
        return StorageUnavailable(f"object {key} is missing from {self._where}")

    def _get(self, key: str, offset: int, length: int | None) -> StreamingBody | None:
        """The body of ``[offset, offset+length)``; None when ``offset`` is past the end."""
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_name(key)}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            arguments["Range"] = f"bytes={offset}-{end}"
        try:
            return self._client.get_object(**arguments)["Body"]
        except ClientError as exc:
            if _is_missing(exc):
                raise self._missing(key) from exc
            if _status(exc) == 416:
                return None
            raise self._unavailable(f"read object {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"read object {key}", exc) from exc

    def _size(self, key: str) -> int | None:
        try:
            answer = self._client.head_object(Bucket=self.bucket, Key=self.object_name(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._unavailable(f"look up object {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(f"look up object {key}", exc) from exc
        return answer["ContentLength"]

    def stat(self, key: str) -> ObjectStat | None:
        size = self._size(key)
        return None if size is None else ObjectStat(key, size)

    def stat_many(self, keys: Sequence[str]) -> list[ObjectStat | None]:
        return each(self.stat, keys, threads=HEAD_THREADS, at_least=2, name="s3")

    def delete(self, key: str) -> bool:
        return self.delete_many([key])[0]

    def delete_many(self, keys: Sequence[str]) -> list[bool]:
        names = [self.object_name(key) for key in keys]
        existed = each(
            lambda key: self._size(key) is not None,
            keys,
            threads=HEAD_THREADS,
            at_least=2,
            name="s3",
        )
        for first in range(0, len(names), DELETE_BATCH):
            self._delete_batch(names[first : first + DELETE_BATCH])
        return existed

    def _delete_batch(self, names: list[str]) -> None:
        with self._calling(f"delete {len(names)} objects"):
            answer = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": name} for name in names], "Quiet": True},
            )
        if errors := answer.get("Errors", []):
            first = errors[0]
            raise StorageUnavailable(
                f"{self._where} could not delete {len(errors)} of {len(names)} objects; the "
                f"first, {first.get('Key', '?')}: {first.get('Code', '?')}"
            )

    def object_keys(self) -> Iterator[str]:
        """Objects under the prefix, except the backend's own areas (their names start with
        a dot, which no key may)."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        with self._calling("list objects"):
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if not key.startswith("."):
                        yield key

    def local_path(self, key: str) -> None:
        return None

    def abandoned(self) -> Iterator[str]:
        """Markers older than ``stale_after``, then incomplete uploads as old without a fresh
        marker. Both listings are read in full first, so the caller may delete as it goes."""
        fresh: set[str] = set()
        found: list[str] = []
        for key, age in self._markers():
            if age >= self.stale_after:
                found.append(key)
            else:
                fresh.add(key)
        for key, _, age in self._uploads(self.prefix):
            if age >= self.stale_after and key not in fresh and key not in found:
                found.append(key)
        return iter(found)

    def _markers(self) -> Iterator[tuple[str, float]]:
        """Each staging marker's key and age in seconds."""
        start = len(self.prefix + STAGING)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + STAGING
        )
        with self._calling("list staging markers"):
            for page in pages:
                now = _server_now(page["ResponseMetadata"])
                for item in page.get("Contents", []):
                    yield item["Key"][start:], (now - item["LastModified"]).total_seconds()

    def _uploads(self, under: str) -> Iterator[tuple[str, str, float]]:
        """Key, upload id and age in seconds of each incomplete multipart upload of an object
        whose S3 key starts with ``under``."""
        pages = self._client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=under
        )
        with self._calling("list incomplete multipart uploads"):
            for page in pages:
                now = _server_now(page["ResponseMetadata"])
                for upload in page.get("Uploads", []):
                    key = upload["Key"][len(self.prefix) :]
                    if not key.startswith("."):
                        age = (now - upload["Initiated"]).total_seconds()
                        yield key, upload["UploadId"], age

    def forget_staging(self, key: str) -> None:
        """Drop the marker and abort the key's incomplete multipart uploads."""
        name = self.object_name(key)
        for found, upload_id, _ in list(self._uploads(name)):
            if found == key:
                self.abort_upload(key, upload_id)
        self.delete_marker(key)

    def check(self) -> None:
        """List, write and delete under the prefix, so wrong credentials, a missing bucket or a
        read-only key fail at start-up; and refuse a bucket that keeps deleted versions."""
        with self._calling("list objects"):
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        probe = f"{self.prefix}{CHECKS}{uuid.uuid4().hex}"
        with self._calling("write and delete a test object"):
            self._client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
            self._client.delete_object(Bucket=self.bucket, Key=probe)
        if self._versioning() == "Enabled":
            raise StorageUnavailable(
                f"{self._where} has versioning enabled: deleted objects would stay as old "
                f"versions, so purges could not remove their bytes; give storage backend "
                f"{self.name!r} a bucket without versioning"
            )

    def _versioning(self) -> str:
        """The bucket's versioning status; empty when never enabled, or when the credentials
        may not read it (a narrow policy that can write objects is still a usable one)."""
        try:
            answer = self._client.get_bucket_versioning(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) in _FORBIDDEN or _status(exc) == 501:
                return ""
            raise self._unavailable("read the bucket's versioning", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read the bucket's versioning", exc) from exc
        return answer.get("Status", "")
