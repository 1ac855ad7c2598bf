"""``/api/v1/stats``: catalog totals for dashboards."""

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
from datoferum.interfaces.http.params import is_decimal
from datoferum.interfaces.http.security import authorize
from datoferum.services import stats


async def catalog_stats(request: Request) -> Response:
    await authorize(request, Permission.READ_CATALOG)
    catalog = services_of(request).catalog

    def run() -> dict[str, Any]:
        with catalog.reading() as conn:
            return stats.catalog_totals(conn)

    return JSONResponse(await run_in_threadpool(run))


async def activity(request: Request) -> Response:
    await authorize(request, Permission.READ_CATALOG)
    catalog = services_of(request).catalog
    raw = request.query_params.get("days", "30")
    if not is_decimal(raw):
        raise InvalidInput(f"days must be a whole number of days, got {raw!r}")

    def run() -> dict[str, Any]:
        with catalog.reading() as conn:
            return stats.activity(conn, int(raw))

    return JSONResponse(await run_in_threadpool(run))


ROUTES = [
    Route("/api/v1/stats", catalog_stats, methods=["GET"]),
    Route("/api/v1/stats/activity", activity, methods=["GET"]),
]

_GROUP = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "files": {"type": "integer"},
            "bytes": {"type": "integer"},
        },
    },
}
_DAYS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "versions": {"type": "integer"},
            "bytes": {"type": "integer"},
        },
    },
}
PATHS = {
    "/api/v1/stats": {
        "get": apidoc.operation(
            "Files and bytes in all, by collection and by state (newest version of each file)",
            {
                "200": apidoc.json_body(
                    {
                        "type": "object",
                        "properties": {
                            "files": {"type": "integer"},
                            "bytes": {"type": "integer"},
                            "by_collection": _GROUP,
                            "by_state": _GROUP,
                        },
                    },
                    "Totals",
                )
            },
        )
    },
    "/api/v1/stats/activity": {
        "get": apidoc.operation(
            "Versions captured per day over the last `days` days, and purges due (retention "
            "ending with a purge) per day over the next `days` days",
            {
                "200": apidoc.json_body(
                    {
                        "type": "object",
                        "properties": {
                            "days": {"type": "integer"},
                            "captured": _DAYS,
                            "purges_due": _DAYS,
                        },
                    },
                    "Per-day counts; days without any are left out",
                ),
                "400": apidoc.PROBLEM,
            },
            parameters=[apidoc.query("days", f"1 to {stats.MAX_DAYS}; default 30.")],
        )
    },
}
