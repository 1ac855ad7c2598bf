"""``/api/v1/files/{id}/signals``: outside processes tell Datoferum what happened to a file."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.security import authorize


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


ROUTES = [Route("/api/v1/files/{file_id}/signals", send, methods=["POST"])]

PATHS = {
    "/api/v1/files/{file_id}/signals": {
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
        )
    }
}
