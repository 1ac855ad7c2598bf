"""``/api/v1/files/{id}/purge``: destroy a file's versions now, with a preview first if wanted."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission, Role
from datoferum.errors import Forbidden, Held, InvalidInput, Retained
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.security import authorize

REFUSALS = {"held": Held, "retained": Retained}


def _versions(value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise InvalidInput('"versions" must be a positive version number or a list of them')
    return value


async def purge(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    bypass = body.get("bypass_governance") is True
    if bypass and actor.role is not Role.ADMIN:
        raise Forbidden("only admins may bypass governance retention")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 4000:
        raise InvalidInput('"reason" must be text of at most 4000 characters')
    plan = body.get("plan")
    if plan is not None and not isinstance(plan, str):
        raise InvalidInput('"plan" must be the id a dry run returned')
    versions = _versions(body.get("versions"))
    plan_id, outcomes = await run_in_threadpool(
        lambda: services_of(request).purge.request(
            actor.subject, request.path_params["file_id"], versions=versions, reason=reason,
            dry_run=body.get("dry_run") is True, plan_id=plan, bypass_governance=bypass,
            correlation_id=request_id(request),
        )
    )  # fmt: skip
    items = [outcome.as_dict() for outcome in outcomes]
    refused = [o for o in outcomes if o.outcome in REFUSALS]
    if refused and plan_id is None:
        error = REFUSALS[refused[0].outcome]
        raise error(
            f"{len(refused)} of {len(outcomes)} versions were not purged: {refused[0].detail}",
            outcomes=items,
        )
    return JSONResponse({"plan_id": plan_id, "dry_run": plan_id is not None, "items": items})


ROUTES = [Route("/api/v1/files/{file_id}/purge", purge, methods=["POST"])]

PATHS = {
    "/api/v1/files/{file_id}/purge": {
        "post": apidoc.operation(
            "Purge a file's versions (dry_run previews a plan; plan executes exactly it)",
            {
                "200": apidoc.json_body(apidoc.OBJECT, "One outcome per version"),
                "409": apidoc.PROBLEM,
            },
            parameters=[apidoc.path("file_id", "File id.")],
            body=apidoc.json_request(
                {
                    "type": "object",
                    "properties": {
                        "versions": {"type": "array", "items": {"type": "integer"}},
                        "reason": {"type": "string"},
                        "dry_run": {"type": "boolean"},
                        "plan": {"type": "string"},
                        "bypass_governance": {"type": "boolean"},
                    },
                }
            ),
        )
    }
}
