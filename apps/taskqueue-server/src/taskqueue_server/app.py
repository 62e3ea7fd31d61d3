"""The FastAPI application, built on :func:`api_core.create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import DataError

from api_core import HealthRegistry, create_app, problem_response
from platform_core.logging import get_logger
from taskqueue_server.api import keys, projects, tasks, webhooks, workers
from taskqueue_server.errors import (
    AuthenticationError,
    IdempotencyInProgressError,
    RateLimitedError,
    TaskQueueServerError,
)
from taskqueue_server.mcp import mount_mcp
from taskqueue_server.migrate import upgrade
from taskqueue_server.runtime import Runtime
from taskqueue_server.settings import ServerSettings
from taskqueue_server.web import install_web

__all__ = ["create_server_app"]

_log = get_logger(__name__)


async def _server_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaskQueueServerError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError | IdempotencyInProgressError):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="taskqueue"'
    return problem_response(
        request,
        exc.status,
        title=exc.title,
        detail=exc.message,
        type=exc.type,
        headers=headers,
        **exc.extra,
    )


async def _data_error(request: Request, exc: Exception) -> Response:
    # The database refused a value pydantic accepted (e.g. a NUL character in text on
    # PostgreSQL): the client's input is at fault, so answer 422, not 500.
    _log.info("database rejected a value", error=str(getattr(exc, "orig", exc))[:200])
    return problem_response(
        request,
        422,
        title="Value not storable",
        detail="a value in the request cannot be stored (e.g. a NUL character in text); "
        "remove it and retry",
    )


async def _store_bootstrap_key(runtime: Runtime, key: str) -> None:
    """Store ``TASKQUEUE_BOOTSTRAP_API_KEY`` unless it exists (the key itself is never logged)."""
    created = await runtime.api_keys.ensure(key, "bootstrap", setting="TASKQUEUE_BOOTSTRAP_API_KEY")
    _log.info(
        "bootstrap API key stored" if created else "bootstrap API key already present",
        setting="TASKQUEUE_BOOTSTRAP_API_KEY",
    )


def create_server_app(
    settings: ServerSettings | None = None,
    *,
    deliver: bool | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Build the Task Queue API.

    Args:
        settings: Server settings; read from ``TASKQUEUE_*`` when omitted.
        deliver: Run webhook delivery in this process; by default only without Redis (with
            Redis, run ``taskqueue-server deliver`` separately).
        migrate: Upgrade the database schema at start (then ``TASKQUEUE_BOOTSTRAP_API_KEY``,
            when set, is stored unless it exists).
    """
    settings = settings or ServerSettings.load()
    runtime = Runtime.create(settings)
    run_delivery = runtime.embedded if deliver is None else deliver

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # aiosqlite logs every statement with its parameters at DEBUG: task environments
        # (secret values too) would reach the logs.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        if settings.auth_disabled:
            _log.warning(
                "authentication is disabled: anyone who can reach the server can use it",
                setting="TASKQUEUE_AUTH_DISABLED",
            )
        if migrate:
            await upgrade(runtime.engine)
        if settings.bootstrap_api_key is not None:
            await _store_bootstrap_key(runtime, settings.bootstrap_api_key.get_secret_value())
        try:  # before serving: claims expire no lease until the clock has caught up
            await runtime.tick_clock()
        except Exception:  # the sweep loop keeps trying; readiness reports the database
            _log.exception("the service clock could not tick at start")
        runtime.start_background(deliver=run_delivery)
        _log.info(
            "taskqueue server started",
            database=runtime.engine.dialect.name,
            redis=settings.redis_url is not None,
            delivering_webhooks=run_delivery,
        )
        try:
            yield
        finally:
            await runtime.close()

    health = HealthRegistry(default_timeout=settings.health.timeout)
    health.add("database", runtime.check_database)
    app = create_app(
        settings,
        health=health,
        routers=[tasks.router, workers.router, projects.router, webhooks.router, keys.router],
        lifespan=lifespan,
        # Spans and metrics cost time on every request; record them only when exported.
        instrument=settings.telemetry.enabled,
        title="Task Queue API",
        version=settings.service_version,
    )
    app.state.runtime = runtime
    app.state.key_cache = {}
    app.state.key_reads = {}  # API key reads under way, shared (see api.deps)
    app.add_exception_handler(TaskQueueServerError, _server_error)
    app.add_exception_handler(DataError, _data_error)
    app.state.web = install_web(app, runtime, settings)
    mount_mcp(app)
    return app
