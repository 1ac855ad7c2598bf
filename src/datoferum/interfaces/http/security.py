"""Bearer-token authentication and role checks for HTTP requests."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from datoferum.domain.roles import GRANTS, Permission, Principal
from datoferum.errors import Forbidden, Unauthenticated
from datoferum.interfaces.http.context import services_of

_ACTIONS = {
    Permission.WRITE_DATA: "upload files",
    Permission.READ_DATA: "download file contents",
    Permission.READ_CATALOG: "read the catalog",
    Permission.READ_EVENTS: "read lifecycle events",
    Permission.VERIFY_AUDIT: "verify the audit chain",
    Permission.MANAGE_TOKENS: "manage tokens",
    Permission.READ_JOBS: "read jobs",
    Permission.MANAGE_JOBS: "manage jobs",
    Permission.READ_LIFECYCLE: "read policies, holds and certificates",
    Permission.MANAGE_LIFECYCLE: "manage policies, holds, purges and erasure",
    Permission.SEND_SIGNALS: "send signals",
    Permission.SHARE: "create download links",
    Permission.MANAGE_WEBHOOKS: "manage webhooks",
}


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated(
            "this endpoint needs a token: send the header 'Authorization: Bearer <token>'"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must have the form 'Bearer <token>'")
    return token


async def authorize(request: Request, permission: Permission) -> Principal:
    """The caller, if their token is valid and their role grants ``permission``."""
    tokens = services_of(request).tokens
    token = bearer_token(request)
    principal = tokens.cached(token)
    if principal is None:
        principal = await run_in_threadpool(tokens.authenticate, token)
    if not principal.can(permission):
        allowed = ", ".join(role.value for role, grants in GRANTS.items() if permission in grants)
        raise Forbidden(
            f"the {principal.role.value} role may not {_ACTIONS[permission]} "
            f"(roles that may: {allowed})"
        )
    return principal
