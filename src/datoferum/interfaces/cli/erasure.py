"""``datoferum erasure``: preview, execute and follow a data subject's erasure request."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from datoferum.interfaces.cli.client import CliError
from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields

FINISHED = ("succeeded", "failed", "cancelled")


@click.group()
def erasure() -> None:
    """Erase every file version that names a data subject (LGPD/GDPR right to erasure)."""


def _value(value: str) -> str:
    """``-`` reads the value from stdin, keeping it out of shell history and process lists."""
    if value != "-":
        return value
    read = sys.stdin.readline().rstrip("\r\n")
    if not read:
        raise CliError("--value -: no value on standard input")
    return read


def _item_line(item: dict[str, Any]) -> str:
    parts = [item["file_id"], f"v{item['version']}", item["outcome"]]
    if "path" in item:  # previews name the file; stored outcomes keep ids only
        parts.append(f"{item['collection']}/{item['path']}")
    if item.get("certificate_id"):
        parts.append(f"certificate {item['certificate_id']}")
    if item["outcome"] not in ("would-purge", "purged") and item.get("detail"):
        parts.append(f"({item['detail']})")
    return "  ".join(parts)


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {number}" for name, number in counts.items())


@erasure.command(name="preview")
@click.option("--value", required=True, help="The subject's metadata value ('-': read stdin).")
@click.option("--key", help="Metadata key naming the subject (default: the server's, 'subject').")
@click.option("--reason", default="", help="Why, e.g. the ticket number (not the value).")
@json_option
@pass_context
def erasure_preview(ctx: CliContext, value: str, key: str | None, reason: str) -> None:
    """List every version that would be erased, held or retained, and save it as a plan."""
    body: dict[str, Any] = {"value": _value(value), "reason": reason, "dry_run": True}
    if key:
        body["key"] = key
    answer = ctx.call("POST", "/api/v1/erasure", json=body)
    if ctx.json:
        emit_json(answer)
        return
    click.echo(f"request {answer['request_id']}: {_counts_line(answer['counts'])}")
    for item in answer["items"]:
        click.echo(_item_line(item))
    if not answer["items"]:
        click.echo("no unpurged version carries this subject")
    click.echo(f"plan {answer['plan_id']}: run 'datoferum erasure execute --plan "
               f"{answer['plan_id']}' to erase exactly these")  # fmt: skip


def _summary(ctx: CliContext, request: dict[str, Any]) -> None:
    if ctx.json:
        emit_json(request)
        return
    fields([
        ("request", request["request_id"]), ("state", request["state"]),
        ("subject hash", request["subject_hash"]), ("key", request["key"]),
        ("reason", request["reason"] or "-"), ("plan", request["plan_id"]),
        ("job", request["job_id"] or "-"), ("previewed", _counts_line(request["counts"])),
    ])  # fmt: skip
    summary = request.get("summary")
    if summary:
        click.echo(f"outcome: {_counts_line(summary['counts'])}")
        for item in summary["items"]:
            click.echo(_item_line(item))
    if request.get("error"):
        click.echo(f"error: {request['error']}")


def _wait(ctx: CliContext, request_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        request: dict[str, Any] = ctx.call("GET", f"/api/v1/erasure/{request_id}")
        if request["state"] in FINISHED:
            return request
        if time.monotonic() > deadline:
            raise CliError(f"request {request_id} is still {request['state']} after {timeout} s")
        time.sleep(0.5)


@erasure.command(name="execute")
@click.option("--plan", "plan_id", required=True, help="The plan id a preview printed.")
@click.option("--wait", is_flag=True, help="Wait for the job to end and print its summary.")
@click.option("--timeout", type=float, default=3600, show_default=True, help="Seconds to wait.")
@json_option
@pass_context
def erasure_execute(ctx: CliContext, plan_id: str, wait: bool, timeout: float) -> None:
    """Queue the erasure of exactly what a preview listed."""
    answer = ctx.call("POST", "/api/v1/erasure", json={"plan": plan_id})
    if not wait:
        if ctx.json:
            emit_json(answer)
            return
        click.echo(f"request {answer['request_id']} queued as job {answer['job_id']}")
        return
    request = _wait(ctx, answer["request_id"], timeout)
    _summary(ctx, request)
    if request["state"] != "succeeded":
        raise CliError(f"erasure request {request['request_id']} ended {request['state']}")


@erasure.command(name="show")
@click.argument("request_id")
@json_option
@pass_context
def erasure_show(ctx: CliContext, request_id: str) -> None:
    """An erasure request: its state, preview counts and, once run, its outcome per version."""
    _summary(ctx, ctx.call("GET", f"/api/v1/erasure/{request_id}"))
