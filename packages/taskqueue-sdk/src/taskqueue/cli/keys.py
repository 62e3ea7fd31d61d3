"""``taskqueue keys ...``: the tenant's API keys (an ``admin`` key's commands)."""

from __future__ import annotations

import click

from taskqueue.cli._common import (
    CliState,
    details,
    emit_json,
    handle_errors,
    json_option,
    out,
    pass_state,
    table,
)
from taskqueue.models import ApiKeyRole

ROLES = click.Choice([r.value for r in ApiKeyRole])


@click.group()
def keys() -> None:
    """Create, list and revoke the API keys of your tenant (needs an admin key)."""


@keys.command()
@click.argument("name")
@click.option("--role", type=ROLES, default=ApiKeyRole.PRODUCER.value, show_default=True)
@click.option(
    "--project",
    "projects",
    multiple=True,
    help="Restrict the key to this project (repeat for several); all projects when omitted.",
)
@json_option
@pass_state
@handle_errors
def create(state: CliState, name: str, role: str, projects: tuple[str, ...]) -> None:
    """Create a key; prints the key itself, which is shown only now."""
    key = state.client().create_api_key(name, role, projects=list(projects) or None)
    if emit_json(state, key):
        return
    details("key", key, ("id", "name", "tenant", "role", "projects", "created_at"))
    if key.key is not None:
        out.print(f"key: {key.key.get_secret_value()}  (store it; it is not shown again)")


@keys.command(name="list")
@json_option
@pass_state
@handle_errors
def list_(state: CliState) -> None:
    """List the tenant's keys, active and revoked (never their secrets)."""
    found = state.client().list_api_keys()
    if not emit_json(state, found):
        table(
            "API keys",
            ["id", "name", "prefix", "role", "projects", "revoked"],
            (
                (
                    k.id,
                    k.name,
                    k.prefix,
                    k.role.value,
                    "all" if k.projects is None else ",".join(map(str, k.projects)),
                    k.revoked_at or "",
                )
                for k in found
            ),
        )


@keys.command()
@click.argument("key_id")
@pass_state
@handle_errors
def revoke(state: CliState, key_id: str) -> None:
    """Revoke a key: from then on every server answers 401 to it."""
    state.client().revoke_api_key(key_id)
    if not state.json:
        out.print(f"revoked {key_id}")
