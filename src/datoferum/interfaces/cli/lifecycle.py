"""``datoferum hold``, ``purge`` and ``signal``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from datoferum.interfaces.cli.client import CliError
from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, table


@click.group()
def hold() -> None:
    """Place, list and release legal holds."""


@hold.command(name="place")
@click.option("--file", "file_id", help="Hold one file (its id).")
@click.option("--collection", help="Hold a whole collection, files added later included.")
@click.option(
    "--query",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Hold what a saved query matches: a YAML or JSON list of policy filters.",
)
@click.option("--name", help="Name of the saved query (with --query).")
@click.option("--reason", required=True, help="Why (e.g. the case number).")
@click.option("--owner", required=True, help="Who answers for the hold.")
@json_option
@pass_context
def hold_place(
    ctx: CliContext,
    file_id: str | None,
    collection: str | None,
    query: Path | None,
    name: str | None,
    reason: str,
    owner: str,
) -> None:
    """Place a hold on exactly one of --file, --collection or --query."""
    chosen = [option for option in (file_id, collection, query) if option]
    if len(chosen) != 1:
        raise CliError("give exactly one of --file, --collection or --query")
    body: dict[str, Any] = {"reason": reason, "owner": owner}
    if file_id:
        body.update(scope="file", target=file_id)
    elif collection:
        body.update(scope="collection", target=collection)
    else:
        import yaml

        assert query is not None
        try:
            filters = yaml.safe_load(query.read_text())
        except yaml.YAMLError as exc:
            raise CliError(f"{query} is not valid YAML or JSON: {exc}") from None
        body.update(scope="query", target=name or query.stem, query=filters)
    created = ctx.call("POST", "/api/v1/holds", json=body)
    ctx.show(created, f"placed hold {created['id']} on {created['scope']} {created['target']}")


@hold.command(name="release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold ends.")
@json_option
@pass_context
def hold_release(ctx: CliContext, hold_id: str, reason: str) -> None:
    """Release a hold (the release is recorded)."""
    released = ctx.call("POST", f"/api/v1/holds/{hold_id}/release", json={"reason": reason})
    ctx.show(released, f"released hold {released['id']} at {released['released_at']}")


@hold.command(name="list")
@click.option("--all", "everything", is_flag=True, help="Include released holds.")
@json_option
@pass_context
def hold_list(ctx: CliContext, everything: bool) -> None:
    """List holds."""
    items = ctx.call("GET", "/api/v1/holds", params={"all": "true" if everything else "false"})[
        "items"
    ]
    if ctx.json:
        emit_json(items)
        return
    rows = [
        [h["id"], h["scope"], h["target"], h["owner"], "active" if h["active"] else "released"]
        for h in items
    ]
    table(rows, ["ID", "SCOPE", "TARGET", "OWNER", "STATUS"])


@click.command()
@click.argument("file_id")
@click.option(
    "--version",
    "versions",
    type=click.IntRange(min=1),
    multiple=True,
    help="Only this version (repeatable).",
)
@click.option("--reason", default="", help="Why (recorded in the certificate).")
@click.option("--dry-run", is_flag=True, help="Only show what would happen, as a plan.")
@click.option("--plan", "plan_id", help="Execute exactly the plan a dry run returned.")
@json_option
@pass_context
def purge(
    ctx: CliContext,
    file_id: str,
    versions: tuple[int, ...],
    reason: str,
    dry_run: bool,
    plan_id: str | None,
) -> None:
    """Purge a file's versions now: bytes removed everywhere, certificates issued."""
    body: dict[str, Any] = {"reason": reason, "dry_run": dry_run}
    if versions:
        body["versions"] = list(versions)
    if plan_id:
        body["plan"] = plan_id
    answer = ctx.call("POST", f"/api/v1/files/{file_id}/purge", json=body)
    if ctx.json:
        emit_json(answer)
        return
    for item in answer["items"]:
        certificate = f" (certificate {item['certificate_id']})" if item["certificate_id"] else ""
        click.echo(f"version {item['version']}: {item['outcome']}: {item['detail']}{certificate}")
    if answer["plan_id"]:
        click.echo(f"plan {answer['plan_id']}: run again with --plan {answer['plan_id']} to do it")


@click.command()
@click.argument("file_id")
@click.argument("name")
@click.option("--data", help="A JSON object to attach.")
@json_option
@pass_context
def signal(ctx: CliContext, file_id: str, name: str, data: str | None) -> None:
    """Tell Datoferum that NAME happened to a file (e.g. consumed)."""
    try:
        payload = json.loads(data) if data else {}
    except ValueError as exc:
        raise CliError(f"--data is not valid JSON: {exc}") from None
    event = ctx.call(
        "POST", f"/api/v1/files/{file_id}/signals", json={"name": name, "data": payload}
    )
    ctx.show(event, f"signal {name} recorded as event {event['seq']}")
