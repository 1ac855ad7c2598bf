"""``/api/v1/erasure``: erase a data subject's files (preview first: ``dry_run`` defaults to true).

The subject's value arrives in the body only; answers echo its hash, never the value.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import window_of, window_response
from datoferum.services.erasure import LIST_FILTERS, SORTS
from datoferum.services.listing import Window

FIELDS = frozenset({"key", "value", "reason", "dry_run", "plan"})


def _options(body: dict[str, Any]) -> tuple[bool | None, str | None]:
    """``dry_run`` (None when absent) and ``plan``, checked strictly: a typo must not turn a
    preview into an execution or the reverse."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(sorted(FIELDS))}"
        )
    dry_run, plan = body.get("dry_run"), body.get("plan")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise InvalidInput('"dry_run" must be true or false')
    if plan is not None and not isinstance(plan, str):
        raise InvalidInput('"plan" must be the plan id a dry run returned')
    if plan is not None and dry_run is True:
        raise InvalidInput('"plan" executes a preview: leave out "dry_run" or set it to false')
    return dry_run, plan


async def request_erasure(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LIFECYCLE)
    body = await json_object(request)
    dry_run, plan = _options(body)
    service, rid = services_of(request).erasure, request_id(request)
    if plan is not None:
        subject = service.subject(body.get("key"), body["value"]) if "value" in body else None
        answer = await run_in_threadpool(service.execute, actor.subject, plan, subject, rid)
        return JSONResponse(answer, status_code=202)
    subject = service.subject(body.get("key"), body.get("value"))
    preview_only = dry_run is not False
    answer = await run_in_threadpool(
        lambda: service.create(
            actor.subject, subject, body.get("reason", ""), dry_run=preview_only,
            correlation_id=rid,
        )
    )  # fmt: skip
    return JSONResponse(answer, status_code=200 if preview_only else 202)


async def list_requests(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_LIFECYCLE)
    window = window_of(
        request, sortable=tuple(SORTS), filterable=LIST_FILTERS, default_sort=("created_at", True)
    ) or Window("created_at", True, 0, 24, {})
    found = await run_in_threadpool(services_of(request).erasure.listing, window)
    return window_response(
        "erasure", window, found, lambda item: {"id": item["request_id"], **item}
    )


async def get_request(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_LIFECYCLE)
    answer = await run_in_threadpool(
        services_of(request).erasure.get, request.path_params["request_id"]
    )
    return JSONResponse(answer)


ROUTES = [
    route("/api/v1/erasure", GET=list_requests, POST=request_erasure),
    Route("/api/v1/erasure/{request_id}", get_request, methods=["GET"]),
]

_REQUEST = apidoc.json_body(apidoc.OBJECT, "The request: state, preview counts, items, summary")
PATHS = {
    "/api/v1/erasure": {
        "get": apidoc.operation(
            "Erasure requests, newest first (subjects by hash only), with their job's state and "
            "progress; a window of 25 unless asked otherwise",
            {"200": apidoc.json_body(apidoc.OBJECT, "Requests")},
            parameters=apidoc.window(", ".join(SORTS), ", ".join(LIST_FILTERS)),
        ),
        "post": apidoc.operation(
            "Erase a data subject's files: preview (dry_run, the default) as a plan, then execute "
            "the plan (or dry_run false: at once) as an erasure.run job",
            {"200": _REQUEST, "202": _REQUEST, "409": apidoc.PROBLEM},
            body=apidoc.json_request(
                {
                    "type": "object",
                    "properties": {
                        "key": {
                            "type": "string",
                            "description": "Metadata key naming the subject (default: the "
                            "DATOFERUM_SUBJECT_KEY setting, `subject`).",
                        },
                        "value": {"type": "string", "description": "The subject's value."},
                        "reason": {"type": "string"},
                        "dry_run": {"type": "boolean", "default": True},
                        "plan": {"type": "string", "description": "Execute this preview."},
                    },
                }
            ),
        ),
    },
    "/api/v1/erasure/{request_id}": {
        "get": apidoc.operation(
            "An erasure request: its state and, once run, its summary",
            {"200": _REQUEST},
            parameters=[apidoc.path("request_id", "Erasure request id.")],
        )
    },
}
