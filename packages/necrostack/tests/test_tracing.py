"""OpenTelemetry spans: publish -> handle -> emitted event -> handle, as one parent/child chain.

The SDK's in-memory exporter is installed on the process-wide tracer provider (created if none
exists), as an application would with ``api_core.setup_telemetry``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from necrostack import TRACEPARENT, Backend, Event, InMemoryBackend, Organ, Spine

from .conftest import MakeBackend


class Order(Organ):
    listens_to: ClassVar[list[str]] = ["ORDER_PLACED"]

    def handle(self, event: Event) -> Event:
        return Event(event_type="ORDER_PAID", payload=event.payload)


class Ledger(Organ):
    listens_to: ClassVar[list[str]] = ["ORDER_PAID"]

    def __init__(self) -> None:
        super().__init__("ledger")
        self.seen: list[Event] = []

    async def handle(self, event: Event) -> None:
        self.seen.append(event)


class Broken(Organ):
    listens_to: ClassVar[list[str]] = ["BROKEN"]

    def handle(self, event: Event) -> None:
        raise ValueError("no such account")


def _one(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, f"{name}: {[s.name for s in exporter.get_finished_spans()]}"
    return found[0]


def _parent_of(child: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        child.parent is not None
        and child.parent.span_id == parent.context.span_id
        and child.context.trace_id == parent.context.trace_id
    )


async def _publish_and_run(backend: Backend, consumer: Backend, ledger: Ledger) -> ReadableSpan:
    """Enqueue ORDER_PLACED inside an application span; run a Spine until the ledger has it."""
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("POST /orders") as request:
        await backend.enqueue(Event(event_type="ORDER_PLACED", payload={"order": 7}))
    spine = Spine([Order(), ledger], consumer, poll_timeout=0.05)
    await spine.run(until_idle=0.5)
    assert request.get_span_context().is_valid
    return request  # type: ignore[return-value]


def _assert_chain(exporter: InMemorySpanExporter, request: ReadableSpan, ledger: Ledger) -> None:
    publish = _one(exporter, "necrostack publish ORDER_PLACED")
    handle = _one(exporter, "necrostack handle ORDER_PLACED")
    publish_child = _one(exporter, "necrostack publish ORDER_PAID")
    handle_child = _one(exporter, "necrostack handle ORDER_PAID")
    assert publish.kind is SpanKind.PRODUCER
    assert publish_child.kind is SpanKind.PRODUCER
    assert handle.kind is SpanKind.CONSUMER
    assert handle_child.kind is SpanKind.CONSUMER
    assert _parent_of(publish, request)
    assert _parent_of(handle, publish)
    assert _parent_of(publish_child, handle)
    assert _parent_of(handle_child, publish_child)
    (paid,) = ledger.seen
    assert paid.metadata[TRACEPARENT].split("-")[2] == format(publish_child.context.span_id, "016x")
    assert handle.attributes is not None
    assert handle.attributes["messaging.system"] == "necrostack"
    assert handle.attributes["necrostack.event_type"] == "ORDER_PLACED"
    assert list(handle.attributes["necrostack.organs"]) == ["Order"]  # type: ignore[arg-type]
    assert handle_child.attributes is not None
    assert handle_child.attributes["messaging.message.id"] == paid.id
    assert list(handle_child.attributes["necrostack.organs"]) == ["ledger"]  # type: ignore[arg-type]


async def test_memory_backend_publish_handle_and_emitted_events_form_one_chain(
    spans: InMemorySpanExporter,
) -> None:
    backend, ledger = InMemoryBackend(), Ledger()
    request = await _publish_and_run(backend, backend, ledger)
    _assert_chain(spans, request, ledger)


async def test_redis_backend_carries_the_trace_through_the_stream(
    spans: InMemorySpanExporter, make_backend: MakeBackend
) -> None:
    producer, consumer, ledger = make_backend(), make_backend(), Ledger()
    request = await _publish_and_run(producer, consumer, ledger)
    _assert_chain(spans, request, ledger)


async def test_redis_enqueue_many_gives_each_event_its_own_publish_span(
    spans: InMemorySpanExporter, make_backend: MakeBackend
) -> None:
    producer, consumer, ledger = make_backend(), make_backend(), Ledger()
    await producer.enqueue_many(Event(event_type="ORDER_PAID") for _ in range(3))
    await Spine([ledger], consumer, poll_timeout=0.05).run(until_idle=0.5)
    published = [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    handled = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert len(published) == len(handled) == len(ledger.seen) == 3
    assert len({s.context.trace_id for s in published}) == 3  # three root traces
    for handle in handled:
        assert any(_parent_of(handle, p) for p in published)


async def test_an_event_with_a_trace_context_is_not_stamped_again(
    spans: InMemorySpanExporter,
) -> None:
    backend = InMemoryBackend()
    traceparent = "00-" + "c" * 32 + "-" + "d" * 16 + "-01"
    await backend.enqueue(Event(event_type="ORDER_PAID", metadata={TRACEPARENT: traceparent}))
    ledger = Ledger()
    await Spine([ledger], backend).run(until_idle=0.05)
    assert ledger.seen[0].metadata[TRACEPARENT] == traceparent
    handle = _one(spans, "necrostack handle ORDER_PAID")
    assert format(handle.context.trace_id, "032x") == "c" * 32
    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER]


async def test_a_failing_handler_is_recorded_on_the_handle_span(
    spans: InMemorySpanExporter,
) -> None:
    backend = InMemoryBackend(max_deliveries=1)
    await Spine([Broken()], backend).run(Event(event_type="BROKEN"), until_idle=0.05)
    handle = _one(spans, "necrostack handle BROKEN")
    assert handle.status.status_code is StatusCode.ERROR
    (exception,) = [e for e in handle.events if e.name == "exception"]
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "ValueError"
    assert exception.attributes["necrostack.organ"] == "Broken"
    assert backend.dead_letters[0].event.event_type == "BROKEN"


async def test_dispatch_traces_like_run(spans: InMemorySpanExporter) -> None:
    backend, ledger = InMemoryBackend(), Ledger()
    spine = Spine([Order(), ledger], backend)
    emitted = await spine.dispatch(Event(event_type="ORDER_PLACED"))
    handle = _one(spans, "necrostack handle ORDER_PLACED")
    publish_child = _one(spans, "necrostack publish ORDER_PAID")
    assert _parent_of(publish_child, handle)
    assert emitted[0].metadata[TRACEPARENT].split("-")[2] == format(
        publish_child.context.span_id, "016x"
    )


_UNTRACED = """
import asyncio
from necrostack import TRACEPARENT, Event, InMemoryBackend, Organ, Spine
from necrostack._tracing import active_tracer

class Child(Organ):
    listens_to = ["P"]
    def handle(self, event):
        return Event(event_type="Q")

class Sink(Organ):
    listens_to = ["Q"]
    got = []
    def handle(self, event):
        self.got.append(event)

async def main():
    backend = InMemoryBackend()
    tp = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    parent = Event(event_type="P", metadata={TRACEPARENT: tp})
    spine = Spine([Child(), Sink()], backend)
    await spine.run(parent, until_idle=0.02)
    (child,) = Sink.got
    assert active_tracer() is None
    assert child.metadata[TRACEPARENT] == parent.metadata[TRACEPARENT], child.metadata
    print("untraced ok")

asyncio.run(main())
"""


def test_without_a_tracer_provider_nothing_is_traced_and_context_is_copied() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _UNTRACED], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "untraced ok" in done.stdout
