"""Parsing of query parameters and numeric headers, with errors a person can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from datoferum.errors import InvalidInput


def is_decimal(value: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts characters such as '²' that int() refuses."""
    return value.isascii() and value.isdigit()


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not is_decimal(value) or not low <= int(value) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def utc_time(value: object, name: str) -> datetime:
    """An ISO 8601 time as naive UTC (how the catalog stores time)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def time_param(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    return None if value is None else utc_time(value, name)


async def body_bytes(request: Request, limit: int, what: str) -> bytes:
    """The whole request body, refused as soon as it passes ``limit`` bytes."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise InvalidInput(f"{what} may be at most {limit} bytes")
    return bytes(raw)


async def json_object(request: Request, limit: int = 64 * 1024) -> dict[str, Any]:
    """The request body as a JSON object, refusing bodies over ``limit`` bytes early."""
    raw = await body_bytes(request, limit, "the JSON body")
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body
