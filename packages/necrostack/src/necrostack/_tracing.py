"""Optional OpenTelemetry spans: ``necrostack publish <type>`` and ``necrostack handle <type>``.

Tracing is on when ``opentelemetry-api`` is importable (extra ``necrostack[otel]``) and a real
tracer provider is installed (e.g. by ``api_core.setup_telemetry``). Otherwise every entry
point here returns at once, so the in-memory dispatch path stays as cheap as without tracing.
The W3C ``traceparent``/``tracestate`` travel in the event's ``metadata``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from necrostack.event import TRACEPARENT, Event

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from necrostack.organ import Organ

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # the necrostack[otel] extra is not installed: tracing stays off
    _otel: Any = None
else:
    _otel = trace
    if "OTEL_PYTHON_TRACER_PROVIDER" in os.environ:
        trace.get_tracer_provider()  # installs the provider the variable names

__all__ = [
    "PROVIDER_SLOT",
    "SYSTEM",
    "active_tracer",
    "enqueue_traced",
    "handling",
    "publishing",
    "publishing_many",
    "record_failure",
    "start_publish",
]

SYSTEM = "necrostack"
"""The ``messaging.system`` attribute of every span."""


class _NoOpenTelemetry:
    _TRACER_PROVIDER = None  # opentelemetry-api is not installed: tracing never turns on


class _AlwaysAsk:
    _TRACER_PROVIDER = True  # the global is not where expected: ask active_tracer() each time


PROVIDER_SLOT: Any = (
    _NoOpenTelemetry
    if _otel is None
    else _otel
    if hasattr(_otel, "_TRACER_PROVIDER")
    else _AlwaysAsk
)
"""``PROVIDER_SLOT._TRACER_PROVIDER is None`` while no tracer provider is installed.

Publish paths test it (a global and an attribute read) before calling
:func:`active_tracer` (a call costs a large share of an in-memory enqueue); a provider
installed later is seen at the next publish."""

_MISSING = object()
_tracer: Tracer | None = None


def active_tracer() -> Tracer | None:
    """necrostack's tracer once a tracer provider is installed; ``None`` until then."""
    if _tracer is not None:
        return _tracer
    # trace.get_tracer_provider() reads os.environ on every call until a provider is set,
    # which costs about as much as dispatching an in-memory event; the module global it
    # returns first is read directly (the public call is the fallback should it be renamed).
    if _otel is None or getattr(_otel, "_TRACER_PROVIDER", _MISSING) is None:
        return None
    return _activate()


def _activate() -> Tracer | None:
    global _tracer
    provider = getattr(_otel, "_TRACER_PROVIDER", _MISSING)
    if provider is _MISSING:
        provider = _otel.get_tracer_provider()
    if isinstance(provider, _otel.ProxyTracerProvider | _otel.NoOpTracerProvider):
        return None
    from importlib.metadata import version

    _tracer = _otel.get_tracer("necrostack", version("necrostack"))
    return _tracer


def _attributes(event: Event, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.type": operation,
        "messaging.message.id": event.id,
        "necrostack.event_type": event.event_type,
    }


def start_publish(tracer: Tracer, event: Event) -> tuple[Span, Event]:
    """Start a PRODUCER span for ``event`` (not made current) and stamp its context.

    Returns:
        The span (the caller ends it) and ``event`` with ``traceparent`` in its metadata.
    """
    span = tracer.start_span(
        f"necrostack publish {event.event_type}",
        kind=SpanKind.PRODUCER,
        attributes=_attributes(event, "publish"),
    )
    carrier = dict(event.metadata)
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return span, event.model_copy(update={"metadata": carrier})


@contextmanager
def publishing(tracer: Tracer, event: Event) -> Iterator[Event]:
    """A current PRODUCER span around storing ``event``; yields the event carrying its context.

    Exceptions raised inside are recorded on the span and re-raised.
    """
    span, stamped = start_publish(tracer, event)
    with trace.use_span(span, end_on_exit=True):
        yield stamped


@contextmanager
def publishing_many(tracer: Tracer, events: Sequence[Event]) -> Iterator[list[Event]]:
    """:func:`publishing` for a batch: one PRODUCER span per event without a trace context,
    ended when the block exits (an exception is recorded on each)."""
    stamped: list[Event] = []
    spans: list[Span] = []
    for event in events:
        if TRACEPARENT in event.metadata:
            stamped.append(event)
            continue
        span, event_with_context = start_publish(tracer, event)
        spans.append(span)
        stamped.append(event_with_context)
    try:
        yield stamped
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()


async def enqueue_traced(
    tracer: Tracer, enqueue: Callable[[Event], Awaitable[None]], event: Event
) -> Event:
    """Call ``enqueue(event)`` inside a publish span unless ``event`` already carries a trace
    context (the stamped event makes a tracing backend skip its own span).

    Returns:
        The event as enqueued.
    """
    if TRACEPARENT in event.metadata:
        await enqueue(event)
        return event
    with publishing(tracer, event) as stamped:
        await enqueue(stamped)
    return stamped


@contextmanager
def handling(tracer: Tracer, event: Event, organs: Sequence[Organ]) -> Iterator[Span]:
    """A current CONSUMER span for handling ``event``, child of the context in its metadata."""
    attributes = _attributes(event, "process")
    attributes["necrostack.organs"] = [organ.name for organ in organs]
    with tracer.start_as_current_span(
        f"necrostack handle {event.event_type}",
        context=propagate.extract(event.metadata),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        yield span


def record_failure(span: Span, organ: Organ, exc: BaseException) -> None:
    """Mark ``span`` failed by ``organ`` raising ``exc`` (the Spine catches it to nack)."""
    span.record_exception(exc, attributes={"necrostack.organ": organ.name})
    span.set_status(Status(StatusCode.ERROR, f"{organ.name}: {type(exc).__name__}"))
