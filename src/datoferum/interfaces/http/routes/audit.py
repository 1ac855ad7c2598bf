"""``/api/v1/audit`` and ``/api/v1/events``: chain verification and the auditor's feed."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum.domain.roles import Permission
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import int_param
from datoferum.interfaces.http.security import authorize


async def verify(request: Request) -> Response:
    await authorize(request, Permission.VERIFY_AUDIT)
    result = await run_in_threadpool(services_of(request).audit.verify)
    return JSONResponse(result.as_dict())


async def events(request: Request) -> Response:
    await authorize(request, Permission.READ_EVENTS)
    limit = int_param(request, "limit", 1000, low=1, high=10_000)
    after = int_param(request, "after", 0, low=0, high=2**62)
    found = await run_in_threadpool(
        services_of(request).audit.events,
        after_seq=after,
        limit=limit,
        type_prefix=request.query_params.get("type"),
    )
    return JSONResponse(
        {
            "items": [event.as_dict() for event in found],
            "next_after": found[-1].seq if len(found) == limit else None,
        }
    )
