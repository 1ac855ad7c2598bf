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
from datoferum.interfaces.cli.output import emit_json


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
