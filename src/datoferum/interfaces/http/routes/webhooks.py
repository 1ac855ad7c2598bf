"""``/api/v1/webhooks``: subscriptions, their deliveries and dead letters (admins)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datoferum.domain.roles import Permission
from datoferum.interfaces.http import apidoc
from datoferum.interfaces.http.context import services_of
from datoferum.interfaces.http.params import int_param, json_object
from datoferum.interfaces.http.routing import route
from datoferum.interfaces.http.security import authorize
from datoferum.interfaces.http.windows import records_response, window_of


async def create_webhook(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_WEBHOOKS)
    body = await json_object(request)
    webhooks = services_of(request).webhooks

    def run() -> dict[str, Any]:
        subscription, secret = webhooks.create(
            actor, url=body.get("url"), event_types=body.get("event_types"),
            collection=body.get("collection"), secret=body.get("secret"),
        )  # fmt: skip
        return {**subscription.as_dict(), "secret": secret}

    return JSONResponse(await run_in_threadpool(run), status_code=201)


async def list_webhooks(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_WEBHOOKS)
    window = window_of(
        request,
        sortable=("id", "url", "created_at", "collection", "active"),
        filterable=("active", "collection", "q"),
        default_sort=("created_at", True),
    )
    found = await run_in_threadpool(services_of(request).webhooks.list_subscriptions)
    if window is not None:
        return records_response("webhooks", window, [item.as_dict() for item in found])
    return JSONResponse({"items": [subscription.as_dict() for subscription in found]})


async def get_webhook(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_WEBHOOKS)
    webhooks = services_of(request).webhooks
    found = await run_in_threadpool(webhooks.get, request.path_params["webhook_id"])
    return JSONResponse(found.as_dict())


async def delete_webhook(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_WEBHOOKS)
    webhooks = services_of(request).webhooks
    gone = await run_in_threadpool(webhooks.delete, actor, request.path_params["webhook_id"])
    return JSONResponse(gone.as_dict())


async def list_deliveries(request: Request) -> Response:
    await authorize(request, Permission.MANAGE_WEBHOOKS)
    webhooks = services_of(request).webhooks
    state = request.query_params.get("state")
    limit = int_param(request, "limit", 100, low=1, high=1000)

    def run() -> list[dict[str, Any]]:
        found = webhooks.deliveries(request.path_params["webhook_id"], state=state, limit=limit)
        return [delivery.as_dict() for delivery in found]

    return JSONResponse({"items": await run_in_threadpool(run)})


async def retry_delivery(request: Request) -> Response:
    actor = await authorize(request, Permission.MANAGE_WEBHOOKS)
    webhooks = services_of(request).webhooks
    again = await run_in_threadpool(webhooks.retry, actor, request.path_params["delivery_id"])
    return JSONResponse(again.as_dict(), status_code=202)


ROUTES = [
    route("/api/v1/webhooks", GET=list_webhooks, POST=create_webhook),
    route("/api/v1/webhooks/{webhook_id}", GET=get_webhook, DELETE=delete_webhook),
    Route("/api/v1/webhooks/{webhook_id}/deliveries", list_deliveries, methods=["GET"]),
    Route("/api/v1/webhooks/deliveries/{delivery_id}/retry", retry_delivery, methods=["POST"]),
]

_WEBHOOK_ID = [apidoc.path("webhook_id", "Webhook (subscription) id.")]
_SUBSCRIPTION_PROPS: dict[str, Any] = {
    "id": {"type": "string"},
    "url": {"type": "string"},
    "event_types": {"type": "array", "items": {"type": "string"}},
    "collection": {"type": ["string", "null"]},
    "active": {"type": "boolean"},
    "secret_hint": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "created_by": {"type": "string"},
}
_SUBSCRIPTION = {"type": "object", "properties": _SUBSCRIPTION_PROPS}
_CREATED = {
    "type": "object",
    "properties": {**_SUBSCRIPTION_PROPS, "secret": {"type": "string"}},
}
_DELIVERY = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "Also the webhook-id header of every attempt."},
        "webhook_id": {"type": "string"},
        "event_seq": {"type": "integer"},
        "event_type": {"type": "string"},
        "state": {"enum": ["pending", "sending", "delivered", "dead"]},
        "attempts": {"type": "integer"},
        "next_attempt_at": {"type": ["string", "null"]},
        "last_status": {"type": ["integer", "null"]},
        "last_error": {"type": ["string", "null"]},
        "delivered_at": {"type": ["string", "null"]},
    },
}
_NEW_WEBHOOK = {
    "type": "object",
    "required": ["url", "event_types"],
    "properties": {
        "url": {"type": "string", "description": "http:// or https:// target."},
        "event_types": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Event types ('file.purged'), prefixes ('file.*') or '*' for all.",
        },
        "collection": {"type": ["string", "null"], "description": "Only this collection."},
        "secret": {"type": "string", "description": "whsec_<base64>; generated if left out."},
    },
}


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": schema}}}


PATHS = {
    "/api/v1/webhooks": {
        "get": apidoc.operation(
            "Webhook subscriptions (secrets appear only as a hint)",
            {"200": apidoc.json_body(_items(_SUBSCRIPTION), "Subscriptions")},
            parameters=apidoc.window(
                "id, url, created_at, collection, active", "active, collection, q"
            ),
        ),
        "post": apidoc.operation(
            "Subscribe a URL to lifecycle events; the signing secret is shown once",
            {"201": apidoc.json_body(_CREATED, "Created, with its secret")},
            body=apidoc.json_request(_NEW_WEBHOOK),
        ),
    },
    "/api/v1/webhooks/{webhook_id}": {
        "get": apidoc.operation(
            "A webhook subscription",
            {"200": apidoc.json_body(_SUBSCRIPTION, "Subscription")},
            parameters=_WEBHOOK_ID,
        ),
        "delete": apidoc.operation(
            "Delete a webhook subscription and its deliveries",
            {"200": apidoc.json_body(_SUBSCRIPTION, "Deleted")},
            parameters=_WEBHOOK_ID,
        ),
    },
    "/api/v1/webhooks/{webhook_id}/deliveries": {
        "get": apidoc.operation(
            "A subscription's deliveries, newest event first (state=dead: dead letters)",
            {"200": apidoc.json_body(_items(_DELIVERY), "Deliveries")},
            parameters=[
                *_WEBHOOK_ID,
                apidoc.query("state", "pending, sending, delivered or dead."),
                apidoc.query("limit", "Page size (1-1000, default 100).", {"type": "integer"}),
            ],
        )
    },
    "/api/v1/webhooks/deliveries/{delivery_id}/retry": {
        "post": apidoc.operation(
            "Send a dead delivery again now, with a fresh round of attempts",
            {"202": apidoc.json_body(_DELIVERY, "Delivery, pending")},
            parameters=[apidoc.path("delivery_id", "Delivery id.")],
        )
    },
}
