"""Pick-and-go links: ``/api/v1/files/{file_id}/links`` and ``/api/v1/links/{link_id}`` manage
them, ``/api/v1/links`` lists them across files; ``/l/{secret}`` serves the file to whoever
holds the address, without a token."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.records import FileRecord
from datoferum.domain.roles import Permission
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import request_id, services_of
from datoferum.interfaces.http.params import json_object
from datoferum.interfaces.http.routes.data import serve_download
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.http.security import authorize, authorize_any
from datoferum.interfaces.http.windows import window_of, window_response
from datoferum.services.links import (
    DEFAULT_EXPIRY_SECONDS,
    LIST_FILTERS,
    MAX_EXPIRY_SECONDS,
    MAX_PICKS,
    MIN_EXPIRY_SECONDS,
    PATH_PREFIX,
    SORTS,
    LinkTerms,
)
from datoferum.services.listing import Window


async def create_link(request: Request) -> Response:
    actor = await authorize(request, Permission.SHARE)
    terms = LinkTerms.parse(await json_object(request))
    links = services_of(request).links
    link, secret = await run_in_threadpool(
        links.create, actor, request.path_params["file_id"], terms, request_id(request)
    )
    body = {**link.as_dict(), "path": PATH_PREFIX + secret}
    # The answer holds the only copy of the secret: no cache may keep it.
    return JSONResponse(body, status_code=201, headers={"Cache-Control": "no-store"})


async def list_links(request: Request) -> Response:
    await authorize_any(
        request, (Permission.READ_LIFECYCLE, Permission.SHARE), "list a file's download links"
    )
    found = await run_in_threadpool(
        services_of(request).links.for_file, request.path_params["file_id"]
    )
    return JSONResponse({"items": [link.as_dict() for link in found]})


async def all_links(request: Request) -> Response:
    await authorize_any(
        request, (Permission.READ_LIFECYCLE, Permission.SHARE), "list download links"
    )
    window = window_of(
        request, sortable=tuple(SORTS), filterable=LIST_FILTERS, default_sort=("created_at", True)
    ) or Window("created_at", True, 0, 24, {})
    found = await run_in_threadpool(services_of(request).links.listing, window)
    return window_response("links", window, found, lambda item: item)


async def revoke_link(request: Request) -> Response:
    actor = await authorize(request, Permission.SHARE)
    links = services_of(request).links
    link = await run_in_threadpool(
        links.revoke, actor, request.path_params["link_id"], request_id(request)
    )
    return JSONResponse(link.as_dict())


async def pick(request: Request) -> Response:
    """The secret in the path is the credential: any ``Authorization`` header is ignored."""
    services = services_of(request)
    links, secret = services.links, request.path_params["secret"]
    correlation_id = request_id(request)

    def record_pick(record: FileRecord, byte_range: tuple[int, int] | None) -> None:
        links.pick(secret, record, byte_range, correlation_id)

    return await serve_download(
        request, services.access, lambda: links.open(secret), record_pick, metadata=False
    )


ROUTES = [
    route("/api/v1/files/{file_id}/links", GET=list_links, POST=create_link),
    Route("/api/v1/links", all_links, methods=["GET"]),
    Route("/api/v1/links/{link_id}", revoke_link, methods=["DELETE"]),
    route("/l/{secret}", GET=pick, HEAD=pick),
]

_LINK = apidoc.json_body(apidoc.OBJECT, "The link (never its secret)")
_FILE = [apidoc.path("file_id", "File id.")]
_SECRET = [apidoc.path("secret", "The secret part of the address the link's creator was given.")]
_PICK_NOTE = (
    "No token: the secret in the address is the credential. Serves the linked version like "
    "`GET /api/v1/data/...` (ETag, Range, conditional requests, Content-Digest), without the "
    "X-Meta-* headers. Every GET that sends bytes is a pick, a Range request included, and is "
    "recorded as a `file.picked` event; HEAD and 304 answers are not picks. A link that is used "
    "up, expired or revoked, or whose version was purged, answers 410."
)
_DOWNLOAD = {"description": "The file", "content": {"*/*": {}}}
_GONE = {"404": apidoc.PROBLEM, "410": apidoc.PROBLEM}
PATHS = {
    "/api/v1/files/{file_id}/links": {
        "get": apidoc.operation(
            "The file's pick-and-go links, with their state and picks (no secrets)",
            {"200": apidoc.json_body(apidoc.OBJECT, "Links")},
            parameters=_FILE,
        ),
        "post": apidoc.operation(
            "Make a pick-and-go link; its address (`path`) is shown only in this answer",
            {"201": _LINK, "409": apidoc.PROBLEM},
            parameters=_FILE,
            body=apidoc.json_request(
                {
                    "type": "object",
                    "properties": {
                        "version": {"type": "integer", "description": "Default: the newest."},
                        "max_picks": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PICKS,
                            "default": 1,
                        },
                        "expires_in_seconds": {
                            "type": "integer",
                            "minimum": MIN_EXPIRY_SECONDS,
                            "maximum": MAX_EXPIRY_SECONDS,
                            "default": DEFAULT_EXPIRY_SECONDS,
                        },
                        "purge_after_last_pick": {
                            "type": "boolean",
                            "default": False,
                            "description": "Purge the version after the last pick (admins only; "
                            "holds and retention still apply).",
                        },
                    },
                }
            ),
        ),
    },
    "/api/v1/links": {
        "get": apidoc.operation(
            "Pick-and-go links of every file, newest first, with their file's collection and "
            "path (no secrets); a window of 25 unless asked otherwise",
            {"200": apidoc.json_body(apidoc.OBJECT, "Links")},
            parameters=apidoc.window(
                ", ".join(SORTS),
                "state (active, used, expired, revoked, purged, unavailable), file_id, "
                "created_by, q (text in the path)",
            ),
        )
    },
    "/api/v1/links/{link_id}": {
        "delete": apidoc.operation(
            "Revoke a link at once",
            {"200": _LINK},
            parameters=[apidoc.path("link_id", "Link id.")],
        )
    },
    "/l/{secret}": {
        "get": {
            **apidoc.operation(
                "Download through a pick-and-go link (counts a pick)",
                {
                    "200": _DOWNLOAD,
                    "206": {"description": "The requested byte range", "content": {"*/*": {}}},
                    "304": {"description": "Not modified"},
                    "416": apidoc.PROBLEM,
                    **_GONE,
                },
                parameters=_SECRET,
                public=True,
            ),
            "description": _PICK_NOTE,
        },
        "head": apidoc.operation(
            "Headers of a link download (not a pick)",
            {"200": {"description": "Headers"}, **_GONE},
            parameters=_SECRET,
            public=True,
        ),
    },
}
