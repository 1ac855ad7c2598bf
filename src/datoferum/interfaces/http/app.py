"""The ASGI application: routes, error handlers, and the services' lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.config import Settings
from datoferum.errors import DatoferumError
from datoferum.interfaces.http import openapi, problems
from datoferum.interfaces.http.context import RequestIdMiddleware
from datoferum.interfaces.http.routes import audit, data, files, health, tokens
from datoferum.services.wiring import Services, build_services
from datoferum.spine.catalog import migrate

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


async def _openapi(request: Request) -> Response:
    return JSONResponse(openapi.document())


async def _sweep_forever(services: Services, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(services.sweep)
        except Exception:  # a failed sweep must not stop the next one
            log.exception("periodic sweep failed")


class _Anything(PathConvertor):
    """Like ``path`` but also matching line breaks, so a path holding one reaches the name
    checks (and gets a 400 naming the problem) instead of falling through to a 404."""

    regex = "(?s:.*)"


register_url_convertor("anything", _Anything())


def _route(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists every method the resource has."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return Route(path, dispatch, methods=list(handlers))


ROUTES = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/openapi.json", _openapi, methods=["GET"]),
    _route(
        "/api/v1/data/{collection}/{path:anything}",
        PUT=data.put_file,
        GET=data.get_file,
        HEAD=data.get_file,
    ),
    Route("/api/v1/data/{collection}", data.put_file, methods=["PUT"]),
    Route("/api/v1/files", files.list_files, methods=["GET"]),
    Route("/api/v1/files/{file_id}", files.get_file, methods=["GET"]),
    Route("/api/v1/files/{file_id}/events", audit.file_events, methods=["GET"]),
    Route("/api/v1/events", audit.events, methods=["GET"]),
    Route("/api/v1/audit/verify", audit.verify, methods=["GET"]),
    _route("/api/v1/tokens", GET=tokens.list_tokens, POST=tokens.create_token),
    Route("/api/v1/tokens/{token_id}", tokens.revoke_token, methods=["DELETE"]),
    Route("/api/v1/whoami", tokens.whoami, methods=["GET"]),
]


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the application; services start with it and stop with it."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings)
        await run_in_threadpool(migrate.upgrade, services.catalog)
        app.state.services = services
        sweeper = None
        if settings.sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(_sweep_forever(services, settings.sweep_interval_seconds))
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            services.close()

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            DatoferumError: problems.handle_product_error,
            HTTPException: problems.handle_http_exception,
            Exception: problems.handle_unexpected,
        },
        lifespan=lifespan,
    )
