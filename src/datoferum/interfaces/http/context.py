"""Access to the per-application services from a request, and request identifiers."""

from __future__ import annotations

import re
import uuid
from typing import cast

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datoferum.services.wiring import Services

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)


def request_id(request: Request) -> str:
    return cast(str, request.scope.get("state", {}).get("request_id", ""))


def assign_request_id(scope: Scope) -> str:
    """Give the request its id (the client's ``X-Request-Id`` if sane) and return it."""
    given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
    rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    scope.setdefault("state", {})["request_id"] = rid
    return rid


def echoing_id(send: Send, rid: str) -> Send:
    """``send``, adding the ``X-Request-Id`` header to the answer."""
    header = (b"x-request-id", rid.encode())

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), header]
        await send(message)

    return send_with_id


class RequestIdMiddleware:
    """Gives each request an id (the client's ``X-Request-Id`` if sane), echoed in the answer
    and recorded as the correlation id of the events the request causes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, echoing_id(send, assign_request_id(scope)))
