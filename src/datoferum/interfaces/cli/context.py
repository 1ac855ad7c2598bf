"""What every client command shares: where the server is, the token, the output mode."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from datoferum.interfaces.cli.client import Client, CliError, find_token
from datoferum.interfaces.cli.output import emit_json

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    url: str
    token: str | None
    json: bool = False

    def client(self) -> Client:
        return Client(self.url, find_token(self.token))

    def show(self, value: Any, line: str) -> None:
        """Print ``value`` as JSON with ``--json``, else the one ``line`` for people."""
        if self.json:
            emit_json(value)
        else:
            click.echo(line)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request on a fresh connection; returns the JSON answer."""
        client = self.client()
        try:
            return client.call(method, path, **kwargs)
        finally:
            client.close()

    def wait_for_job(self, job_id: str, timeout: float = 86400.0) -> dict[str, Any]:
        """Poll a job until it ends; the job as it ended."""
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.call("GET", f"/api/v1/jobs/{job_id}")
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            if time.monotonic() > deadline:
                raise CliError(f"job {job_id} is still {job['state']} after {timeout:g} s")
            time.sleep(0.5)

    def report_job(self, job: dict[str, Any]) -> None:
        """Print a job (its result once it has one); a failed job is a CLI failure."""
        if self.json:
            emit_json(job)
        else:
            result = f" {job['result']}" if job.get("result") else ""
            click.echo(f"job {job['id']}: {job['state']}{result}")
        if job["state"] == "failed":
            raise CliError(f"job {job['id']} failed: {job['last_error']}")


pass_context = click.make_pass_decorator(CliContext)


def json_option(function: F) -> F:
    """``--json`` on a subcommand, equivalent to the global one."""

    def enable(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(CliContext).json = True

    return click.option(
        "--json", "json_output", is_flag=True, expose_value=False, callback=enable,
        help="Machine-readable JSON output.",
    )(function)  # fmt: skip
