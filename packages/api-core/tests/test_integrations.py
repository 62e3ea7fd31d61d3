"""Ready-made health checks and Redis instrumentation against real services."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import create_async_engine

from api_core import HealthRegistry, database_check, redis_check
from api_core.telemetry import instrument_redis
from platform_core.redis import RedisSettings, create_redis
from platform_core.testing.services import free_port


async def test_database_and_redis_checks(postgres_url: str, redis_url: str) -> None:
    engine = create_async_engine(postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    client = create_redis(RedisSettings(url=redis_url))
    dead = create_redis(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", retry_attempts=0))
    registry = HealthRegistry(default_timeout=5)
    registry.add("postgres", database_check(engine))
    registry.add("redis", redis_check(client))
    registry.add("cache", redis_check(dead), required=False)
    report = await registry.run()
    await engine.dispose()
    await client.aclose()
    await dead.aclose()
    checks = {c.name: c for c in report.checks}
    assert checks["postgres"].healthy
    assert checks["redis"].healthy
    assert not checks["cache"].healthy
    assert checks["cache"].error is not None
    assert "DependencyUnavailableError" in checks["cache"].error
    assert report.status == "degraded"


async def test_redis_commands_get_spans(redis_url: str, redis_key_prefix: str) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Another test may have instrumented redis process-wide; take it over for this test and
    # put the process-wide instrumentation back afterwards.
    already = RedisInstrumentor().is_instrumented_by_opentelemetry
    if already:
        RedisInstrumentor().uninstrument()
    instrument_redis(tracer_provider=provider)
    try:
        client = create_redis(RedisSettings(url=redis_url))
        with provider.get_tracer("t").start_as_current_span("parent"):
            await client.set(f"{redis_key_prefix}k", "v")
        await client.aclose()
    finally:
        RedisInstrumentor().uninstrument()
        if already:
            RedisInstrumentor().instrument()
    names = [s.name for s in exporter.get_finished_spans()]
    assert "SET" in names
    span = next(s for s in exporter.get_finished_spans() if s.name == "SET")
    assert span.attributes is not None
    assert span.attributes.get("db.system") == "redis"
    assert span.parent is not None
    assert trace.get_current_span() is trace.INVALID_SPAN
