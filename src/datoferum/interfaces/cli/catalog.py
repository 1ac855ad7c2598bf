"""``datoferum ls``, ``info`` and ``events``: what the catalog knows."""

from __future__ import annotations

from typing import Any

import click

from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields, human_size, table


@click.command(name="ls")
@click.argument("collection", required=False)
@click.option("--prefix", help="Only paths starting with this.")
@click.option("--state", help="Only files in this state.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="Page size."
)
@click.option("--all", "every", is_flag=True, help="Follow every page, not just the first.")
@json_option
@pass_context
def list_files(
    ctx: CliContext,
    collection: str | None,
    prefix: str | None,
    state: str | None,
    limit: int,
    every: bool,
) -> None:
    """List files, oldest capture first."""
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("collection", collection), ("prefix", prefix), ("state", state)):
        if value:
            params[name] = value
    client = ctx.client()
    items: list[dict[str, Any]] = []
    try:
        while True:
            page = client.call("GET", "/api/v1/files", params=params)
            items.extend(page["items"])
            if not every or not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
    finally:
        client.close()
    if ctx.json:
        emit_json(items)
        return
    rows = [
        [
            f["id"],
            f"{f['collection']}/{f['path']}",
            str(f["version"]),
            f["state"],
            human_size(f["size"]),
            f["updated_at"],
        ]
        for f in items
    ]
    table(rows, ["ID", "LOCATION", "VER", "STATE", "SIZE", "UPDATED"])


@click.command()
@click.argument("file_id")
@json_option
@pass_context
def info(ctx: CliContext, file_id: str) -> None:
    """Show a file's record and its versions."""
    record = ctx.call("GET", f"/api/v1/files/{file_id}")
    if ctx.json:
        emit_json(record)
        return
    fields(
        [
            ("id", record["id"]),
            ("location", f"{record['collection']}/{record['path']}"),
            ("state", record["state"]),
            ("latest version", record["latest_version"]),
            ("size", f"{human_size(record['size'])} ({record['size']} bytes)"),
            ("sha256", record["sha256"]),
            ("created", record["created_at"]),
            ("updated", record["updated_at"]),
        ]
    )
    for version in record.get("versions", []):
        click.echo(
            f"  v{version['version']}  {version['state']}  {human_size(version['size'])}  "
            f"{version['sha256'][:16]}…  {version['created_at']}  by {version['created_by']}"
        )


@click.command()
@click.argument("file_id")
@json_option
@pass_context
def events(ctx: CliContext, file_id: str) -> None:
    """Show a file's lifecycle timeline, oldest first."""
    client = ctx.client()
    items: list[dict[str, Any]] = []
    after = 0
    try:
        while True:
            page = client.call("GET", f"/api/v1/files/{file_id}/events", params={"after": after})
            items.extend(page["items"])
            if page["next_after"] is None:
                break
            after = page["next_after"]
    finally:
        client.close()
    if ctx.json:
        emit_json(items)
        return
    rows = [
        [
            str(e["seq"]),
            e["time"],
            e["type"],
            "" if e["version"] is None else str(e["version"]),
            e["actor"],
        ]
        for e in items
    ]
    table(rows, ["SEQ", "TIME", "EVENT", "VER", "ACTOR"])
