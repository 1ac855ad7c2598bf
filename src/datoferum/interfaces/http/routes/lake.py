"""``/api/v1/lake``: normalize files into the lake, list its objects with their lineage, and
query it (cost by any FOCUS column or tag, top-N, sandboxed SQL).

Normalizing runs as a job: the answer is the queued job. Queries run in a worker thread; their
limits (time, rows, memory) are the server's settings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.ids import isoformat
from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import int_param, json_object, time_param
from datoferum.interfaces.http.security import authorize
from datoferum.services.lake.query import MAX_TOP, CostQuery
from datoferum.services.lake.storage_cost import JOB as STORAGE_COST_JOB
from datoferum.spine import jobs
from datoferum.spine.catalog.schema import LakePartition
from datoferum.spine.jobs import NewJob


def _fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )


def _queued(job: dict[str, Any]) -> Response:
    return JSONResponse(job, status_code=202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


async def normalize(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LAKE)
    body = await json_object(request)
    _fields(body, {"file_id", "version", "source"})
    file_id, version, source = body.get("file_id"), body.get("version"), body.get("source")
    if not isinstance(file_id, str) or not file_id:
        raise InvalidInput("file_id is required: the id of the captured file to normalize")
    if version is not None and (not isinstance(version, int) or version < 1):
        raise InvalidInput("version must be a version number (1, 2, ...)")
    if source is not None and not isinstance(source, str):
        raise InvalidInput("source must be the name of a lake source")
    normalizer = services_of(request).lake.normalizer
    correlation = request_id(request)

    def run() -> dict[str, Any]:
        return normalizer.request(file_id, version, source, actor.subject, correlation).as_dict()

    return _queued(await run_in_threadpool(run))


async def storage_cost(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_LAKE)
    body = await json_object(request)
    _fields(body, {"day"})
    payload = {"day": str(body["day"])} if body.get("day") else {}
    catalog = services_of(request).catalog

    def run() -> dict[str, Any]:
        with catalog.writing() as conn:
            return jobs.enqueue(conn, NewJob(STORAGE_COST_JOB, payload), actor.subject).as_dict()

    return _queued(await run_in_threadpool(run))


async def partitions(request: Request) -> Response:
    await authorize(request, Permission.QUERY_LAKE)
    dataset = request.query_params.get("dataset")
    file_id = request.query_params.get("file_id")
    limit = int_param(request, "limit", 1000, low=1, high=10_000)
    catalog = services_of(request).catalog

    def run() -> list[dict[str, Any]]:
        query = select(LakePartition.__table__).order_by(LakePartition.path).limit(limit)
        if dataset:
            query = query.where(LakePartition.dataset == dataset)
        if file_id:
            query = query.where(LakePartition.file_id == file_id)
        with catalog.reading() as conn:
            return [_partition(row) for row in conn.execute(query)]

    return JSONResponse({"items": await run_in_threadpool(run)})


def _partition(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "dataset": row.dataset, "partition": row.partition_path,
        "path": row.path, "rows": row.row_count, "bytes": row.size, "sha256": row.sha256,
        "backend": row.backend, "created_at": isoformat(row.created_at),
        "created_by": row.created_by,
        "lineage": {
            "source": row.source, "source_key": row.source_key, "file_id": row.file_id,
            "version_id": row.version_id, "version": row.version,
        },
    }  # fmt: skip


def _listed(request: Request, name: str) -> list[str]:
    """A parameter given several times or comma-separated."""
    values: list[str] = []
    for given in request.query_params.getlist(name):
        values += [part.strip() for part in given.split(",") if part.strip()]
    return values


def _cost_query(request: Request, group_by: list[str], top: int | None) -> CostQuery:
    filters: dict[str, list[str]] = {}
    for given in request.query_params.getlist("filter"):
        name, sep, value = given.partition("=")
        if not sep or not name:
            raise InvalidInput(f"filter {given!r} must read <column>=<value> or tag:<key>=<value>")
        filters.setdefault(name.strip(), []).append(value)

    def aware(moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=UTC) if moment is not None else None

    return CostQuery(
        group_by=group_by,
        granularity=request.query_params.get("granularity", "month"),
        cost=request.query_params.get("cost", "BilledCost"),
        start=aware(time_param(request, "start")),
        end=aware(time_param(request, "end")),
        filters=filters,
        top=top,
    )


async def cost(request: Request) -> Response:
    await authorize(request, Permission.QUERY_LAKE)
    query = _cost_query(request, _listed(request, "group_by"), None)
    lake = services_of(request).lake.query
    return JSONResponse(await run_in_threadpool(lake.cost, query))


async def top(request: Request) -> Response:
    await authorize(request, Permission.QUERY_LAKE)
    by = _listed(request, "by")
    if not by:
        raise InvalidInput(
            "by is required: the FOCUS column (or tag:<key>) to rank, e.g. by=ServiceName"
        )
    n = int_param(request, "n", 10, low=1, high=MAX_TOP)
    lake = services_of(request).lake.query
    return JSONResponse(await run_in_threadpool(lake.cost, _cost_query(request, by, n)))


async def sql(request: Request) -> Response:
    await authorize(request, Permission.QUERY_LAKE)
    body = await json_object(request)
    _fields(body, {"sql"})
    text = body.get("sql")
    if not isinstance(text, str):
        raise InvalidInput("sql is required: one SELECT over the lake's views (e.g. focus)")
    lake = services_of(request).lake.query
    return JSONResponse(await run_in_threadpool(lake.sql, text))


ROUTES = [
    Route("/api/v1/lake/normalize", normalize, methods=["POST"]),
    Route("/api/v1/lake/storage-cost", storage_cost, methods=["POST"]),
    Route("/api/v1/lake/partitions", partitions, methods=["GET"]),
    Route("/api/v1/lake/cost", cost, methods=["GET"]),
    Route("/api/v1/lake/cost/top", top, methods=["GET"]),
    Route("/api/v1/lake/sql", sql, methods=["POST"]),
]

_JOB = {"202": apidoc.json_body(apidoc.OBJECT, "The queued job; its result comes with it")}
_COST_PARAMS = [
    apidoc.query("start", "Charges from this time (ISO 8601, by ChargePeriodStart)."),
    apidoc.query("end", "Charges before this time (ISO 8601)."),
    apidoc.query("cost", "BilledCost (default), EffectiveCost, ListCost or ContractedCost."),
    apidoc.query(
        "filter", "<column>=<value> or tag:<key>=<value>; repeat it (same column: any of)."
    ),
]
_COST = {"200": apidoc.json_body(apidoc.OBJECT, "Cost rows, per currency")}
PATHS = {
    "/api/v1/lake/normalize": {
        "post": apidoc.operation(
            "Queue the normalization of a captured file into the lake (replaces its rows)",
            _JOB,
            body=apidoc.json_request(
                {
                    "type": "object",
                    "required": ["file_id"],
                    "properties": {
                        "file_id": {"type": "string"},
                        "version": {"type": "integer"},
                        "source": {"type": "string"},
                    },
                }
            ),
        )
    },
    "/api/v1/lake/storage-cost": {
        "post": apidoc.operation(
            "Queue writing a day's own storage cost to the lake (default: today)",
            _JOB,
            body=apidoc.json_request(
                {"type": "object", "properties": {"day": {"type": "string", "format": "date"}}}
            ),
        )
    },
    "/api/v1/lake/partitions": {
        "get": apidoc.operation(
            "The lake's objects with their lineage (source, file, version)",
            {"200": apidoc.json_body(apidoc.OBJECT, "Objects")},
            parameters=[
                apidoc.query("dataset", "Only this dataset (e.g. focus)."),
                apidoc.query("file_id", "Only objects produced from this file."),
                apidoc.query("limit", "At most this many (1-10000).", {"type": "integer"}),
            ],
        )
    },
    "/api/v1/lake/cost": {
        "get": apidoc.operation(
            "Cost grouped by FOCUS columns or tags, by day or month",
            _COST,
            parameters=[
                apidoc.query("group_by", "FOCUS columns or tag:<key>, comma-separated."),
                apidoc.query("granularity", "day, month (default) or none."),
                *_COST_PARAMS,
            ],
        )
    },
    "/api/v1/lake/cost/top": {
        "get": apidoc.operation(
            "The N largest costs by a FOCUS column or tag",
            _COST,
            parameters=[
                apidoc.query("by", "FOCUS column(s) or tag:<key> to rank."),
                apidoc.query("n", "How many (1-1000, default 10).", {"type": "integer"}),
                *_COST_PARAMS,
            ],
        )
    },
    "/api/v1/lake/sql": {
        "post": apidoc.operation(
            "Run one read-only SELECT over the lake (sandboxed, time- and row-limited)",
            {"200": apidoc.json_body(apidoc.OBJECT, "columns, rows, truncated")},
            body=apidoc.json_request(
                {"type": "object", "required": ["sql"], "properties": {"sql": {"type": "string"}}}
            ),
        )
    },
}
