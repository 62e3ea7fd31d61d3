"""``taskqueue-server``: serve the API, deliver webhooks, migrate, create API keys.

Exit codes: 0 ok, 1 failure (bad settings, database unreachable), 2 usage error.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from platform_core.errors import PlatformError
from platform_core.logging import configure_logging, get_logger
from taskqueue_server.settings import ServerSettings

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


@main.command("create-api-key")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def create_api_key(name: str, as_json: bool) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from taskqueue_server.db.apikeys import ApiKeyStore
    from taskqueue_server.db.engine import create_engine, session_factory
    from taskqueue_server.migrate import upgrade

    settings = _settings()

    async def run() -> tuple[str, str]:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            created = await ApiKeyStore(session_factory(engine)).create(name)
            return str(created.id), created.key
        finally:
            await engine.dispose()

    key_id, key = _run(run)
    if as_json:
        click.echo(json.dumps({"id": key_id, "name": name, "key": key}))
        return
    console = Console()
    console.print(f"API key [bold]{name}[/bold] ({key_id}); store it now, it is not shown again:")
    click.echo(key)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
