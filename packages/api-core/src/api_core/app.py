"""``create_app``: the FastAPI factory every service in the platform starts from."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api_core.health import HealthRegistry, health_router
from api_core.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from api_core.problems import install_problem_handlers
from api_core.settings import ApiSettings
from platform_core.logging import configure_logging

__all__ = ["create_app"]

HEALTH_PATHS = ("/health/live", "/health/ready")


def create_app(
    settings: ApiSettings | None = None,
    *,
    health: HealthRegistry | None = None,
    routers: Iterable[APIRouter] = (),
    instrument: bool = True,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """Build a FastAPI app with the platform's wiring.

    The app has: ``/docs`` (Swagger UI) and ``/redoc`` served from assets shipped inside
    api-core, so they work offline (``docs_url=None``/``redoc_url=None`` turn them off);
    RFC 9457 problem details for HTTP, validation, filter and unhandled errors;
    a request id on every request and log line; a request body limit (413, chunked bodies
    included); CORS when origins are configured; ``/health/live`` and ``/health/ready``
    running the registry's checks; and OpenTelemetry server spans and metrics (route-template
    span names, health routes excluded) through the official FastAPI instrumentation.

    At startup (ASGI lifespan) logging is configured from ``log_level``/``log_format`` and,
    when ``telemetry.enabled``, :func:`~api_core.telemetry.setup_telemetry` installs OTLP
    export; at shutdown the exporters are flushed. A ``lifespan`` you pass runs inside.

    Args:
        settings: The service settings; ``ApiSettings.load()`` when omitted.
        health: Readiness checks; an empty registry using ``settings.health.timeout`` if omitted.
        routers: Routers to include.
        instrument: Set False to skip OpenTelemetry instrumentation.
        **fastapi_kwargs: Passed to :class:`fastapi.FastAPI` (``lifespan``, ``title``, ...).

    Returns:
        The app; ``app.state.settings`` and ``app.state.health`` hold the inputs.
    """
    settings = settings or ApiSettings.load()
    health = health or HealthRegistry(default_timeout=settings.health.timeout)
    fastapi_kwargs["lifespan"] = _lifespan(settings, fastapi_kwargs.get("lifespan"))
    fastapi_kwargs.setdefault("title", settings.service_name)
    fastapi_kwargs.setdefault("version", settings.service_version)
    fastapi_kwargs.setdefault("debug", settings.debug)
    # FastAPI's own /docs and /redoc load from a CDN; serve the copies shipped in api-core.
    docs_url = fastapi_kwargs.pop("docs_url", "/docs")
    redoc_url = fastapi_kwargs.pop("redoc_url", "/redoc")
    oauth2_url = fastapi_kwargs.pop("swagger_ui_oauth2_redirect_url", "/docs/oauth2-redirect")
    app = FastAPI(docs_url=None, redoc_url=None, **fastapi_kwargs)
    app.state.settings = settings
    app.state.health = health

    install_problem_handlers(app)
    from api_core.web.docs import install_docs

    install_docs(app, docs_url=docs_url, redoc_url=redoc_url, oauth2_redirect_url=oauth2_url)
    app.include_router(health_router(health))
    for router in routers:
        app.include_router(router)

    # Added innermost first: the request id wraps everything so even 413s and CORS
    # rejections carry it.
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.max_body_size)
    if settings.cors.allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors.allow_origins,
            allow_methods=settings.cors.allow_methods,
            allow_headers=settings.cors.allow_headers,
            allow_credentials=settings.cors.allow_credentials,
            max_age=settings.cors.max_age,
        )
    app.add_middleware(RequestIdMiddleware, header=settings.request_id_header)
    if instrument:
        from api_core.telemetry.http import instrument_app

        instrument_app(app, excluded_paths=HEALTH_PATHS)
    return app


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def _freeze_startup_heap(settings: ApiSettings) -> None:
    """Collect once, then freeze what survived: modules, app, pools and caches live as long
    as the process, and a full collection would otherwise walk them all (tens of ms, seen
    as a latency spike on every request in flight). Then collect the youngest generation
    every ``gc_young_threshold`` allocations instead of every 700."""
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_young_threshold, middle, oldest)


def _lifespan(settings: ApiSettings, inner: Lifespan | None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        from api_core.telemetry.setup import setup_telemetry

        configure_logging(settings.log_level, settings.log_format)
        telemetry = setup_telemetry(settings)
        app.state.telemetry = telemetry
        try:
            if inner is None:
                _freeze_startup_heap(settings)
                yield None
            else:
                async with inner(app) as state:
                    _freeze_startup_heap(settings)
                    yield state
        finally:
            telemetry.shutdown()

    return lifespan
