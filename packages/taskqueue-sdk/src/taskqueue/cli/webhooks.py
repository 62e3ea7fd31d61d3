"""``taskqueue webhooks ...``, including ``listen``, a local verifying receiver."""

from __future__ import annotations

import json

import click

from taskqueue.cli._common import (
    CliState,
    details,
    emit_json,
    err,
    handle_errors,
    json_option,
    out,
    pass_state,
    table,
)
from taskqueue.models import WebhookEvent, WebhookEventType

EVENTS = click.Choice([e.value for e in WebhookEventType])


@click.group()
def webhooks() -> None:
    """Manage webhook subscriptions and receive webhooks locally."""


@webhooks.command()
@click.option("--url", required=True, help="Where events are POSTed.")
@click.option("--event", "events", type=EVENTS, multiple=True, required=True)
@click.option("--description")
@click.option("--secret", help="whsec_... (the server generates one when omitted).")
@json_option
@pass_state
@handle_errors
def create(
    state: CliState, url: str, events: tuple[str, ...], description: str | None, secret: str | None
) -> None:
    """Subscribe a URL to events; prints the signing secret (shown only now)."""
    sub = state.client().create_webhook(url, events, description=description, secret=secret)
    if emit_json(state, sub):
        return
    details("webhook", sub, ("id", "url", "events", "created_at"))
    if sub.secret is not None:
        out.print(f"secret: {sub.secret.get_secret_value()}  (store it; it is not shown again)")


@webhooks.command(name="list")
@json_option
@pass_state
@handle_errors
def list_(state: CliState) -> None:
    """List webhook subscriptions."""
    subs = state.client().list_webhooks()
    if not emit_json(state, subs):
        table(
            "webhooks",
            ["id", "url", "events", "active"],
            ((s.id, s.url, ",".join(s.events), s.active) for s in subs),
        )


@webhooks.command()
@click.argument("webhook_id")
@pass_state
@handle_errors
def delete(state: CliState, webhook_id: str) -> None:
    """Delete a webhook subscription."""
    state.client().delete_webhook(webhook_id)
    if not state.json:
        out.print(f"deleted {webhook_id}")


@webhooks.command()
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@pass_state
@handle_errors
def deliveries(state: CliState, webhook_id: str, limit: int) -> None:
    """List a subscription's recent deliveries."""
    page = state.client().list_deliveries(webhook_id, limit=limit)
    if not emit_json(state, page.deliveries):
        table(
            f"deliveries ({len(page.deliveries)} of {page.total})",
            ["id", "event", "status", "attempts", "http", "error"],
            (
                (d.id, d.event_type, d.status, d.attempts, d.response_status, d.error)
                for d in page.deliveries
            ),
        )


@webhooks.command()
@click.option(
    "--secret",
    envvar="TASKQUEUE_WEBHOOK_SECRET",
    required=True,
    help="The subscription's whsec_ secret [env TASKQUEUE_WEBHOOK_SECRET].",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8081, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--path", default="/webhooks", show_default=True)
@pass_state
def listen(state: CliState, secret: str, port: int, host: str, path: str) -> None:
    """Run a local receiver that verifies webhooks and prints each event."""
    from taskqueue.receiver import WebhookHandler

    handler = WebhookHandler(secret, path=path)

    @handler.on("*")
    def show(event: WebhookEvent) -> None:
        if state.json:
            click.echo(json.dumps(event.model_dump(mode="json")))
        else:
            out.print(
                f"[bold]{event.type}[/bold] {event.timestamp:%H:%M:%S} "
                f"{event.data.get('id', '')} {event.data.get('name', '')}"
            )

    err.print(f"listening on http://{host}:{port}{path} (Ctrl-C to stop)")
    handler.run(port=port, host=host)
