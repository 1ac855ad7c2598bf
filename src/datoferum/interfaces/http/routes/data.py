"""``/api/v1/data/{collection}/{path}``: download (GET, HEAD) of file bytes (uploads are in
``interfaces/http/uploads.py``).

:func:`serve_download` answers any GET or HEAD of a stored version; pick-and-go links use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from datoferum.domain.digests import content_digest_header
from datoferum.domain.records import FileRecord
from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import is_decimal
from datoferum.interfaces.http.ranges import parse_range
from datoferum.interfaces.http.routing import file_location
from datoferum.interfaces.http.security import authorize
from datoferum.services.access import AccessService

#: Finds the version to serve (``current``), raising if it may not be served.
Locate = Callable[[], FileRecord]
#: Puts a read that sends bytes on record (whole file: range None) before any byte leaves.
RecordRead = Callable[[FileRecord, tuple[int, int] | None], None]


def _location(request: Request) -> tuple[str, str]:
    return file_location(
        request.scope, request.path_params["collection"], request.path_params.get("path", "")
    )


def _etag(record: FileRecord) -> str:
    return f'"{record.current.sha256}"'


def _version_param(request: Request) -> int | None:
    value = request.query_params.get("version")
    if value is None:
        return None
    if not is_decimal(value) or int(value) < 1:
        raise InvalidInput(f"version must be a positive whole number, got {value!r}")
    return int(value)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in candidates or etag in candidates


def _not_modified(request: Request, record: FileRecord, etag: str) -> bool:
    if (if_none_match := request.headers.get("if-none-match")) is not None:
        return _etag_matches(if_none_match, etag)
    if (since := request.headers.get("if-modified-since")) is not None:
        try:
            moment = parsedate_to_datetime(since).replace(tzinfo=None)
        except (TypeError, ValueError):
            return False
        return record.current.created_at.replace(microsecond=0) <= moment
    return False


def _range_applies(request: Request, etag: str, last_modified: str) -> bool:
    if_range = request.headers.get("if-range")
    return if_range is None or if_range.strip() in (etag, last_modified)


def _headers(
    record: FileRecord, etag: str, last_modified: str, *, metadata: bool = True
) -> list[tuple[bytes, bytes]]:
    version = record.current
    name = record.path.rsplit("/", 1)[-1]
    headers = [
        (b"content-type", version.content_type.encode("latin-1", "replace")),
        (b"etag", etag.encode()),
        (b"last-modified", last_modified.encode()),
        (b"accept-ranges", b"bytes"),
        (b"repr-digest", content_digest_header(bytes.fromhex(version.sha256)).encode()),
        (b"cache-control", b"private, no-cache"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-disposition", f"attachment; filename*=UTF-8''{quote(name)}".encode()),
        (b"x-datoferum-file-id", record.id.encode()),
        (b"x-datoferum-version", str(version.number).encode()),
    ]
    if metadata:
        headers += [(b"x-meta-" + k.encode(), v.encode()) for k, v in version.metadata.items()]
    return headers


class _ObjectResponse(Response):
    """Sends a stored object: by path through the server when it can (zero copies in Python),
    else in bounded chunks read by a worker thread."""

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        *,
        chunks: Iterator[bytes] | None = None,
        path: Path | None = None,
    ) -> None:
        self.status_code = status
        self.raw_headers = headers
        self._chunks = chunks
        self._path = path
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if self._path is not None and "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": str(self._path)})
            return
        chunks = self._chunks
        if chunks is None:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            return  # the client went away
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    byte_range: tuple[int, int] | None = None
    with_body: bool = False


def _plan(request: Request, record: FileRecord, *, metadata: bool = True) -> _Reply:
    """Status and headers for a GET or HEAD of ``record``: conditionals first, then Range."""
    size = record.current.size
    etag = _etag(record)
    moment = record.current.created_at.replace(microsecond=0, tzinfo=UTC)
    last_modified = format_datetime(moment, usegmt=True)
    headers = _headers(record, etag, last_modified, metadata=metadata)
    if _not_modified(request, record, etag):
        return _Reply(304, [h for h in headers if h[0] in (b"etag", b"last-modified")])
    byte_range = None
    if _range_applies(request, etag, last_modified):
        byte_range = parse_range(request.headers.get("range"), size)
    if byte_range is None:
        status, length = 200, size
        digest = content_digest_header(bytes.fromhex(record.current.sha256))
        headers.append((b"content-digest", digest.encode()))
    else:
        status, length = 206, byte_range[1] - byte_range[0] + 1
        headers.append((b"content-range", f"bytes {byte_range[0]}-{byte_range[1]}/{size}".encode()))
    headers.append((b"content-length", str(length).encode()))
    return _Reply(status, headers, byte_range, with_body=request.method != "HEAD")


async def get_file(request: Request) -> Response:
    principal = await authorize(request, Permission.READ_DATA)
    access = services_of(request).access
    collection, path = _location(request)
    version = _version_param(request)

    def record_read(record: FileRecord, byte_range: tuple[int, int] | None) -> None:
        access.record_read(principal, record, byte_range, request_id(request))

    return await serve_download(
        request, access, lambda: access.locate(collection, path, version), record_read
    )


async def serve_download(
    request: Request,
    access: AccessService,
    locate: Locate,
    record_read: RecordRead,
    *,
    metadata: bool = True,
) -> Response:
    """Answer a GET or HEAD with the version ``locate`` finds: validators, conditionals, one
    Range, digests, and the bytes by path through the server where it can.

    ``record_read`` runs only when bytes will be sent (not for HEAD, 304 or 416), and may still
    refuse by raising. ``metadata`` False leaves out the ``X-Meta-*`` headers.
    """

    def prepare() -> tuple[FileRecord, _Reply]:
        # One trip to a worker thread: find the version, decide, and log the read if bytes go out.
        record = locate()
        reply = _plan(request, record, metadata=metadata)
        if reply.with_body:
            record_read(record, reply.byte_range)
        return record, reply

    record, reply = await run_in_threadpool(prepare)
    if not reply.with_body:
        return _ObjectResponse(reply.status, reply.headers)
    if reply.byte_range is None:
        chunks = access.read(record, 0, record.current.size)
        return _ObjectResponse(
            reply.status, reply.headers, path=access.local_path(record), chunks=chunks
        )
    first, last = reply.byte_range
    return _ObjectResponse(
        reply.status, reply.headers, chunks=access.read(record, first, last - first + 1)
    )
