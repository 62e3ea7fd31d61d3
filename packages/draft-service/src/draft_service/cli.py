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
from typing import TYPE_CHECKING, NoReturn

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
        _fail(RuntimeError("DRAFTS_REDIS_URL is not set: workers consume from Redis"), 2)
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    consumer = name or f"{socket.gethostname()}-{os.getpid()}"
    try:
        settings.require_llm_config()
        asyncio.run(_work(settings, consumer))
    except PlatformError as exc:
        _fail(exc)


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
