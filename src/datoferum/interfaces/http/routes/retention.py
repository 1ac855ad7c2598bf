"""``/api/v1/files/{id}/retention``: an admin sets, extends or (governance only) shortens
how long a version is kept."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import json_object, utc_time
from datoferum.interfaces.http.security import authorize


async def change(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput('"version" must be a positive version number')
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise InvalidInput('"reason" must say why the retention changes')
    until = utc_time(body.get("retain_until"), "retain_until")
    to = body.get("to")
    if to is not None:
        layout = services_of(request).backends.layout
        if not isinstance(to, str) or to not in layout.policies:
            known = ", ".join(sorted(layout.policies))
            raise InvalidInput(f'"to" must name a storage policy, one of: {known}')
    details = await run_in_threadpool(
        lambda: services_of(request).retention.change(
            actor.subject, request.path_params["file_id"], version, until, reason=reason,
            mode=body.get("mode"), then=body.get("then"), to=to,
            correlation_id=request_id(request),
        )
    )  # fmt: skip
    return JSONResponse(details)


ROUTES = [Route("/api/v1/files/{file_id}/retention", change, methods=["POST"])]

PATHS = {
    "/api/v1/files/{file_id}/retention": {
        "post": apidoc.operation(
            "Set a version's retention (compliance: extend only; governance: admins may shorten)",
            {"200": apidoc.json_body(apidoc.OBJECT, "The new retention"), "409": apidoc.PROBLEM},
            parameters=[apidoc.path("file_id", "File id.")],
            body=apidoc.json_request(
                {
                    "type": "object",
                    "required": ["version", "retain_until", "reason"],
                    "properties": {
                        "version": {"type": "integer"},
                        "retain_until": {"type": "string", "format": "date-time"},
                        "mode": {"enum": ["compliance", "governance"]},
                        "then": {"enum": ["purge", "transition", "notify"]},
                        "to": {"type": "string", "description": "storage policy (with transition)"},
                        "reason": {"type": "string"},
                    },
                }
            ),
        )
    }
}
