"""The ``draft-service`` command: ``serve``, ``worker`` and ``migrate``.

Settings, the app and the database load inside the commands, so ``--help`` is quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

import click

from platform_core.errors import PlatformError
from platform_core.logging import configure_logging

if TYPE_CHECKING:
    from draft_service.settings import DraftSettings

__all__ = ["main"]


def _fail(exc: BaseException, code: int = 1) -> NoReturn:
    """One line on stderr (never wrapped), then exit with ``code``."""
    click.echo(f"error: {exc}".replace("\n", " "), err=True)
    sys.exit(code)


def _settings() -> DraftSettings:
    from draft_service.settings import DraftSettings

    try:
        settings = DraftSettings.load()
    except PlatformError as exc:
        _fail(exc)
    configure_logging(settings.log_level, fmt=settings.log_format)
    return settings


@click.group()
@click.version_option(package_name="draft-service")
def main() -> None:
    """Message threads to LLM-drafted replies. Configure with DRAFTS_* variables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind.")
def serve(host: str, port: int) -> None:
    """Run the HTTP API (and, without DRAFTS_REDIS_URL, the jobs in-process)."""
    import uvicorn

    from draft_service.api import create_draft_app
    from draft_service.runtime import preflight

    settings = _settings()
    try:
        app = create_draft_app(settings)
        asyncio.run(preflight(settings))
    except PlatformError as exc:
        _fail(exc)
    # access_log off: api-core's middleware already logs every request (with its trace id).
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, use_colors=False)


@main.command()
@click.option("--name", default=None, help="Consumer name; host-pid by default.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Jobs at once.")
def worker(name: str | None, concurrency: int | None) -> None:
    """Run background jobs from Redis until SIGTERM or Ctrl-C (needs DRAFTS_REDIS_URL)."""
    settings = _settings()
    if settings.redis_url is None:
        _fail(RuntimeError("DRAFTS_REDIS_URL is not set: workers consume from Redis"))
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    consumer = name or f"{socket.gethostname()}-{os.getpid()}"
    try:
        settings.require_llm_config()
        _run_loop(_work(settings, consumer))
    except PlatformError as exc:
        _fail(exc)


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when it is installed, as ``serve`` does (uvicorn picks it), else
    on asyncio's loop.

    A worker is mostly socket writes and reads (the database, Redis, the LLM): asyncio's
    selector transport took a fifth of a Redis worker's CPU in ``write`` alone.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def _work(settings: DraftSettings, consumer: str) -> None:
    from api_core.telemetry import setup_telemetry
    from draft_service.runtime import build_runtime
    from platform_core.heartbeat import heartbeat_from_env

    # Before the runtime: its engine, Redis and LLM clients are then traced from the start.
    telemetry = setup_telemetry(settings)
    try:
        runtime = await build_runtime(settings, consume=True, consumer=consumer)
        beat = heartbeat_from_env()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            if beat is not None:
                beat.cancel()
            await runtime.close()
    finally:
        telemetry.shutdown()  # flushes the span and log batches


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def migrate(as_json: bool) -> None:
    """Bring the database (DRAFTS_DATABASE_URL) to the latest schema."""
    settings = _settings()
    try:
        revision = asyncio.run(_migrate(settings.database_url))
    except PlatformError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({"revision": revision}))
    else:
        click.echo(f"database at revision {revision}")


async def _migrate(url: str) -> str | None:
    from draft_service.db import create_engine, current_revision, upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


@main.command()
@click.option(
    "--base-url",
    envvar="DRAFTS_API_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The running draft API (env DRAFTS_API_URL).",
)
@click.option(
    "--api-key",
    envvar="DRAFTS_API_KEY",
    default="",
    show_default=False,
    help="The API's bearer key (env DRAFTS_API_KEY).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Offer only the tools that read (no send_thread, give_feedback, reject, retry).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="warning",
    show_default=True,
    help="Log level; logs go to stderr (stdout carries the protocol).",
)
def mcp(base_url: str, api_key: str, read_only: bool, log_level: str) -> None:
    """Serve the draft API's tools to an MCP client over stdin/stdout.

    Needs the mcp extra: pip install 'draft-service[mcp]'.
    """
    try:
        from draft_service.mcp import DraftApiClient, create_mcp_server, shared_client_provider
    except ImportError as exc:
        _fail(exc)
    if not base_url.startswith(("http://", "https://")):
        click.echo(
            f"error: DRAFTS_API_URL / --base-url must be an http:// or https:// URL, got "
            f"{base_url!r}",
            err=True,
        )
        sys.exit(2)
    # stdout carries the protocol: logs must go to stderr.
    configure_logging(log_level.upper(), fmt="json", stream=sys.stderr)

    async def serve() -> None:
        async with DraftApiClient(base_url, api_key) as client:
            server = create_mcp_server(shared_client_provider(client), read_only=read_only)
            await server.run_stdio_async()

    asyncio.run(serve())
