"""SQLAlchemy and Redis client spans through the official OpenTelemetry instrumentations."""

from __future__ import annotations

from typing import Any

__all__ = ["instrument_httpx", "instrument_redis", "instrument_sqlalchemy"]


def instrument_sqlalchemy(engine: Any, *, tracer_provider: Any = None) -> None:
    """Record a span per statement on ``engine`` (sync ``Engine`` or ``AsyncEngine``)."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    sync_engine = getattr(engine, "sync_engine", engine)
    SQLAlchemyInstrumentor().instrument(engine=sync_engine, tracer_provider=tracer_provider)


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
