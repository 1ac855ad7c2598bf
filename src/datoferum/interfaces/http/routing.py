"""Routing helpers shared by the route modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from datoferum.errors import InvalidName

Endpoint = Callable[[Request], Awaitable[Response]]


class _Anything(PathConvertor):
    """Like ``path`` but also matching line breaks, so a path holding one reaches the name
    checks (and gets a 400 naming the problem) instead of falling through to a 404."""

    regex = "(?s:.*)"


register_url_convertor("anything", _Anything())


def file_location(scope: Scope, collection: str, path: str) -> tuple[str, str]:
    """The collection and file path a ``/api/v1/data/...`` URL names, refused with a reason
    when the URL is not UTF-8 or names no file."""
    raw = scope.get("raw_path")
    if raw is not None:
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidName(
                "the URL path is not valid UTF-8 once percent-decoded: encode names as UTF-8"
            ) from None
    if not path:
        raise InvalidName(
            f"give a file path after the collection: /api/v1/data/{collection}/<path>"
        )
    return collection, path


def route(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists every method the resource has."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return Route(path, dispatch, methods=list(handlers))
