"""``/api/v1/events/stream``: new events as Server-Sent Events, for screens that stay open.

A dashboard that polls every listing would ask the catalog the same questions over and over;
this stream asks one cheap one instead (events after the last sequence number sent, on the
primary key) once a second, and pushes what is new. A client that reconnects sends the last id
it saw (``Last-Event-ID``, which browsers send by themselves, or ``after``) and misses nothing.
Idle streams get a comment every ``HEARTBEAT_SECONDS`` so proxies do not close them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.errors import InvalidInput
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import is_decimal
from datoferum.interfaces.http.security import authorize

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
BATCH = 500


def _start(request: Request) -> int | None:
    """Where to resume: ``Last-Event-ID`` or ``after``; ``None`` means from now on."""
    value = request.headers.get("last-event-id") or request.query_params.get("after")
    if value is None:
        return None
    if not is_decimal(value):
        raise InvalidInput(f"after (or Last-Event-ID) must be an event's seq number, got {value!r}")
    return int(value)


async def stream(request: Request) -> Response:
    await authorize(request, Permission.READ_EVENTS)
    audit = services_of(request).audit
    type_prefix = request.query_params.get("type")
    after = _start(request)
    if after is None:
        after = await run_in_threadpool(audit.head_seq)

    async def frames(after: int) -> AsyncIterator[bytes]:
        yield b"retry: 3000\n\n"
        quiet = 0.0
        # Starlette's streaming response listens for the client leaving and stops this loop.
        # Polling ``request.is_disconnected()`` besides would cancel a pending receive, which
        # granian takes for the end of the connection.
        while True:
            found = await run_in_threadpool(
                audit.events, after_seq=after, limit=BATCH, type_prefix=type_prefix
            )
            for event in found:
                data = json.dumps(event.as_dict(), separators=(",", ":"))
                yield f"id: {event.seq}\nevent: lifecycle\ndata: {data}\n\n".encode()
                after = event.seq
            if found:
                quiet = 0.0
                if len(found) == BATCH:
                    continue
            else:
                quiet += POLL_SECONDS
                if quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield b": still here\n\n"
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        frames(after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


ROUTES = [Route("/api/v1/events/stream", stream, methods=["GET"])]

PATHS = {
    "/api/v1/events/stream": {
        "get": apidoc.operation(
            "New events as they are appended (Server-Sent Events, `event: lifecycle`, `id` = seq)",
            {
                "200": {
                    "description": "An endless text/event-stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
            },
            parameters=[
                apidoc.query("after", "Resume after this seq (or Last-Event-ID); default: now."),
                apidoc.query("type", "Only types starting with this, e.g. 'file.'."),
            ],
        )
    }
}
