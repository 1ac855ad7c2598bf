"""``/healthz`` (the process is up) and ``/readyz`` (catalog and storage answer)."""

from __future__ import annotations

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from datoferum import __version__
from datoferum.errors import DatoferumError
from datoferum.interfaces.http.context import services_of


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    services = services_of(request)

    def check() -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            with services.catalog.reading() as conn:
                conn.execute(text("SELECT 1"))
            checks["catalog"] = "ok"
        except DatoferumError as error:
            checks["catalog"] = error.detail
        try:
            services.storage.check()
            checks["storage"] = "ok"
        except DatoferumError as error:
            checks["storage"] = error.detail
        return checks

    checks = await run_in_threadpool(check)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
