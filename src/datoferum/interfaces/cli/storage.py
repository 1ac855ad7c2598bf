"""``datoferum storage``: the storage layout, scrubs and dark-data reports."""

from __future__ import annotations

from typing import Any

import click

from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, table


@click.group()
def storage() -> None:
    """Show the storage layout; scrub copies; report dark data."""


@storage.command(name="show")
@json_option
@pass_context
def show(ctx: CliContext) -> None:
    """The backends (credentials never shown) and storage policies."""
    layout: dict[str, Any] = ctx.call("GET", "/api/v1/storage")
    if ctx.json:
        emit_json(layout)
        return
    rows = [
        [
            b["name"],
            b["type"],
            ", ".join(f"{k}={v}" for k, v in b.items() if k not in ("name", "type")),
        ]
        for b in layout["backends"]
    ]
    table(rows, ["BACKEND", "TYPE", "OPTIONS"])
    click.echo()
    marks = {layout["default"]: " (default)"}
    table(
        [
            [p["name"] + marks.get(p["name"], ""), ", ".join(p["copies"])]
            for p in layout["policies"]
        ],
        ["POLICY", "COPIES"],
    )


@storage.command(name="scrub")
@click.option("--wait", is_flag=True, help="Wait for the scrub to end and print its counts.")
@json_option
@pass_context
def scrub(ctx: CliContext, wait: bool) -> None:
    """Re-read every copy now, check it and repair bad ones (as a job)."""
    job = ctx.call("POST", "/api/v1/storage/scrub")
    ctx.report_job(ctx.wait_for_job(job["id"]) if wait else job)


@storage.command(name="report")
@click.option("--backend", help="Report on this backend only (default: every backend).")
@click.option("--wait", is_flag=True, help="Wait for the report and print it.")
@json_option
@pass_context
def report(ctx: CliContext, backend: str | None, wait: bool) -> None:
    """Dark data: objects the catalog does not know, and catalogued copies that are missing."""
    job = ctx.call("POST", "/api/v1/storage/report", json={"backend": backend} if backend else {})
    if not wait:
        ctx.report_job(job)
        return
    done = ctx.wait_for_job(job["id"])
    if ctx.json or done["state"] != "succeeded":
        ctx.report_job(done)
        return
    for found in done["result"]["reports"]:
        unknown, missing = found["unknown_objects"], found["missing_copies"]
        click.echo(
            f"{found['backend']}: {unknown['count']} unknown object(s), "
            f"{missing['count']} missing copy(ies)"
        )
        for key in unknown["keys"]:
            click.echo(f"  unknown  {key}")
        for item in missing["items"]:
            click.echo(f"  missing  {item['key']} (file {item['file_id']} v{item['version']})")
