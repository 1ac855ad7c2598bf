"""``datoferum token``, ``audit`` and ``whoami``."""

from __future__ import annotations

from typing import Any

import click

from datoferum.interfaces.cli.client import CliError
from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields, table

ROLES = click.Choice(["admin", "producer", "consumer", "auditor"])


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (admins)."""


@token.command(name="create")
@click.option("--name", required=True, help="Who or what will use the token.")
@click.option("--role", required=True, type=ROLES, help="What the token may do.")
@click.option(
    "--expires-in-days", type=click.FloatRange(min=0, min_open=True, max=3660), help="Lifetime."
)
@json_option
@pass_context
def token_create(ctx: CliContext, name: str, role: str, expires_in_days: float | None) -> None:
    """Create a token; its secret is printed once."""
    body: dict[str, Any] = {"name": name, "role": role}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    created = ctx.call("POST", "/api/v1/tokens", json=body)
    if ctx.json:
        emit_json(created)
        return
    fields(
        [
            ("id", created["id"]),
            ("name", created["name"]),
            ("role", created["role"]),
            ("token", created["token"]),
        ]
    )


@token.command(name="list")
@json_option
@pass_context
def token_list(ctx: CliContext) -> None:
    """List tokens (never their secrets)."""
    items = ctx.call("GET", "/api/v1/tokens")["items"]
    if ctx.json:
        emit_json(items)
        return
    rows = [
        [t["id"], t["name"], t["role"], t["created_at"], "revoked" if t["revoked_at"] else "active"]
        for t in items
    ]
    table(rows, ["ID", "NAME", "ROLE", "CREATED", "STATUS"])


@token.command(name="revoke")
@click.argument("token_id")
@json_option
@pass_context
def token_revoke(ctx: CliContext, token_id: str) -> None:
    """Revoke a token by id."""
    info = ctx.call("DELETE", f"/api/v1/tokens/{token_id}")
    ctx.show(info, f"revoked token {info['id']} ({info['name']}) at {info['revoked_at']}")


@click.group()
def audit() -> None:
    """Check the tamper-evident event log."""


@audit.command(name="verify")
@json_option
@pass_context
def audit_verify(ctx: CliContext) -> None:
    """Walk the whole event chain; exit 0 only if it is intact."""
    result = ctx.call("GET", "/api/v1/audit/verify")
    if ctx.json:
        emit_json(result)
    if result["ok"]:
        if not ctx.json:
            head = result["head"]
            click.echo(
                f"ok: {result['events']} events verified; "
                f"head is event {head['seq']} ({head['hash']})"
            )
        return
    broken = result["first_break"]
    raise CliError(
        f"the event chain is broken at event {broken['seq']}: {broken['problem']}", exit_code=2
    )


@click.command()
@json_option
@pass_context
def whoami(ctx: CliContext) -> None:
    """Show who the token belongs to."""
    me = ctx.call("GET", "/api/v1/whoami")
    ctx.show(me, f"{me['name']} ({me['role']}) {me['subject']}")
