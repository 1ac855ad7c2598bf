"""The ASGI application: routes, error handlers, and the services' lifetime."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.config import Settings
from datoferum.errors import DatoferumError
from datoferum.interfaces.http import openapi, problems, uploads, webui
from datoferum.interfaces.http.context import RequestIdMiddleware
from datoferum.interfaces.http.routes import audit, data, files, health, tokens
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.process import settle_heap
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate

log = logging.getLogger(__name__)


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi.document())


ROUTES = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/openapi.json", _openapi, methods=["GET"]),
    # Uploads (PUT) are taken by the upload lane before routing (see create_app).
    route(
        "/api/v1/data/{collection}/{path:anything}",
        PUT=uploads.put_file,
        GET=data.get_file,
        HEAD=data.get_file,
    ),
    Route("/api/v1/data/{collection}", uploads.put_file, methods=["PUT"]),
    Route("/api/v1/files", files.list_files, methods=["GET"]),
    Route("/api/v1/files/{file_id}", files.get_file, methods=["GET"]),
    Route("/api/v1/files/{file_id}/events", audit.file_events, methods=["GET"]),
    Route("/api/v1/events", audit.events, methods=["GET"]),
    Route("/api/v1/audit/verify", audit.verify, methods=["GET"]),
    route("/api/v1/tokens", GET=tokens.list_tokens, POST=tokens.create_token),
    Route("/api/v1/tokens/{token_id}", tokens.revoke_token, methods=["DELETE"]),
    Route("/api/v1/whoami", tokens.whoami, methods=["GET"]),
    *(resource for module in openapi.RESOURCE_MODULES for resource in module.ROUTES),
]


def create_app(settings: Settings | None = None) -> uploads.UploadLane:
    """Build the application; services start with it and stop with it."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings)
        await run_in_threadpool(migrate.upgrade, services.catalog)
        app.state.services = services
        missing = webui.describe(settings.web_directory)
        if missing:
            log.info(missing)
        settle_heap()
        background = services.background(settings.job_threads)
        background.start()
        try:
            yield
        finally:
            await run_in_threadpool(background.stop)
            await run_in_threadpool(app.state.uploads.close)
            services.close()

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            DatoferumError: problems.handle_product_error,
            HTTPException: problems.handle_http_exception,
            Exception: problems.handle_unexpected,
        },
        lifespan=lifespan,
    )
    # Only what no route matches reaches the web UI, so it never shadows the API.
    provider = None
    if settings.oidc_issuer is not None:
        provider = {"issuer": settings.oidc_issuer, "clientId": settings.oidc_client_id}
    app.router.default = webui.WebUI(settings.web_directory, provider)
    app.state.uploads = uploads.Uploads(lambda: cast(Services, app.state.services))
    return uploads.UploadLane(app, app.state.uploads)
