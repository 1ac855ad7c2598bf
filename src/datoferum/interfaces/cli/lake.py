"""``datoferum lake``: normalize files into the lake, see its objects, and query it (cost by
any FOCUS column or tag, top-N, sandboxed SQL). Thin shells over ``/api/v1/lake``."""

from __future__ import annotations

from typing import Any

import click

from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, human_size, table


@click.group()
def lake() -> None:
    """ThriftData's lake: normalize billing exports to FOCUS Parquet and query them."""


@lake.command(name="normalize")
@click.argument("file_id")
@click.option("--version", type=click.IntRange(min=1), help="Version (default: the newest).")
@click.option("--source", help="Read it as this source (default: the one that recognises it).")
@click.option("--wait", is_flag=True, help="Wait for the job and print its result.")
@json_option
@pass_context
def normalize(
    ctx: CliContext, file_id: str, version: int | None, source: str | None, wait: bool
) -> None:
    """Normalize a captured file into the lake again (its earlier rows are replaced)."""
    body: dict[str, Any] = {"file_id": file_id}
    if version is not None:
        body["version"] = version
    if source is not None:
        body["source"] = source
    job = ctx.call("POST", "/api/v1/lake/normalize", json=body)
    ctx.report_job(ctx.wait_for_job(job["id"]) if wait else job)


@lake.command(name="storage-cost")
@click.option("--day", help="The day (YYYY-MM-DD) to cost (default: today).")
@click.option("--wait", is_flag=True, help="Wait for the job and print its result.")
@json_option
@pass_context
def storage_cost(ctx: CliContext, day: str | None, wait: bool) -> None:
    """Write a day's own storage cost (bytes per collection and backend x price) to the lake."""
    job = ctx.call("POST", "/api/v1/lake/storage-cost", json={"day": day} if day else {})
    ctx.report_job(ctx.wait_for_job(job["id"]) if wait else job)


@lake.command(name="partitions")
@click.option("--dataset", help="Only this dataset (e.g. focus).")
@click.option("--file-id", help="Only objects produced from this file.")
@json_option
@pass_context
def partitions(ctx: CliContext, dataset: str | None, file_id: str | None) -> None:
    """The lake's objects, with the file and version each came from."""
    params = {k: v for k, v in {"dataset": dataset, "file_id": file_id}.items() if v}
    found: dict[str, Any] = ctx.call("GET", "/api/v1/lake/partitions", params=params)
    if ctx.json:
        emit_json(found)
        return
    rows = [
        [
            item["path"], str(item["rows"]), human_size(item["bytes"]),
            item["lineage"]["source"],
            f"{item['lineage']['file_id'] or item['lineage']['source_key']}"
            + (f" v{item['lineage']['version']}" if item["lineage"]["version"] else ""),
        ]
        for item in found["items"]
    ]  # fmt: skip
    table(rows, ["PATH", "ROWS", "SIZE", "SOURCE", "FROM"])


def _cost_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--start", help="Charges from this time (ISO 8601)."),
            click.option("--end", help="Charges before this time (ISO 8601)."),
            click.option(
                "--cost",
                "cost_column",
                type=click.Choice(["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]),
                default="BilledCost",
                show_default=True,
                help="The cost column to sum.",
            ),
            click.option(
                "--filter",
                "filters",
                multiple=True,
                metavar="COLUMN=VALUE",
                help="Only rows where a FOCUS column (or tag:<key>) has this value; repeatable.",
            ),
        ]
    ):
        function = option(function)
    return function


def _params(
    start: str | None, end: str | None, cost_column: str, filters: tuple[str, ...]
) -> dict[str, Any]:
    params: dict[str, Any] = {"cost": cost_column, "filter": list(filters)}
    if start:
        params["start"] = start
    if end:
        params["end"] = end
    return params


def _show_cost(ctx: CliContext, answer: dict[str, Any]) -> None:
    if ctx.json:
        emit_json(answer)
        return
    items = answer["items"]
    if not items:
        click.echo("no costs in the lake for this query")
        return
    names = [name for name in items[0] if name != "cost"]
    rows = [
        ["—" if item[name] is None else str(item[name]) for name in names] + [f"{item['cost']:.6f}"]
        for item in items
    ]
    table(rows, [*names, answer["cost_column"]])


@lake.command(name="cost")
@click.option(
    "--group-by", "group_by", multiple=True, help="FOCUS column or tag:<key>; repeatable."
)
@click.option(
    "--granularity",
    type=click.Choice(["day", "month", "none"]),
    default="month",
    show_default=True,
    help="Time buckets (by ChargePeriodStart).",
)
@_cost_options
@json_option
@pass_context
def cost(
    ctx: CliContext,
    group_by: tuple[str, ...],
    granularity: str,
    start: str | None,
    end: str | None,
    cost_column: str,
    filters: tuple[str, ...],
) -> None:
    """Cost by period and by FOCUS columns or tags (always per currency)."""
    params = _params(start, end, cost_column, filters)
    params.update({"group_by": list(group_by), "granularity": granularity})
    _show_cost(ctx, ctx.call("GET", "/api/v1/lake/cost", params=params))


@lake.command(name="top")
@click.option("--by", required=True, multiple=True, help="FOCUS column or tag:<key> to rank.")
@click.option("-n", "count", type=click.IntRange(1, 1000), default=10, show_default=True)
@_cost_options
@json_option
@pass_context
def top(
    ctx: CliContext,
    by: tuple[str, ...],
    count: int,
    start: str | None,
    end: str | None,
    cost_column: str,
    filters: tuple[str, ...],
) -> None:
    """The largest costs by a FOCUS column or tag (e.g. --by ServiceName)."""
    params = _params(start, end, cost_column, filters)
    params.update({"by": list(by), "n": count})
    _show_cost(ctx, ctx.call("GET", "/api/v1/lake/cost/top", params=params))


@lake.command(name="sql")
@click.argument("query")
@json_option
@pass_context
def sql(ctx: CliContext, query: str) -> None:
    """Run one read-only SELECT over the lake's views (e.g. focus)."""
    answer: dict[str, Any] = ctx.call("POST", "/api/v1/lake/sql", json={"sql": query})
    if ctx.json:
        emit_json(answer)
        return
    table([["" if v is None else str(v) for v in row] for row in answer["rows"]], answer["columns"])
    if answer["truncated"]:
        click.echo(f"(cut at {answer['limit']} rows)", err=True)
