"""``/api/v1/jobs`` and ``/api/v1/queue``: the work queue, its progress and its health."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import int_param
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import window_of, window_response
from datoferum.services import browse
from datoferum.services.listing import Slice
from datoferum.spine import jobs
from datoferum.spine.jobs import JobRecord


async def list_jobs(request: Request) -> Response:
    await authorize(request, Permission.READ_JOBS)
    catalog = services_of(request).catalog
    window = window_of(
        request,
        sortable=list(browse.JOB_SORTS),
        filterable=browse.JOB_FILTERS,
        default_sort=("created_at", True),
    )
    if window is not None:
        asked = window

        def run_window() -> Slice:
            with catalog.reading() as conn:
                return browse.window_jobs(conn, asked)

        found = await run_in_threadpool(run_window)
        return window_response("jobs", window, found, JobRecord.as_dict)
    state, kind = request.query_params.get("state"), request.query_params.get("kind")
    limit = int_param(request, "limit", 100, low=1, high=1000)

    def run() -> list[dict[str, Any]]:
        with catalog.reading() as conn:
            return [job.as_dict() for job in jobs.page(conn, state=state, kind=kind, limit=limit)]

    return JSONResponse({"items": await run_in_threadpool(run)})


async def get_job(request: Request) -> Response:
    await authorize(request, Permission.READ_JOBS)
    catalog = services_of(request).catalog

    def run() -> dict[str, Any]:
        with catalog.reading() as conn:
            return jobs.get(conn, request.path_params["job_id"]).as_dict()

    return JSONResponse(await run_in_threadpool(run))


async def cancel_job(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_JOBS)
    catalog = services_of(request).catalog

    def run() -> dict[str, Any]:
        with catalog.writing() as conn:
            return jobs.cancel(conn, request.path_params["job_id"]).as_dict()

    return JSONResponse(await run_in_threadpool(run), status_code=202)


async def queue(request: Request) -> Response:
    await authorize(request, Permission.READ_JOBS)
    return JSONResponse(await run_in_threadpool(services_of(request).queue_status))


ROUTES = [
    Route("/api/v1/jobs", list_jobs, methods=["GET"]),
    Route("/api/v1/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/api/v1/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/api/v1/queue", queue, methods=["GET"]),
]

_JOB_ID = [apidoc.path("job_id", "Job id.")]
PATHS = {
    "/api/v1/jobs": {
        "get": apidoc.operation(
            "Jobs, newest first",
            {"200": apidoc.json_body(apidoc.OBJECT, "Jobs")},
            parameters=[
                apidoc.query("state", "queued, running, succeeded, failed or cancelled."),
                apidoc.query("kind", "Only jobs of this kind."),
                apidoc.query("limit", "Page size (1-1000).", {"type": "integer"}),
                *apidoc.window(", ".join(browse.JOB_SORTS), ", ".join(browse.JOB_FILTERS)),
            ],
        )
    },
    "/api/v1/jobs/{job_id}": {
        "get": apidoc.operation(
            "A job: state, attempts, progress, result",
            {"200": apidoc.json_body(apidoc.OBJECT, "Job")},
            parameters=_JOB_ID,
        )
    },
    "/api/v1/jobs/{job_id}/cancel": {
        "post": apidoc.operation(
            "Cancel a job (a running one stops at its next progress report)",
            {"202": apidoc.json_body(apidoc.OBJECT, "Job")},
            parameters=_JOB_ID,
        )
    },
    "/api/v1/queue": {
        "get": apidoc.operation(
            "Queue depth by state, how late the oldest due job is, next due purge and purge lag",
            {"200": apidoc.json_body(apidoc.OBJECT, "Queue status")},
        )
    },
}
