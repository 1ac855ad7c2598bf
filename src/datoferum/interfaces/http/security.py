"""Bearer-token authentication and role checks for HTTP requests."""

from __future__ import annotations

from collections.abc import Sequence

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
    Permission.SHARE: "create or revoke download links",
    Permission.MANAGE_WEBHOOKS: "manage webhooks",
    Permission.MANAGE_STORAGE: "run scrubs and storage reports",
    Permission.QUERY_LAKE: "query the lake",
    Permission.MANAGE_LAKE: "normalize files into the lake",
}


def bearer_token(header: str | None) -> str:
    """The secret of an ``Authorization: Bearer <token>`` header."""
    if not header:
        raise Unauthenticated(
            "this endpoint needs a token: send the header 'Authorization: Bearer <token>'"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must have the form 'Bearer <token>'")
    return token


async def _authenticate(request: Request) -> Principal:
    tokens = services_of(request).tokens
    token = bearer_token(request.headers.get("authorization"))
    principal = tokens.cached(token)
    if principal is None:
        principal = await run_in_threadpool(tokens.authenticate, token)
    return principal


async def authorize(request: Request, permission: Permission) -> Principal:
    """The caller, if their token is valid and their role grants ``permission``."""
    return await authorize_any(request, (permission,), _ACTIONS[permission])


async def authorize_any(
    request: Request, permissions: Sequence[Permission], action: str
) -> Principal:
    """The caller, if their token is valid and their role grants any of ``permissions``: for
    reads that several duties need (e.g. links are listed by sharers and by auditors).
    ``action`` completes the refusal "the <role> role may not ..."."""
    principal = await _authenticate(request)
    check_role(principal, permissions, action)
    return principal


def check_role(principal: Principal, permissions: Sequence[Permission], action: str) -> None:
    """Raise Forbidden unless the principal's role grants any of ``permissions``."""
    if not any(principal.can(permission) for permission in permissions):
        allowed = ", ".join(
            role.value for role, grants in GRANTS.items() if grants.intersection(permissions)
        )
        raise Forbidden(
            f"the {principal.role.value} role may not {action} (roles that may: {allowed})"
        )


def check_permission(principal: Principal, permission: Permission) -> None:
    check_role(principal, (permission,), _ACTIONS[permission])
