"""``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs``: the OTLP/HTTP receiver.

The wire follows OTLP/HTTP: binary protobuf (``application/x-protobuf``) or OTLP/JSON
(``application/json``) bodies, optionally gzip-compressed (``Content-Encoding: gzip``); a
``200`` carries an ``Export…ServiceResponse`` in the request's encoding, sent only once the
request is a committed file. Errors keep the statuses OTLP clients act on (400 and 413 are not
retried; 503 from storage or catalog outages is, after ``Retry-After``). A protobuf client gets
the ``google.rpc.Status`` message the specification asks for, whose ``message`` is the same
actionable detail the problem+json answer to any other client carries.
"""

from __future__ import annotations

import zlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.errors import (
    DatoferumError,
    IncompleteBody,
    InvalidInput,
    PayloadTooLarge,
    TelemetryError,
    UnsupportedMediaType,
)
from datoferum.interfaces.http import apidoc, problems
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import is_decimal
from datoferum.interfaces.http.routing import Endpoint
from datoferum.interfaces.http.security import authorize
from datoferum.services.telemetry.payloads import MEDIA_TYPES, SIGNALS, Encoding, Signal

_ENCODINGS: dict[str, Encoding] = {media: encoding for encoding, media in MEDIA_TYPES.items()}
#: HTTP status → ``google.rpc.Code`` of the Status body sent to protobuf clients.
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 413: 8, 415: 3, 422: 9, 503: 14}
_RPC_UNKNOWN = 2
#: Answer headers of a product error that an OTLP client needs to see too.
_KEPT_HEADERS = ("www-authenticate", "retry-after")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _encoding(request: Request) -> Encoding:
    media = _media_type(request)
    encoding = _ENCODINGS.get(media)
    if encoding is None:
        raise UnsupportedMediaType(
            f"OTLP/HTTP bodies are application/x-protobuf or application/json, not "
            f"{media or 'a body without Content-Type'}: set the exporter's protocol to "
            "http/protobuf or http/json"
        )
    return encoding


def _gzipped(request: Request) -> bool:
    coding = request.headers.get("content-encoding", "identity").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return True
    if coding in ("", "identity"):
        return False
    raise UnsupportedMediaType(
        f"Content-Encoding {coding!r} is not supported: send the body as is or gzip-compressed"
    )


def _too_large(limit: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the export request {what} more than {limit} bytes, the most this server accepts "
        "(DATOFERUM_OTLP_MAX_REQUEST_BYTES); nothing was stored: export smaller batches",
        limit=limit,
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body as sent, refused as soon as it passes ``limit`` (before reading if the declared
    length already does)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not is_decimal(declared):
            raise InvalidInput(f"Content-Length {declared!r} is not a number of bytes")
        if int(declared) > limit:
            raise _too_large(limit, "is")
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _too_large(limit, "is")
            chunks.append(chunk)
    except ClientDisconnect:
        raise IncompleteBody(
            f"the connection closed after {received} bytes; nothing was stored: send the "
            "request again"
        ) from None
    return b"".join(chunks)


def inflate(data: bytes, limit: int) -> bytes:
    """A gzip body decompressed, never producing more than ``limit`` bytes (a small
    compressed body may expand a thousandfold)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        plain = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise TelemetryError(
            f"the body is not valid gzip ({error}); drop Content-Encoding for an uncompressed body"
        ) from None
    if len(plain) > limit:
        raise _too_large(limit, "decompresses to")
    if not inflater.eof or inflater.unused_data:
        raise TelemetryError("the gzip body is truncated or has bytes after its end")
    return plain


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def rpc_status(code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (``code`` = 1, ``message`` = 2) in protobuf: two fields do not
    justify a dependency on the googleapis protos."""
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _failure(request: Request, error: DatoferumError) -> Response:
    answer = problems.from_error(request, error)
    if _media_type(request) != MEDIA_TYPES["protobuf"]:
        return answer
    headers = {name: answer.headers[name] for name in _KEPT_HEADERS if name in answer.headers}
    return Response(
        rpc_status(_RPC_CODES.get(answer.status_code, _RPC_UNKNOWN), error.detail),
        status_code=answer.status_code,
        media_type=MEDIA_TYPES["protobuf"],
        headers=headers,
    )


def _endpoint(signal: Signal) -> Endpoint:
    async def export(request: Request) -> Response:
        try:
            principal = await authorize(request, Permission.WRITE_DATA)
            encoding = _encoding(request)
            gzipped = _gzipped(request)
            services = services_of(request)
            limit = services.settings.otlp_max_request_bytes
            body = await _read_body(request, limit)

            def accept() -> None:
                plain = inflate(body, limit) if gzipped else body
                services.telemetry.accept(signal, encoding, plain, principal, request_id(request))

            await run_in_threadpool(accept)
        except DatoferumError as error:
            return _failure(request, error)
        return Response(
            signal.response_body(encoding), status_code=200, media_type=MEDIA_TYPES[encoding]
        )

    return export


ROUTES = [
    Route(f"/v1/{name}", _endpoint(signal), methods=["POST"]) for name, signal in SIGNALS.items()
]


def _operation(signal: Signal) -> dict[str, Any]:
    message = signal.request.DESCRIPTOR.name
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "post": apidoc.operation(
            f"OTLP/HTTP export of {signal.items} (an {message}), kept as one file",
            {
                "200": {
                    "description": f"Stored; the body is an empty {message[:-7]}Response",
                    "content": {"application/x-protobuf": binary, "application/json": {}},
                },
                "413": apidoc.PROBLEM,
                "415": apidoc.PROBLEM,
                "503": apidoc.PROBLEM,
            },
            parameters=[
                {
                    "name": "Content-Encoding",
                    "in": "header",
                    "required": False,
                    "schema": {"enum": ["gzip", "identity"]},
                }
            ],
            body={
                "required": True,
                "content": {"application/x-protobuf": binary, "application/json": {}},
            },
        )
    }


PATHS = {f"/v1/{name}": _operation(signal) for name, signal in SIGNALS.items()}
