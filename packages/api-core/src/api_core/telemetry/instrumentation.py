"""SQLAlchemy and Redis client spans through the official OpenTelemetry instrumentations."""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["instrument_httpx", "instrument_libraries", "instrument_redis", "instrument_sqlalchemy"]

_instrumented_engines: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument_sqlalchemy(
    engine: Any, *, tracer_provider: Any = None, meter_provider: Any = None
) -> None:
    """Record a span per statement on ``engine`` (sync ``Engine`` or ``AsyncEngine``).

    Works for every engine of the process (the instrumentor's own ``instrument(engine=...)``
    only acts on its first call) and is idempotent per engine. Spans go to the global tracer
    provider unless ``tracer_provider`` is given, even when it is installed afterwards.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter
    from opentelemetry.trace import get_tracer

    scope = "opentelemetry.instrumentation.sqlalchemy"
    sync_engine = getattr(engine, "sync_engine", engine)
    if sync_engine in _instrumented_engines:
        return
    tracer = get_tracer(scope, __version__, tracer_provider)
    connections = get_meter(scope, __version__, meter_provider).create_up_down_counter(
        name="db.client.connections.usage",
        unit="connections",
        description="The number of connections that are currently in the state described "
        "by the state attribute.",
    )
    EngineTracer(tracer, sync_engine, connections)  # type: ignore[no-untyped-call]
    _instrumented_engines.add(sync_engine)


def instrument_redis(*, tracer_provider: Any = None) -> None:
    """Record a span per Redis command for every client in the process (idempotent)."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=tracer_provider)


def instrument_httpx(*, tracer_provider: Any = None) -> None:
    """Propagate trace context and record client spans for every httpx client (idempotent)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=tracer_provider)


def instrument_libraries(*, tracer_provider: Any = None) -> None:
    """Instrument every httpx and Redis client of the process (idempotent).

    :func:`~api_core.telemetry.setup_telemetry` calls it when it installs global providers;
    SQLAlchemy engines are instrumented one by one with :func:`instrument_sqlalchemy`.
    """
    instrument_httpx(tracer_provider=tracer_provider)
    try:
        import redis  # noqa: F401 - only to know whether the client library is installed
    except ImportError:  # no Redis client in this process: nothing to instrument
        return
    instrument_redis(tracer_provider=tracer_provider)
