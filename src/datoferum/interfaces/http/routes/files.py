"""``/api/v1/files``: listings, file records and each file's lifecycle timeline."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum.domain.records import FileSummary
from datoferum.domain.roles import Permission
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import int_param, time_param
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import window_of, window_response
from datoferum.services import files
from datoferum.services.files import FileQuery
from datoferum.services.listing import Slice, Window, text_filter

FILE_FILTERS = ("collection", "prefix", "state", "q")


async def _file_window(request: Request, window: Window) -> Response:
    """``/api/v1/files`` asked as a window: filters collection, prefix, state and ``q`` (part
    of the path), any field of ``FILE_SORTS``."""
    query = FileQuery(
        collection=text_filter(window, "collection"),
        prefix=text_filter(window, "prefix"),
        state=text_filter(window, "state"),
    )
    search = text_filter(window, "q")
    catalog = services_of(request).catalog

    def run() -> Slice:
        with catalog.reading() as conn:
            return files.window_files(conn, query, window, search)

    found = await run_in_threadpool(run)
    return window_response("files", window, found, FileSummary.as_dict)


async def list_files(request: Request) -> Response:
    await authorize(request, Permission.READ_CATALOG)
    window = window_of(
        request,
        sortable=list(files.FILE_SORTS),
        filterable=FILE_FILTERS,
        default_sort=("id", True),
    )
    if window is not None:
        return await _file_window(request, window)
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
