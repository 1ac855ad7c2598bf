"""Routing helpers shared by the route modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


class _Anything(PathConvertor):
    """Like ``path`` but also matching line breaks, so a path holding one reaches the name
    checks (and gets a 400 naming the problem) instead of falling through to a 404."""

    regex = "(?s:.*)"


register_url_convertor("anything", _Anything())


def route(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists every method the resource has."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return Route(path, dispatch, methods=list(handlers))
