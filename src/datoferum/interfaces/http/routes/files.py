"""``/api/v1/files``: listings, file records and each file's lifecycle timeline."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum.domain.roles import Permission
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import int_param, time_param
from datoferum.interfaces.http.security import authorize
from datoferum.services import files
from datoferum.services.files import FileQuery


async def list_files(request: Request) -> Response:
    await authorize(request, Permission.READ_CATALOG)
    params = request.query_params
    query = FileQuery(
        collection=params.get("collection"),
        prefix=params.get("prefix"),
        state=params.get("state"),
        created_after=time_param(request, "created_after"),
        created_before=time_param(request, "created_before"),
        updated_after=time_param(request, "updated_after"),
        updated_before=time_param(request, "updated_before"),
        limit=int_param(request, "limit", 100, low=1, high=files.MAX_PAGE),
        cursor=params.get("cursor"),
    )
    catalog = services_of(request).catalog

    def run() -> dict[str, Any]:
        with catalog.reading() as conn:
            return files.list_files(conn, query).as_dict()

    return JSONResponse(await run_in_threadpool(run))


async def get_file(request: Request) -> Response:
    await authorize(request, Permission.READ_CATALOG)
    catalog = services_of(request).catalog
    file_id = request.path_params["file_id"]

    def run() -> dict[str, Any]:
        with catalog.reading() as conn:
            return files.get_file(conn, file_id).as_dict()

    return JSONResponse(await run_in_threadpool(run))
