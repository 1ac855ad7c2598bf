"""``datoferum webhook``: subscribe receivers to lifecycle events, and look after deliveries."""

from __future__ import annotations

from typing import Any

import click

from datoferum.interfaces.cli.context import CliContext, json_option, pass_context
from datoferum.interfaces.cli.output import emit_json, fields, table

STATES = click.Choice(["pending", "sending", "delivered", "dead"])


@click.group()
def webhook() -> None:
    """Send lifecycle events to HTTP receivers, signed per Standard Webhooks (admins)."""


@webhook.command(name="create")
@click.option("--url", required=True, help="Receiver (http:// or https://).")
@click.option(
    "--event",
    "events",
    required=True,
    multiple=True,
    help="Event type (file.purged), prefix (file.*) or * for all; repeat for more.",
)
@click.option("--collection", help="Only events of files in this collection.")
@json_option
@pass_context
def webhook_create(
    ctx: CliContext, url: str, events: tuple[str, ...], collection: str | None
) -> None:
    """Create a subscription; its signing secret is printed once."""
    body: dict[str, Any] = {"url": url, "event_types": list(events)}
    if collection is not None:
        body["collection"] = collection
    created = ctx.call("POST", "/api/v1/webhooks", json=body)
    if ctx.json:
        emit_json(created)
        return
    fields(
        [
            ("id", created["id"]),
            ("url", created["url"]),
            ("events", " ".join(created["event_types"])),
            ("collection", created["collection"] or "(all)"),
            ("secret", created["secret"]),
        ]
    )
    click.echo("The secret is shown only this once: give it to the receiver now.")


@webhook.command(name="list")
@json_option
@pass_context
def webhook_list(ctx: CliContext) -> None:
    """List subscriptions (secrets appear only as a hint)."""
    items = ctx.call("GET", "/api/v1/webhooks")["items"]
    if ctx.json:
        emit_json(items)
        return
    rows = [_webhook_row(w) for w in items]
    table(rows, ["ID", "URL", "EVENTS", "COLLECTION", "SECRET"])


def _webhook_row(item: dict[str, Any]) -> list[str]:
    events = ",".join(item["event_types"])
    return [item["id"], item["url"], events, item["collection"] or "(all)", item["secret_hint"]]


@webhook.command(name="delete")
@click.argument("webhook_id")
@json_option
@pass_context
def webhook_delete(ctx: CliContext, webhook_id: str) -> None:
    """Delete a subscription and its deliveries."""
    gone = ctx.call("DELETE", f"/api/v1/webhooks/{webhook_id}")
    ctx.show(gone, f"deleted webhook {gone['id']} ({gone['url']})")


@webhook.command(name="deliveries")
@click.argument("webhook_id")
@click.option("--state", type=STATES, help="Only deliveries in this state (dead: dead letters).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
@pass_context
def webhook_deliveries(ctx: CliContext, webhook_id: str, state: str | None, limit: int) -> None:
    """List a subscription's deliveries, newest event first."""
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state
    items = ctx.call("GET", f"/api/v1/webhooks/{webhook_id}/deliveries", params=params)["items"]
    if ctx.json:
        emit_json(items)
        return
    rows = [
        [d["id"], str(d["event_seq"]), d["event_type"], d["state"], str(d["attempts"]),
         str(d["last_status"] or "-"), d["last_error"] or ""]
        for d in items
    ]  # fmt: skip
    table(rows, ["ID", "EVENT", "TYPE", "STATE", "ATTEMPTS", "STATUS", "LAST ERROR"])


@webhook.command(name="retry")
@click.argument("delivery_id")
@json_option
@pass_context
def webhook_retry(ctx: CliContext, delivery_id: str) -> None:
    """Send a dead delivery again now."""
    again = ctx.call("POST", f"/api/v1/webhooks/deliveries/{delivery_id}/retry")
    ctx.show(again, f"delivery {again['id']} is {again['state']} again")
