"""``PUT /api/v1/data/{collection}/{path}``: uploads, served in front of the web framework.

Uploads are the carrier's hot path, and small files are most of them. Measured on a small
machine, Starlette's middleware stack, routing, request and response objects and anyio's hand-off
to a worker thread cost about 0.2 ms an upload, as much as storing and recording a 4 KiB file.
So :class:`UploadLane` sits in front of the application: it takes every ``PUT`` under
``/api/v1/data/`` as a bare ASGI request and passes everything else on. It gives these requests
what the middleware gives the others, with the same functions: a request id, bearer-token
authentication and role check, and RFC 9457 problems for every error.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from datoferum.domain.digests import parse_content_digest, parse_content_md5
from datoferum.domain.metadata import check_metadata
from datoferum.domain.records import FileRecord
from datoferum.domain.roles import Permission, Principal
from datoferum.errors import (
    DatoferumError,
    IncompleteBody,
    InvalidInput,
    InvalidMetadata,
)
from datoferum.interfaces.http import problems
from datoferum.interfaces.http.context import assign_request_id, echoing_id
from datoferum.interfaces.http.params import is_decimal
from datoferum.interfaces.http.routing import file_location
from datoferum.interfaces.http.security import bearer_token, check_permission
from datoferum.services.capture import Capture, CaptureRequest
from datoferum.services.wiring import Services

T = TypeVar("T")

#: ``/api/v1/data/<collection>`` and ``/api/v1/data/<collection>/<path>``: the paths the lane
#: takes (a path may hold any character; the name checks judge it and say what is wrong).
_ROUTE = re.compile(r"/api/v1/data/([^/]+)(?:/(.*))?", re.DOTALL)
_META_PREFIX = b"x-meta-"
#: Uploads being written at once; each holds a thread while it writes or commits.
THREADS = 32


class _Disconnected(Exception):
    """The client went away before the whole body arrived."""


class _Body:
    """Whether an upload's body has been read to its end.

    A problem answered before the end (a bad token, a name refused, a body over the cap) leaves
    unread bytes on the connection, so the server cannot take another request on it. Saying
    ``Connection: close`` with that answer tells the client so, instead of letting it send its
    next request into a connection that is being shut."""

    def __init__(self) -> None:
        self.read = False


class Uploads:
    """Serves uploads as bare ASGI requests, writing on a pool of threads of its own."""

    def __init__(self, services: Callable[[], Services]) -> None:
        self._services = services
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="datoferum-upload")

    def close(self) -> None:
        self._threads.shutdown(wait=True)

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, collection: str, path: str
    ) -> None:
        """Answer one upload: 201 with the file record, or a problem."""
        request_id = scope.get("state", {}).get("request_id")
        if request_id is None:  # not through the middleware, which would echo it
            request_id = assign_request_id(scope)
            send = echoing_id(send, request_id)
        body = _Body()
        try:
            headers = Headers(scope=scope)
            services = self._services()
            token = bearer_token(headers.get("authorization"))
            principal = services.tokens.cached(token)
            if principal is None:
                principal = await self._in_thread(services.tokens.authenticate, token)
            check_permission(principal, Permission.WRITE_DATA)
            capture = services.capture.start(
                _capture_request(scope, headers, collection, path, principal, request_id)
            )
            record = await self._receive_into(
                capture, receive, services.settings.upload_buffer_bytes, body
            )
        except Exception as error:  # every error becomes a problem, as the middleware does
            answer = _problem(scope, error)
            if not body.read:
                answer.headers["connection"] = "close"
            await answer(scope, receive, send)
            return
        content = json.dumps(record.as_dict(), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (b"location", f"/api/v1/files/{record.id}".encode()),
                    (b"etag", f'"{record.current.sha256}"'.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def _receive_into(
        self, capture: Capture, receive: Receive, buffer_bytes: int, body: _Body
    ) -> FileRecord:
        """Read the body in batches; each batch is written by a worker thread while the next
        one arrives, so network, hashing and disk overlap and at most two batches are in
        memory. A small body is one batch: one hand-over to a thread in all."""
        batch: list[bytes] = []
        batched = received = 0
        writing: asyncio.Future[None] | None = None
        try:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if chunk:
                    batch.append(chunk)
                    batched += len(chunk)
                    received += len(chunk)
                if batched >= buffer_bytes:
                    data = b"".join(batch)
                    batch.clear()
                    batched = 0
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(self._in_thread(capture.write, data))
            body.read = True
            if writing is not None:
                await writing
                writing = None
            return await self._in_thread(capture.finish, b"".join(batch))
        except BaseException as exc:
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            disconnected = isinstance(exc, _Disconnected)
            reason = "the client disconnected" if disconnected else repr(exc)
            await self._in_thread(capture.abort, f"upload interrupted: {reason}", received)
            if disconnected:
                declared = capture.request.declared_length
                expected = f" of the {declared} announced" if declared is not None else ""
                raise IncompleteBody(
                    f"the connection closed after {received} bytes{expected}; nothing was "
                    "stored: send the whole file again"
                ) from None
            raise


class UploadLane:
    """An ASGI application: uploads to ``uploads``, everything else to ``app``."""

    def __init__(self, app: ASGIApp, uploads: Uploads) -> None:
        self.app = app
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "PUT":
            found = _ROUTE.fullmatch(scope["path"])
            if found is not None:
                await self.uploads.serve(scope, receive, send, found[1], found[2] or "")
                return
        await self.app(scope, receive, send)


class _Served(Response):
    """A response that is the whole upload, for a PUT that reached the router."""

    def __init__(self, uploads: Uploads, collection: str, path: str) -> None:
        self.uploads, self.collection, self.path = uploads, collection, path
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.uploads.serve(scope, receive, send, self.collection, self.path)


async def put_file(request: Request) -> Response:
    """The router's upload endpoint. The lane answers uploads before routing; this serves them
    the same way where the router is reached first (an application mounted without the lane),
    and keeps PUT in the route table, which the 405 answers and the API document list."""
    uploads = cast(Uploads, request.app.state.uploads)
    params = request.path_params
    return _Served(uploads, params["collection"], params.get("path", ""))


def _capture_request(
    scope: Scope,
    headers: Headers,
    collection: str,
    path: str,
    principal: Principal,
    request_id: str,
) -> CaptureRequest:
    collection, path = file_location(scope, collection, path)
    expected: dict[str, bytes] = {}
    if digest := headers.get("content-digest"):
        expected.update(parse_content_digest(digest))
    if md5 := headers.get("content-md5"):
        expected["md5"] = parse_content_md5(md5)
    return CaptureRequest(
        collection=collection,
        path=path,
        actor=principal,
        content_type=headers.get("content-type") or "application/octet-stream",
        metadata=_metadata(headers.raw),
        expected_digests=expected,
        declared_length=_declared_length(headers.get("content-length")),
        correlation_id=request_id,
    )


def _metadata(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    pairs = []
    for name, value in raw:
        if name.startswith(_META_PREFIX):
            key = name[len(_META_PREFIX) :].decode("latin-1")
            try:
                pairs.append((key, value.decode("utf-8").strip()))
            except UnicodeDecodeError:
                raise InvalidMetadata(f"the value of X-Meta-{key} is not valid UTF-8") from None
    return check_metadata(pairs)


def _declared_length(value: str | None) -> int | None:
    if value is None:
        return None
    if not is_decimal(value):
        raise InvalidInput(f"Content-Length {value!r} is not a number of bytes")
    return int(value)


def _problem(scope: Scope, error: Exception) -> Response:
    request = Request(scope)
    if isinstance(error, DatoferumError):
        return problems.from_error(request, error)
    return problems.unexpected(request)
