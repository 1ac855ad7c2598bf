"""The web UI's built files, served at ``/`` for every path no API route claims.

The UI is a single-page application: the browser asks for ``/files/0195…/show`` and must get
``index.html``, whose script then draws that page. So a GET that matches no route is answered
with the file of that name in the web root when there is one, and with ``index.html`` otherwise.
It is installed as the router's fallback rather than as a catch-all route, so it can never
shadow an API route, and a wrong method on a real route still gets its 405.

What it never answers: paths under ``/api/`` and ``/l/``, the health and OpenAPI documents, and
any method but GET and HEAD; those keep the usual problem+json 404. Everything it serves is
public: ``index.html`` is the login page, and the assets hold no data (the API behind them
checks every call).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from datoferum.errors import NotFound

log = logging.getLogger(__name__)

#: Paths that belong to the API even when no route matches them.
RESERVED = ("api/", "l/")
RESERVED_EXACT = frozenset({"api", "l", "healthz", "readyz", "openapi.json"})

#: Vite names every asset after a hash of its content, so a browser may keep it for good.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The page itself is asked for again each time so a new build is picked up at once.
SECURITY_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Styles are injected at run time by the component library; scripts only from files.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}


class WebUI:
    """The router's fallback: files under ``root``, else its ``index.html``, else a 404.

    With an OpenID Connect provider (``issuer``, ``client_id``), the page carries them in a
    ``<meta name="datoferum-oidc">`` tag, which is how the app learns where to send people to
    sign in, and its content security policy lets the page reach the provider's token endpoint.
    """

    def __init__(self, root: Path, provider: Mapping[str, str] | None = None) -> None:
        self.root = root.resolve()
        self.index = self.root / "index.html"
        self.provider = dict(provider) if provider else None
        self.headers = dict(SECURITY_HEADERS)
        if self.provider is not None:
            origin = _origin(self.provider["issuer"])
            self.headers["Content-Security-Policy"] = self.headers[
                "Content-Security-Policy"
            ].replace("connect-src 'self'", f"connect-src 'self' {origin}")

    def _page(self) -> Response:
        if self.provider is None:
            return FileResponse(self.index, headers=self.headers)
        tag = f'<meta name="datoferum-oidc" content="{html.escape(json.dumps(self.provider))}">'
        page = self.index.read_text(encoding="utf-8").replace("</head>", tag + "</head>", 1)
        return HTMLResponse(page, headers=self.headers)

    @property
    def built(self) -> bool:
        return self.index.is_file()

    def _file(self, path: str) -> Path | None:
        """The file named by ``path`` inside the root, refusing anything that leaves it."""
        if not path:
            return None
        candidate = (self.root / path).resolve()
        if candidate.is_relative_to(self.root) and candidate.is_file():
            return candidate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path.lstrip("/")
        if (
            request.method not in ("GET", "HEAD")
            or path in RESERVED_EXACT
            or path.startswith(RESERVED)
        ):
            raise HTTPException(status_code=404)
        if not self.built:
            raise NotFound(
                "the web UI is not built on this server: run `make web` in the checkout "
                "(needs Node.js 20 and npm), or point DATOFERUM_WEB_ROOT at a built copy; "
                "the API under /api/v1 works without it"
            )
        found = self._file(path)
        response: Response
        if found is not None and found != self.index:
            headers = {"X-Content-Type-Options": "nosniff"}
            if path.startswith("assets/"):
                headers["Cache-Control"] = IMMUTABLE
            response = FileResponse(found, headers=headers)
        elif "." in path.rsplit("/", 1)[-1]:
            # A missing file (``/favicon.png``, an old asset) is a 404, not the page: a
            # browser would otherwise try to run HTML as a script.
            raise HTTPException(status_code=404)
        else:
            response = self._page()
        await response(scope, receive, send)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def describe(root: Path) -> str | None:
    """One line for the server log when the UI is missing; ``None`` when it is there."""
    if (root / "index.html").is_file():
        return None
    return (
        f"web UI not built ({root} has no index.html): the API works; run `make web` "
        "(needs Node.js 20 and npm) to build it"
    )
