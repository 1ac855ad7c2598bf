"""``/api/v1/storage``: the storage layout (without credentials), scrubs and dark-data reports.

Scrubs and reports read every copy or list whole backends, so they run as jobs: the answer is
the queued job, whose result holds the counts or the report.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission, Principal
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.security import authorize
from datoferum.spine import jobs
from datoferum.spine.jobs import NewJob


async def layout(request: Request) -> Response:
    await authorize(request, Permission.READ_LIFECYCLE)
    return JSONResponse(services_of(request).backends.layout.public())


async def _queue(
    request: Request, actor: Principal, kind: str, payload: dict[str, str]
) -> Response:
    services = services_of(request)

    def enqueue() -> dict[str, object]:
        with services.catalog.writing() as conn:
            return jobs.enqueue(conn, NewJob(kind, payload), actor.subject).as_dict()

    job = await run_in_threadpool(enqueue)
    return JSONResponse(job, status_code=202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


async def scrub(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_STORAGE)
    return await _queue(request, actor, "scrub", {})


async def report(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_STORAGE)
    body = await json_object(request)
    unknown = sorted(set(body) - {"backend"})
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}; the only one is 'backend'")
    backend = body.get("backend")
    if backend is not None:
        services_of(request).scrub.backend(backend)
    payload = {"backend": backend} if backend else {}
    return await _queue(request, actor, "storage.report", payload)


ROUTES = [
    Route("/api/v1/storage", layout, methods=["GET"]),
    Route("/api/v1/storage/scrub", scrub, methods=["POST"]),
    Route("/api/v1/storage/report", report, methods=["POST"]),
]

_JOB = {"202": apidoc.json_body(apidoc.OBJECT, "The queued job; its result comes with it")}
PATHS = {
    "/api/v1/storage": {
        "get": apidoc.operation(
            "The storage layout: backends (credentials never shown), policies, default, ingest",
            {"200": apidoc.json_body(apidoc.OBJECT, "The layout")},
        )
    },
    "/api/v1/storage/scrub": {
        "post": apidoc.operation("Queue a scrub: re-read every copy, repair bad ones", _JOB)
    },
    "/api/v1/storage/report": {
        "post": apidoc.operation(
            "Queue a dark-data report of one backend (or all): unknown objects, missing copies",
            {**_JOB, "404": apidoc.PROBLEM},
            body=apidoc.json_request(
                {"type": "object", "properties": {"backend": {"type": "string"}}}
            ),
        )
    },
}
