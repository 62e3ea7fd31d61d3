"""Telemetry with the SDK's in-memory exporters (properties 10-11 of the seed)."""

from __future__ import annotations

import logging

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Request
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from api_core import ApiSettings, HealthRegistry, create_app
from api_core.telemetry import (
    extract_trace_context,
    inject_trace_context,
    instrument_httpx_client,
    instrument_sqlalchemy,
    setup_telemetry,
    traced,
    use_trace_context,
)
from platform_core.logging import get_logger


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


@traced
def add(a: int, b: int) -> int:
    return a + b


@traced(name="custom.fail", attributes={"component": "billing"})
async def fail() -> None:
    raise ValueError("bad input")


async def test_traced_sync_and_async(spans: InMemorySpanExporter) -> None:
    assert add(1, 2) == 3
    with pytest.raises(ValueError, match="bad input"):
        await fail()
    found = by_name(spans)
    assert f"{__name__}.add" in found
    failed = found["custom.fail"]
    assert failed.attributes is not None
    assert failed.attributes["component"] == "billing"
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]


router = APIRouter()


@router.get("/echo-traceparent")
async def echo(request: Request) -> dict[str, str | None]:
    return {"traceparent": request.headers.get("traceparent")}


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"id": add(item_id, 0)}


async def test_outbound_httpx_calls_carry_the_trace(spans: InMemorySpanExporter) -> None:
    app = create_app(ApiSettings.load(), routers=[router], instrument=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        instrument_httpx_client(client)
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            resp = await client.get("/echo-traceparent")
    _, trace_id, parent_id, _ = resp.json()["traceparent"].split("-")
    client_span = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT)
    assert client_span.parent is not None
    assert client_span.parent.span_id == caller.get_span_context().span_id
    assert int(trace_id, 16) == caller.get_span_context().trace_id
    assert int(parent_id, 16) == client_span.context.span_id


async def test_server_spans_use_route_templates_and_skip_health(
    spans: InMemorySpanExporter,
) -> None:
    app = create_app(ApiSettings.load(), routers=[router])
    with trace.get_tracer("test").start_as_current_span("remote caller") as caller:
        headers = dict(inject_trace_context({}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        assert (await client.get("/items/7", headers=headers)).status_code == 200
        await client.get("/health/live")
        await client.get("/health/ready?verbose=1")
    finished = spans.get_finished_spans()
    server = next(s for s in finished if s.kind is SpanKind.SERVER)
    assert server.name == "GET /items/{item_id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/items/{item_id}"
    assert server.parent is not None
    assert server.parent.span_id == caller.get_span_context().span_id
    inner = by_name(spans)[f"{__name__}.add"]
    assert inner.parent is not None
    assert inner.context.trace_id == server.context.trace_id
    assert not any("/health" in s.name for s in finished)


async def test_trace_context_crosses_an_event_metadata_dict(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test")
    metadata: dict[str, object] = {"source": "orders"}
    with tracer.start_as_current_span("emit") as producer:
        inject_trace_context(metadata)
    assert str(metadata["traceparent"]).startswith("00-")
    # ... the event travels through a bus as JSON; the consumer restores the context:
    with use_trace_context(metadata), tracer.start_as_current_span("handle") as consumer:
        pass
    assert consumer.parent is not None  # type: ignore[attr-defined]
    assert consumer.parent.span_id == producer.get_span_context().span_id  # type: ignore[attr-defined]
    assert consumer.get_span_context().trace_id == producer.get_span_context().trace_id
    assert trace.get_current_span(extract_trace_context({})) is trace.INVALID_SPAN


async def test_log_lines_carry_trace_ids(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    log = get_logger("api_core.tests")
    tracer = trace.get_tracer("test")
    with caplog.at_level(logging.INFO), tracer.start_as_current_span("work") as span:
        log.info("inside span")
    ctx = span.get_span_context()
    record = next(r.msg for r in caplog.records if isinstance(r.msg, dict))
    assert record["trace_id"] == format(ctx.trace_id, "032x")
    assert record["span_id"] == format(ctx.span_id, "016x")


def test_sqlalchemy_statements_get_spans(spans: InMemorySpanExporter) -> None:
    engine = sa.create_engine("sqlite://")
    instrument_sqlalchemy(engine)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    engine.dispose()
    db_spans = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert db_spans
    assert db_spans[0].attributes is not None
    assert db_spans[0].attributes.get("db.system") == "sqlite"


def test_every_engine_of_the_process_can_be_instrumented_once(
    spans: InMemorySpanExporter,
) -> None:
    engines = [sa.create_engine("sqlite://") for _ in range(2)]
    for engine in engines:
        instrument_sqlalchemy(engine)
        instrument_sqlalchemy(engine)  # idempotent: still one span per statement
    for n, engine in enumerate(engines):
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT {n + 40}"))
        engine.dispose()
    statements = [
        str((s.attributes or {}).get("db.statement"))
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.CLIENT
    ]
    assert sorted(statements) == ["SELECT 40", "SELECT 41"]


def test_setup_telemetry_resources_and_flush_on_shutdown() -> None:
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    settings = ApiSettings.load(service_name="orders", service_version="2.3.4")
    tel = setup_telemetry(settings, span_exporter=exporter, metric_reader=reader, set_global=False)
    assert tel.tracer_provider is not None
    with tel.tracer_provider.get_tracer("t").start_as_current_span("batched"):
        pass
    assert exporter.get_finished_spans() == ()  # still in the batch processor
    tel.shutdown()
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "orders"
    assert span.resource.attributes["service.version"] == "2.3.4"
    tel.shutdown()


def test_setup_telemetry_disabled_creates_nothing() -> None:
    tel = setup_telemetry(ApiSettings.load(), set_global=False)
    assert not tel.enabled
    tel.shutdown()


async def test_health_metrics_record_latency_and_status_changes() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    registry = HealthRegistry(meter_provider=provider)
    healthy = True

    async def flip() -> bool:
        return healthy

    registry.add("db", flip)
    await registry.run()
    healthy = False
    await registry.run()
    data = reader.get_metrics_data()
    assert data is not None
    metrics_by_name = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    duration = metrics_by_name["health.check.duration"]
    assert sum(p.count for p in duration.data.data_points) == 2  # type: ignore[union-attr]
    changes = metrics_by_name["health.check.status_changes"]
    (point,) = changes.data.data_points  # type: ignore[union-attr]
    assert point.value == 1
    assert point.attributes == {"check": "db", "status": "fail"}
    provider.shutdown()


async def test_http_server_metrics_are_recorded() -> None:
    from fastapi import FastAPI

    from api_core.telemetry import instrument_app

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    app = FastAPI()
    app.include_router(router)
    instrument_app(app, meter_provider=provider, excluded_paths=["/health/live"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        await client.get("/items/1")
        await client.get("/items/2")
    data = reader.get_metrics_data()
    assert data is not None
    durations = [
        m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name in ("http.server.request.duration", "http.server.duration")
    ]
    assert durations
    points = durations[0].data.data_points  # type: ignore[union-attr]
    assert sum(p.count for p in points) == 2
    # Low-cardinality: both requests land on the route template, not the raw paths.
    routes = {p.attributes.get("http.route") or p.attributes.get("http.target") for p in points}
    assert routes == {"/items/{item_id}"}
    provider.shutdown()
