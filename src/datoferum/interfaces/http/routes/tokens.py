"""``/api/v1/tokens`` (admins) and ``/api/v1/whoami`` (anyone with a token)."""

from __future__ import annotations

from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.security import authorize

MAX_LIFETIME_DAYS = 3660


async def create_token(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_TOKENS)
    body = await json_object(request)
    name, role, days = body.get("name"), body.get("role"), body.get("expires_in_days")
    if not isinstance(name, str) or not isinstance(role, str):
        raise InvalidInput(
            'give "name" and "role" as strings, e.g. {"name": "ingest", "role": "producer"}'
        )
    if days is not None and (
        not isinstance(days, int | float)
        or isinstance(days, bool)
        or not 0 < days <= MAX_LIFETIME_DAYS  # also refuses NaN
    ):
        raise InvalidInput(
            f'"expires_in_days" must be a number of days above 0 and at most {MAX_LIFETIME_DAYS}'
        )
    expires = timedelta(days=days) if days is not None else None
    info, secret = await run_in_threadpool(
        lambda: services_of(request).tokens.create(actor, name=name, role=role, expires_in=expires)
    )
    return JSONResponse({**info.as_dict(), "token": secret}, status_code=201)


async def list_tokens(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_TOKENS)
    found = await run_in_threadpool(services_of(request).tokens.list)
    return JSONResponse({"items": [info.as_dict() for info in found]})


async def revoke_token(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_TOKENS)
    info = await run_in_threadpool(
        services_of(request).tokens.revoke, actor, request.path_params["token_id"]
    )
    return JSONResponse(info.as_dict())


async def whoami(request: Request) -> Response:
    principal = await authorize(request, Permission.READ_CATALOG)
    return JSONResponse(
        {"subject": principal.subject, "name": principal.name, "role": principal.role.value}
    )
