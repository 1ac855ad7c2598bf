"""RFC 9457 problem+json: the one error shape on the wire.

The status of every product error is decided here, in one table, never in endpoints.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from datoferum import errors

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:datoferum:problem:"

STATUS: dict[type[errors.DatoferumError], int] = {
    errors.InvalidInput: 400,
    errors.DigestMismatch: 400,
    errors.IncompleteBody: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.RejectedByPolicy: 422,
    errors.RangeNotSatisfiable: 416,
    errors.StorageUnavailable: 503,
    errors.CatalogUnavailable: 503,
    errors.IdentityUnavailable: 503,
}

_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 400: "invalid-input"}


def status_of(error: errors.DatoferumError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def problem(
    request: Request | None,
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def from_error(request: Request | None, error: errors.DatoferumError) -> Response:
    status = status_of(error)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="datoferum"'
    if isinstance(error, errors.RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{error.size}"
    if error.transient:
        headers["Retry-After"] = "1"
    return problem(
        request, status, error.code, error.title, error.detail, headers=headers, **error.extra
    )


async def handle_product_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DatoferumError)
    return from_error(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    detail = {
        404: f"there is no endpoint at {request.url.path}; see /openapi.json for the API",
        405: f"{request.method} is not supported on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    response = problem(request, exc.status_code, code, code.replace("-", " ").capitalize(), detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    return unexpected(request)


def unexpected(request: Request) -> Response:
    """The 500 problem; call it while handling the exception, which is logged."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.exception("unexpected error (request %s)", request_id)
    return problem(
        request,
        500,
        "internal-error",
        "Internal error",
        "the server failed unexpectedly; nothing partial was kept. Report the request_id "
        "to the operator",
    )
