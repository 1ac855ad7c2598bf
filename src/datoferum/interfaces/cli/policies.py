"""``datoferum policy``: lifecycle policies from the command line.

``validate`` works offline, with the same checks the server applies, so a policy file can be
checked in an editor's save hook or in CI before anyone uploads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from datoferum.errors import PolicyError, PolicyProblem
from datoferum.interfaces.cli.client import CliError
from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, table


@click.group()
def policy() -> None:
    """Work with lifecycle policies."""


@policy.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@json_option
@pass_context
def validate(ctx: CliContext, files: tuple[Path, ...]) -> None:
    """Check policy FILES without a server: prints 'ok' per file, or one line per problem
    (FILE:LINE: field: message) and exits 1."""
    # Imported here: client commands should not pay for loading the policy language.
    from datoferum.domain.policies import format_problem, load_policies

    results: list[dict[str, Any]] = []
    for path in files:
        problems: list[PolicyProblem] = []
        names: list[str] = []
        try:
            names = [p.name for p in load_policies(_read(path), str(path))]
        except PolicyError as error:
            problems = error.errors
        results.append({"file": str(path), "policies": names, "problems": problems})
        if not ctx.json:
            for problem in problems:
                click.echo(format_problem(problem))
            if not problems:
                noun = "policy" if len(names) == 1 else "policies"
                click.echo(f"ok: {len(names)} {noun} in {path}")
    if ctx.json:
        emit_json(results)
    failed = sum(1 for result in results if result["problems"])
    if failed:
        raise CliError(f"{failed} of {len(files)} policy files have problems")


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})"
        problem: PolicyProblem = {
            "source": str(path),
            "line": line,
            "field": "",
            "message": message,
        }
        raise PolicyError(message, errors=[problem]) from None


@policy.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_context
def apply(ctx: CliContext, file: Path) -> None:
    """Upload the policies of FILE to the server; changed ones get a new version."""
    answer = ctx.call(
        "POST", "/api/v1/policies", params={"source": file.name}, content=file.read_bytes(),
        headers={"Content-Type": "application/yaml"},
    )  # fmt: skip
    if ctx.json:
        emit_json(answer["items"])
        return
    for item in answer["items"]:
        click.echo(f"{item['name']}: version {item['version']} ({item['change']})")


@policy.command()
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Only list what the policy would do, as a plan.")
@click.option("--plan", "plan_id", help="Run exactly the plan a dry run returned.")
@click.option("--wait", is_flag=True, help="Wait for the run to finish and print its result.")
@json_option
@pass_context
def run(ctx: CliContext, name: str, dry_run: bool, plan_id: str | None, wait: bool) -> None:
    """Run policy NAME now (as a job), or preview it with --dry-run."""
    body: dict[str, Any] = {"dry_run": dry_run}
    if plan_id:
        body["plan"] = plan_id
    answer = ctx.call("POST", f"/api/v1/policies/{name}/run", json=body)
    if dry_run:
        if ctx.json:
            emit_json(answer)
            return
        for item in answer["items"]:
            click.echo(
                f"{item['file_id']} v{item['version']}: {', '.join(item['details']['actions'])}"
            )
        click.echo(
            f"{answer['files']} files selected by {answer['policy']} version {answer['version']} "
            f"(plan {answer['plan_id']}; run with --plan {answer['plan_id']})"
        )
        return
    ctx.report_job(ctx.wait_for_job(answer["id"]) if wait else answer)


@policy.command(name="list")
@json_option
@pass_context
def list_policies(ctx: CliContext) -> None:
    """List active policies (newest versions)."""
    items = ctx.call("GET", "/api/v1/policies")["items"]
    if ctx.json:
        emit_json(items)
        return
    rows = [[p["name"], str(p["version"]), p["mode"]["type"], p["source"]] for p in items]
    table(rows, ["NAME", "VERSION", "MODE", "SOURCE"])


@policy.command()
@click.argument("name")
@json_option
@pass_context
def show(ctx: CliContext, name: str) -> None:
    """Print the newest version of policy NAME as YAML."""
    items = ctx.call("GET", f"/api/v1/policies/{name}")["items"]
    if ctx.json:
        emit_json(items)
        return
    newest = items[0]
    state = "active" if newest["active"] else "deleted"
    click.echo(f"# version {newest['version']} ({state}), by {newest['created_by']}")
    click.echo(newest["document"], nl=False)


@policy.command()
@click.argument("name")
@pass_context
def delete(ctx: CliContext, name: str) -> None:
    """Deactivate policy NAME (its versions stay on record)."""
    done = ctx.call("DELETE", f"/api/v1/policies/{name}")
    click.echo(f"{done['name']}: deleted as version {done['version']}")
