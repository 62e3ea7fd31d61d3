"""``taskqueue-server``: serve the API, deliver webhooks, migrate, create, list and revoke API
keys.

Exit codes: 0 ok, 1 failure (bad settings, database unreachable), 2 usage error.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from platform_core.errors import PlatformError
from platform_core.logging import configure_logging, get_logger
from taskqueue_server.settings import ServerSettings

if TYPE_CHECKING:
    from taskqueue_server.db.apikeys import ApiKeyStore

__all__ = ["main"]

T = TypeVar("T")
_log = get_logger(__name__)


def _settings(**overrides: Any) -> ServerSettings:
    try:
        settings = ServerSettings.load(**{k: v for k, v in overrides.items() if v is not None})
    except PlatformError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def wrapper() -> T:
        return await coro_fn()

    try:
        return asyncio.run(wrapper())
    except PlatformError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from exc


@click.group()
@click.version_option(package_name="taskqueue-server")
def main() -> None:
    """The Task Queue API server. Settings come from TASKQUEUE_* environment variables."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (TASKQUEUE_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (TASKQUEUE_PORT).")
@click.option(
    "--deliver/--no-deliver",
    default=None,
    help="Deliver webhooks in this process (default: only without Redis).",
)
def serve(host: str | None, port: int | None, deliver: bool | None) -> None:
    """Run the HTTP API (migrates the database first)."""
    import uvicorn

    from taskqueue_server.app import create_server_app

    settings = _settings(host=host, port=port)
    try:
        # Telemetry starts (and is flushed at exit) in the app's lifespan: create_app does it.
        app = create_server_app(settings, deliver=deliver)
    except PlatformError as exc:
        raise click.ClickException(str(exc)) from exc
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        use_colors=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        backlog=2048,
    )
    uvicorn.Server(config).run()


@main.command()
def deliver() -> None:
    """Deliver webhooks from the Redis event stream (the API runs in `serve`).

    Writes the heartbeat file named by PLATFORM_HEARTBEAT_FILE while it runs.
    """
    from api_core.telemetry import setup_telemetry
    from platform_core.heartbeat import heartbeat_from_env
    from taskqueue_server.migrate import upgrade
    from taskqueue_server.runtime import Runtime

    settings = _settings()
    if settings.redis_url is None:
        raise click.UsageError(
            "deliver needs TASKQUEUE_REDIS_URL; without Redis, `serve` delivers webhooks itself"
        )

    async def run() -> None:
        # Before the runtime, so its engine, Redis and HTTP clients are traced from the start.
        telemetry = setup_telemetry(settings)
        try:
            runtime = Runtime.create(settings)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            beat = None
            try:
                await upgrade(runtime.engine)
                runtime.start_background(deliver=True)
                beat = heartbeat_from_env()
                _log.info("webhook delivery started")
                await stop.wait()
            finally:
                if beat is not None:
                    beat.cancel()
                await runtime.close()
        finally:
            telemetry.shutdown()  # flushes the span and log batches

    _run(run)


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(revision: str) -> None:
    """Create or upgrade the database schema."""
    from taskqueue_server.db.engine import create_engine
    from taskqueue_server.migrate import current_revision, upgrade

    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine, revision)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    at = _run(run)
    Console().print(f"database at revision [bold]{at}[/bold]")


def _with_keys(settings: ServerSettings, use: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    """Run ``use`` on the key store of the (migrated) database."""
    from taskqueue_server.db.apikeys import ApiKeyStore
    from taskqueue_server.db.engine import create_engine, session_factory
    from taskqueue_server.migrate import upgrade

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await use(ApiKeyStore(session_factory(engine)))
        finally:
            await engine.dispose()

    return _run(run)


def _tenant_option(value: str) -> str:
    from taskqueue_server.db.tenancy import check_tenant_name

    try:
        return check_tenant_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("create-api-key")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option(
    "--tenant",
    default="default",
    show_default=True,
    callback=lambda _ctx, _param, value: _tenant_option(value),
    help="The tenant the key belongs to; it sees only that tenant's data.",
)
@click.option(
    "--role",
    type=click.Choice(["admin", "producer", "worker", "reader"]),
    default="admin",
    show_default=True,
    help="admin: everything; producer: tasks; worker: claim/heartbeat/report only; "
    "reader: read only.",
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    type=click.UUID,
    help="Restrict the key to this project (repeat for several); default: every project.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def create_api_key(
    name: str, tenant: str, role: str, projects: tuple[uuid.UUID, ...], as_json: bool
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from taskqueue_server.db.tenancy import Role

    async def create(store: ApiKeyStore) -> tuple[str, str]:
        created = await store.create(
            name, tenant=tenant, role=Role(role), projects=list(projects) if projects else None
        )
        return str(created.id), created.key

    key_id, key = _with_keys(_settings(), create)
    restricted = [str(p) for p in projects] if projects else None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": key_id,
                    "name": name,
                    "key": key,
                    "tenant": tenant,
                    "role": role,
                    "projects": restricted,
                }
            )
        )
        return
    console = Console()
    where = f"tenant {tenant}, role {role}"
    if restricted:
        where += f", projects {', '.join(restricted)}"
    console.print(
        f"API key [bold]{name}[/bold] ({key_id}; {where}); store it now, it is not shown again:"
    )
    click.echo(key)


@main.command("list-api-keys")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_api_keys(tenant: str | None, as_json: bool) -> None:
    """List API keys, active and revoked (ids, names, prefixes, tenants, roles; never
    secrets)."""
    keys = _with_keys(_settings(), lambda store: store.all(tenant))
    if as_json:
        click.echo(json.dumps([k.to_json() for k in keys]))
        return
    table = Table(
        "id",
        "name",
        "prefix",
        "tenant",
        "role",
        "projects",
        "created",
        "revoked",
        title=f"API keys ({len(keys)})",
    )
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.to_json()["prefix"],
            k.tenant,
            str(k.role),
            ", ".join(str(p) for p in k.projects) if k.projects is not None else "all",
            f"{k.created_at:%Y-%m-%d %H:%M:%S}",
            f"{k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "",
        )
    Console().print(table)


@main.command("revoke-api-key")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def revoke_api_key(key: str, as_json: bool) -> None:
    """Revoke the API key KEY: its id (as `create-api-key` prints it), or its prefix.

    Returns once every server refuses the key (it waits out TASKQUEUE_API_KEY_CACHE_SECONDS,
    how long a server may trust a key it checked).
    """
    settings = _settings()

    async def revoke(store: ApiKeyStore) -> tuple[dict[str, Any], bool] | None:
        found = await store.find(key)
        if found is None:
            return None
        if found.revoked_at is None:
            await store.revoke(found.id)
        again = await store.find(str(found.id))
        return (again or found).to_json(), found.revoked_at is None

    outcome = _with_keys(settings, revoke)
    if outcome is None:
        raise click.ClickException(
            f"no API key has the id or prefix {key!r}; see `taskqueue-server list-api-keys`"
        )
    fields, revoked_now = outcome
    if revoked_now:
        time.sleep(settings.api_key_cache_seconds)
    if as_json:
        click.echo(json.dumps(fields))
        return
    what = "revoked" if revoked_now else "was already revoked"
    Console(soft_wrap=True).print(
        f"API key [bold]{fields['name']}[/bold] ({fields['id']}, {fields['prefix']}) {what} "
        f"at {fields['revoked_at']}; the server refuses it"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
