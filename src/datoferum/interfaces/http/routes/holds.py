"""``/api/v1/holds``: legal holds on files, collections and saved queries."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import records_response, window_of


async def place(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    holds = services_of(request).holds
    hold = await run_in_threadpool(
        lambda: holds.place(
            actor,
            scope=body.get("scope", "file"),
            target=body.get("target", ""),
            reason=body.get("reason", ""),
            owner=body.get("owner", ""),
            query=body.get("query"),
            correlation_id=request_id(request),
        )
    )
    return JSONResponse(hold.as_dict(), status_code=201)


async def list_holds(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    window = window_of(
        request,
        sortable=("id", "created_at", "released_at", "scope", "target", "owner", "created_by"),
        filterable=("scope", "target", "active", "owner", "q"),
        default_sort=("created_at", True),
    )
    if window is not None:
        holds = services_of(request).holds
        found = await run_in_threadpool(lambda: holds.all(active_only=False))
        return records_response("holds", window, [hold.as_dict() for hold in found])
    everything = request.query_params.get("all") in ("1", "true")
    found = await run_in_threadpool(
        lambda: services_of(request).holds.all(active_only=not everything)
    )
    return JSONResponse({"items": [hold.as_dict() for hold in found]})


async def get_hold(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    hold = await run_in_threadpool(services_of(request).holds.get, request.path_params["hold_id"])
    return JSONResponse(hold.as_dict())


async def release(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    holds = services_of(request).holds
    hold = await run_in_threadpool(
        holds.release,
        actor,
        request.path_params["hold_id"],
        body.get("reason", ""),
        request_id(request),
    )
    return JSONResponse(hold.as_dict())


ROUTES = [
    route("/api/v1/holds", GET=list_holds, POST=place),
    Route("/api/v1/holds/{hold_id}", get_hold, methods=["GET"]),
    Route("/api/v1/holds/{hold_id}/release", release, methods=["POST"]),
]

_HOLD = apidoc.json_body(apidoc.OBJECT, "The hold")
_ID = [apidoc.path("hold_id", "Hold id.")]
PATHS = {
    "/api/v1/holds": {
        "get": apidoc.operation(
            "Active holds (all=true: released ones too)",
            {"200": apidoc.json_body(apidoc.OBJECT, "Holds")},
            parameters=[
                apidoc.query("all", "Also list released holds."),
                *apidoc.window(
                    "id, created_at, released_at, scope, target, owner, created_by",
                    "scope, target, active, owner, q (text in any field); released holds included",
                ),
            ],
        ),
        "post": apidoc.operation(
            "Place a legal hold on a file, a collection or a saved query",
            {"201": _HOLD, "409": apidoc.PROBLEM},
            body=apidoc.json_request(
                {
                    "type": "object",
                    "required": ["scope", "target", "reason", "owner"],
                    "properties": {
                        "scope": {"enum": ["file", "collection", "query"]},
                        "target": {
                            "type": "string",
                            "description": "File id, collection, or query name.",
                        },
                        "reason": {"type": "string"},
                        "owner": {"type": "string"},
                        "query": {"type": "array", "description": "Policy filters (scope query)."},
                    },
                }
            ),
        ),
    },
    "/api/v1/holds/{hold_id}": {"get": apidoc.operation("A hold", {"200": _HOLD}, parameters=_ID)},
    "/api/v1/holds/{hold_id}/release": {
        "post": apidoc.operation(
            "Release a hold (recorded with who and why)",
            {"200": _HOLD, "409": apidoc.PROBLEM},
            parameters=_ID,
            body=apidoc.json_request(
                {
                    "type": "object",
                    "required": ["reason"],
                    "properties": {"reason": {"type": "string"}},
                }
            ),
        )
    },
}
