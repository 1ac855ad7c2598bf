"""Events and audit: each file's timeline, the auditor's feed, and chain verification."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum.domain.roles import Permission
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import int_param
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import window_of, window_response
from datoferum.services import browse
from datoferum.services.listing import Slice
from datoferum.spine.eventlog import EventRecord

MAX_EVENTS = 10_000


def _window(request: Request) -> tuple[int, int]:
    """``after`` (a sequence number) and ``limit`` of an event page."""
    after = int_param(request, "after", 0, low=0, high=2**62)
    return after, int_param(request, "limit", 1000, low=1, high=MAX_EVENTS)


def _page(events: Sequence[EventRecord], limit: int) -> Response:
    return JSONResponse(
        {
            "items": [event.as_dict() for event in events],
            "next_after": events[-1].seq if len(events) == limit else None,
        }
    )


async def file_events(request: Request) -> Response:
    await authorize(request, Permission.READ_EVENTS)
    after, limit = _window(request)
    found = await run_in_threadpool(
        services_of(request).audit.file_events,
        request.path_params["file_id"],
        after_seq=after,
        limit=limit,
    )
    return _page(found, limit)


async def events(request: Request) -> Response:
    await authorize(request, Permission.READ_EVENTS)
    window = window_of(
        request,
        sortable=list(browse.EVENT_SORTS),
        filterable=browse.EVENT_FILTERS,
        default_sort=("seq", True),
    )
    if window is not None:
        asked = window
        catalog = services_of(request).catalog

        def run() -> Slice:
            with catalog.reading() as conn:
                return browse.window_events(conn, asked)

        return window_response("events", window, await run_in_threadpool(run), EventRecord.as_dict)
    after, limit = _window(request)
    found = await run_in_threadpool(
        services_of(request).audit.events,
        after_seq=after,
        limit=limit,
        type_prefix=request.query_params.get("type"),
    )
    return _page(found, limit)


async def verify(request: Request) -> Response:
    await authorize(request, Permission.VERIFY_AUDIT)
    result = await run_in_threadpool(services_of(request).audit.verify)
    return JSONResponse(result.as_dict())
