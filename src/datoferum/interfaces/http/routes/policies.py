"""``/api/v1/policies``: apply policy YAML, read versions, delete, and run (or preview) them."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import body_bytes, json_object
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import records_response, window_of
from datoferum.services.policies import check_filters
from datoferum.spine import jobs
from datoferum.spine.jobs import NewJob

MAX_DOCUMENT = 1024 * 1024
SHOWN_ITEMS = 1000


async def _text(request: Request) -> str:
    raw = await body_bytes(request, MAX_DOCUMENT, "a policy document")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the policy document is not UTF-8 text") from None


async def apply(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    text = await _text(request)
    source = request.query_params.get("source", "api")
    results = await run_in_threadpool(
        services_of(request).policies.apply, actor.subject, text, source
    )
    return JSONResponse({"items": results})


async def list_policies(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    window = window_of(
        request,
        sortable=("id", "name", "version", "created_at", "created_by"),
        filterable=("name", "q"),
        default_sort=("name", False),
    )
    found = await run_in_threadpool(services_of(request).policies.active)
    if window is not None:
        # A policy is named by its name; admin front ends key records by ``id``.
        records = [{"id": stored.policy.name, **stored.as_dict()} for stored in found]
        return records_response("policies", window, records)
    return JSONResponse({"items": [stored.as_dict() for stored in found]})


async def history(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    found = await run_in_threadpool(
        services_of(request).policies.history, request.path_params["name"]
    )
    return JSONResponse({"items": [stored.as_dict() for stored in found]})


async def delete(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    done = await run_in_threadpool(
        services_of(request).policies.delete, actor.subject, request.path_params["name"]
    )
    return JSONResponse(done)


async def run(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    policies, name = services_of(request).policies, request.path_params["name"]
    plan = body.get("plan")
    if plan is not None and not isinstance(plan, str):
        raise InvalidInput('"plan" must be the id a dry run returned')
    if body.get("dry_run") is True:
        plan_id, stored, items = await run_in_threadpool(policies.preview, actor.subject, name)
        answer: dict[str, Any] = {
            "plan_id": plan_id, "policy": stored.policy.name, "version": stored.version,
            "files": len(items), "items": [item.as_dict() for item in items[:SHOWN_ITEMS]],
            "shown": min(len(items), SHOWN_ITEMS),
        }  # fmt: skip
        return JSONResponse(answer)
    job = await run_in_threadpool(policies.start, actor.subject, name, plan)
    return JSONResponse(
        job.as_dict(), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"}
    )


async def reclassify(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    query = body.get("query") or []
    if not isinstance(query, list):
        raise InvalidInput('"query" must be a list of policy filters (empty: every file)')
    services = services_of(request)

    def start() -> dict[str, Any]:
        check_filters(query)  # refuse bad filters now, not in the job
        with services.catalog.writing() as conn:
            job = jobs.enqueue(conn, NewJob("reclassify", {"query": query}), actor.subject)
        return job.as_dict()

    return JSONResponse(await run_in_threadpool(start), status_code=202)


ROUTES = [
    route("/api/v1/policies", GET=list_policies, POST=apply),
    route("/api/v1/policies/{name}", GET=history, DELETE=delete),
    Route("/api/v1/policies/{name}/run", run, methods=["POST"]),
    Route("/api/v1/classify", reclassify, methods=["POST"]),
]

_NAME = [apidoc.path("name", "Policy name.")]
_LIST = apidoc.json_body(apidoc.OBJECT, "Policies")
PATHS = {
    "/api/v1/classify": {
        "post": apidoc.operation(
            "Re-classify existing files by today's capture policies (a job)",
            {"202": apidoc.json_body(apidoc.OBJECT, "The queued job")},
            body=apidoc.json_request(
                {"type": "object", "properties": {"query": {"type": "array"}}}
            ),
        )
    },
    "/api/v1/policies": {
        "get": apidoc.operation(
            "The newest version of every active policy",
            {"200": _LIST},
            parameters=apidoc.window(
                "id (the name), name, version, created_at, created_by", "name, q"
            ),
        ),
        "post": apidoc.operation(
            "Apply a policy document (YAML); unchanged policies keep their version",
            {"200": _LIST},
            parameters=[apidoc.query("source", "A name for where the document came from.")],
            body={
                "required": True,
                "content": {"application/yaml": {"schema": {"type": "string"}}},
            },
        ),
    },
    "/api/v1/policies/{name}": {
        "get": apidoc.operation(
            "Every version of a policy, newest first", {"200": _LIST}, parameters=_NAME
        ),
        "delete": apidoc.operation(
            "Deactivate a policy (its versions stay)",
            {"200": apidoc.json_body(apidoc.OBJECT, "Done"), "409": apidoc.PROBLEM},
            parameters=_NAME,
        ),
    },
    "/api/v1/policies/{name}/run": {
        "post": apidoc.operation(
            "Run a policy as a job; dry_run previews a plan, plan runs exactly that plan",
            {
                "200": apidoc.json_body(apidoc.OBJECT, "The preview (dry run)"),
                "202": apidoc.json_body(apidoc.OBJECT, "The queued job"),
                "409": apidoc.PROBLEM,
            },
            parameters=_NAME,
            body=apidoc.json_request(
                {
                    "type": "object",
                    "properties": {"dry_run": {"type": "boolean"}, "plan": {"type": "string"}},
                }
            ),
        )
    },
}
