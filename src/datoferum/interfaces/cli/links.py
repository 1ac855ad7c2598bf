"""``datoferum link``: make, list and revoke pick-and-go links."""

from __future__ import annotations

import re
from typing import Any

import click

from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields, table

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d{1,9})([smhd])")


class Duration(click.ParamType[int]):
    """A number of seconds written as ``3600s``, ``90m``, ``24h`` or ``7d``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.fullmatch(str(value).strip().lower())
        if match is None:
            self.fail(f"{value!r} is not a duration such as 3600s, 90m, 24h or 7d", param, ctx)
        return int(match[1]) * _UNITS[match[2]]


@click.group()
def link() -> None:
    """Pick-and-go links: a download address that works N times, until it expires."""


@link.command(name="create")
@click.argument("file_id")
@click.option(
    "--picks", type=click.IntRange(1, 1000), default=1, show_default=True,
    help="Downloads the link allows.",
)  # fmt: skip
@click.option(
    "--expires", type=Duration(), default="7d", show_default=True,
    help="Lifetime: 3600s, 90m, 24h, 7d (60s to 90d).",
)  # fmt: skip
@click.option("--version", type=click.IntRange(min=1), help="Version to share (default: newest).")
@click.option(
    "--purge-after-last-pick", is_flag=True,
    help="Purge the version after the last download (admins; holds still protect it).",
)  # fmt: skip
@json_option
@pass_context
def link_create(
    ctx: CliContext,
    file_id: str,
    picks: int,
    expires: int,
    version: int | None,
    purge_after_last_pick: bool,
) -> None:
    """Make a link to FILE_ID and print its address (shown only this once)."""
    body: dict[str, Any] = {
        "max_picks": picks,
        "expires_in_seconds": expires,
        "purge_after_last_pick": purge_after_last_pick,
    }
    if version is not None:
        body["version"] = version
    created = ctx.call("POST", f"/api/v1/files/{file_id}/links", json=body)
    created["url"] = ctx.url.rstrip("/") + created["path"]
    if ctx.json:
        emit_json(created)
        return
    fields(
        [
            ("id", created["id"]),
            ("url", created["url"]),
            ("version", created["version"]),
            ("picks", created["max_picks"]),
            ("expires", created["expires_at"]),
            ("purge after last pick", "yes" if created["purge_after_last_pick"] else "no"),
        ]
    )
    click.echo("The address is shown only this once: anyone holding it can download.")


@link.command(name="list")
@click.argument("file_id")
@json_option
@pass_context
def link_list(ctx: CliContext, file_id: str) -> None:
    """List the links of FILE_ID (never their addresses)."""
    items = ctx.call("GET", f"/api/v1/files/{file_id}/links")["items"]
    if ctx.json:
        emit_json(items)
        return
    rows = [
        [
            item["id"], str(item["version"]), f"{item['picks']}/{item['max_picks']}",
            item["expires_at"], item["state"], "yes" if item["purge_after_last_pick"] else "no",
        ]
        for item in items
    ]  # fmt: skip
    table(rows, ["ID", "VERSION", "PICKS", "EXPIRES", "STATE", "PURGE"])


@link.command(name="revoke")
@click.argument("link_id")
@json_option
@pass_context
def link_revoke(ctx: CliContext, link_id: str) -> None:
    """Stop a link at once."""
    revoked = ctx.call("DELETE", f"/api/v1/links/{link_id}")
    ctx.show(revoked, f"revoked link {revoked['id']} at {revoked['revoked_at']}")
