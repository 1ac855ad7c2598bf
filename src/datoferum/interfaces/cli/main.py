"""Entry point of the ``datoferum`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from datoferum import __version__
from datoferum.errors import DatoferumError
from datoferum.interfaces.cli import (
    admin,
    catalog,
    certificates,
    erasure,
    focus,
    lake,
    lifecycle,
    links,
    storage,
    transfer,
    webhooks,
)
from datoferum.interfaces.cli.client import DEFAULT_URL, CliError
from datoferum.interfaces.cli.context import CliContext
from datoferum.interfaces.cli.policies import policy

if TYPE_CHECKING:
    from datoferum.config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datoferum")
@click.option(
    "--url", envvar="DATOFERUM_URL", default=DEFAULT_URL, show_default=True, help="Server address."
)
@click.option("--token", help="API token (default: $DATOFERUM_TOKEN, then <home>/admin.token).")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON output.")
@click.pass_context
def cli(ctx: click.Context, url: str, token: str | None, json_output: bool) -> None:
    """Datoferum: carry data files from capture to purge, with proof of every step."""
    ctx.obj = CliContext(url=url, token=token, json=json_output)


def _settings(**overrides: object) -> Settings:
    # Imported here: pydantic takes a fifth of a second to load, and client commands need none.
    from pydantic import ValidationError

    from datoferum.config import Settings

    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CliError(f"invalid setting {where}: {first['msg']}") from None


@cli.command()
@click.option("--host", help="Address to bind (default 127.0.0.1, or $DATOFERUM_HOST).")
@click.option("--port", type=int, help="Port (default 8000, or $DATOFERUM_PORT).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Data directory.")
@click.option("--workers", type=int, help="Worker processes.")
def serve(host: str | None, port: int | None, home: Path | None, workers: int | None) -> None:
    """Run the server on the embedded defaults (SQLite catalog, local disk)."""
    from datoferum.interfaces.http.serve import serve as run

    run(_settings(host=host, port=port, home=home, workers=workers))


@cli.command()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Data directory.")
@click.option(
    "--threads", type=click.IntRange(1, 64), default=2, show_default=True, help="Job threads."
)
def worker(home: Path | None, threads: int) -> None:
    """Run job workers and the scheduler without the HTTP server (scale out: run several)."""
    from datoferum.interfaces.worker import run_worker

    run_worker(_settings(home=home), threads)


@cli.group()
def db() -> None:
    """Manage the catalog database."""


@db.command(name="upgrade")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Data directory.")
def db_upgrade(home: Path | None) -> None:
    """Apply pending schema migrations (the server also does this at start-up)."""
    from datoferum.services.wiring import open_catalog
    from datoferum.spine.catalog import migrate

    catalog = open_catalog(_settings(home=home))
    try:
        before, after = migrate.upgrade(catalog)
    finally:
        catalog.dispose()
    if before == after:
        click.echo(f"catalog already at revision {after}")
    else:
        click.echo(f"catalog upgraded from {before or 'empty'} to {after}")


for command in (
    transfer.put, transfer.get, catalog.list_files, catalog.info, catalog.events,
    admin.token, admin.audit, admin.whoami, certificates.certificate, certificates.key,
    webhooks.webhook, lifecycle.hold, lifecycle.purge, lifecycle.signal, erasure.erasure,
    links.link, policy, storage.storage, focus.focus, lake.lake,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    """Run the CLI; every failure is one line on stderr and a non-zero exit."""
    try:
        cli.main(standalone_mode=False)
    except CliError as error:
        click.echo(f"datoferum: error: {error}", err=True)
        sys.exit(error.exit_code)
    except DatoferumError as error:
        click.echo(f"datoferum: error: {error.detail}", err=True)
        sys.exit(1)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())  # a bare command asks for help; it is not a failure
        sys.exit(0)
    except click.exceptions.Abort:
        click.echo("datoferum: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"datoferum: error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("datoferum: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        click.echo(f"datoferum: error: {error.strerror or error}{where}", err=True)
        sys.exit(1)
