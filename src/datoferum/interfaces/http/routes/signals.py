"""``/api/v1/files/{id}/signals``: outside processes tell Datoferum what happened to a file."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import is_decimal, json_object
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.http.security import authorize
from datoferum.services.policies import check_filters


async def send(request: Request) -> Response:
    actor = await authorize(request, Permission.SEND_SIGNALS)
    body = await json_object(request)
    event = await run_in_threadpool(
        services_of(request).signals.send,
        actor,
        request.path_params["file_id"],
        body.get("name"),
        body.get("data"),
        request_id(request),
    )
    return JSONResponse(event.as_dict(), status_code=201)


#: The most signals one listing returns.
MAX_LISTED = 1000


async def list_signals(request: Request) -> Response:
    await authorize(request, Permission.READ_CATALOG)
    raw = request.query_params.get("limit", "100")
    if not is_decimal(raw) or not 1 <= int(raw) <= MAX_LISTED:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LISTED}, got {raw!r}")
    items = await run_in_threadpool(
        services_of(request).signals.for_file, request.path_params["file_id"], int(raw)
    )
    return JSONResponse({"items": items})


async def send_many(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    bulk = services_of(request).bulk_signals
    query, plan = body.get("query"), body.get("plan")
    if query is not None and not isinstance(query, list):
        raise InvalidInput('"query" must be a list of policy filters')
    if plan is not None and not isinstance(plan, str):
        raise InvalidInput('"plan" must be the id a dry run returned')
    name, data = body.get("name"), body.get("data")
    if body.get("dry_run") is True:
        plan_id, items = await run_in_threadpool(
            bulk.preview, actor.subject, name, data, query or []
        )
        shown = [item.as_dict() for item in items[:SHOWN_ITEMS]]
        return JSONResponse({"plan_id": plan_id, "files": len(items), "items": shown})
    if query:
        check_filters(query)  # refuse bad filters now, not in the job
    job = await run_in_threadpool(bulk.start, actor.subject, name, data, query, plan)
    return JSONResponse(job.as_dict(), status_code=202)


ROUTES = [
    route("/api/v1/files/{file_id}/signals", GET=list_signals, POST=send),
    Route("/api/v1/signals", send_many, methods=["POST"]),
]

SHOWN_ITEMS = 1000

PATHS = {
    "/api/v1/signals": {
        "post": apidoc.operation(
            "Send one signal to every file a query selects (dry_run previews a plan)",
            {
                "200": apidoc.json_body(apidoc.OBJECT, "The preview"),
                "202": apidoc.json_body(apidoc.OBJECT, "The queued job"),
            },
            body=apidoc.json_request(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "data": {"type": "object"},
                        "query": {"type": "array", "description": "Policy filters."},
                        "dry_run": {"type": "boolean"},
                        "plan": {"type": "string"},
                    },
                }
            ),
        )
    },
    "/api/v1/files/{file_id}/signals": {
        "get": apidoc.operation(
            "The file's newest signals, newest first (name, version, data, time, actor)",
            {"200": apidoc.json_body(apidoc.OBJECT, "Signals"), "404": apidoc.PROBLEM},
            parameters=[
                apidoc.path("file_id", "File id."),
                apidoc.query("limit", f"How many, 1 to {MAX_LISTED}; default 100."),
            ],
        ),
        "post": apidoc.operation(
            "Send a signal about a file (an event; policies may count time from it)",
            {"201": apidoc.json_body(apidoc.OBJECT, "The signal's event"), "409": apidoc.PROBLEM},
            parameters=[apidoc.path("file_id", "File id.")],
            body=apidoc.json_request(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "data": {"type": "object"}},
                }
            ),
        ),
    },
}
