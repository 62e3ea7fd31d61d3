"""``@traced`` and W3C trace-context propagation through plain metadata dicts."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context

__all__ = ["extract_trace_context", "inject_trace_context", "traced", "use_trace_context"]

P = ParamSpec("P")
R = TypeVar("R")


@overload
def traced(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced(
    *, name: str | None = None, attributes: Mapping[str, Any] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a sync or async function inside a span (``module.qualname`` unless ``name``).

    An exception is recorded on the span (an ``exception`` event and ERROR status) and
    re-raised unchanged.

    Example:
        >>> @traced
        ... async def load(order_id: str) -> dict[str, str]: ...
        >>> @traced(name="pricing.compute", attributes={"pricing.model": "v2"})
        ... def compute() -> float: ...
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        span_name = name or f"{func.__module__}.{func.__qualname__}"
        attrs = dict(attributes or {})
        tracer = trace.get_tracer(func.__module__)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                with tracer.start_as_current_span(span_name, attributes=attrs):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with tracer.start_as_current_span(span_name, attributes=attrs):
                return func(*args, **kwargs)

        return wrapper

    return decorate(fn) if fn is not None else decorate


def inject_trace_context(metadata: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Write the current span's W3C ``traceparent`` (and ``tracestate``) into ``metadata``.

    Use it on a necrostack event's ``metadata`` before emitting, so the consumer's spans join
    the producer's trace. Returns ``metadata`` for chaining.
    """
    propagate.inject(metadata)
    return metadata


def extract_trace_context(metadata: Mapping[str, Any] | None) -> Context:
    """Read the trace context that :func:`inject_trace_context` wrote (empty if none)."""
    carrier = {k: str(v) for k, v in (metadata or {}).items() if isinstance(v, str)}
    return propagate.extract(carrier)


@contextmanager
def use_trace_context(metadata: Mapping[str, Any] | None) -> Iterator[Context]:
    """Make the context in ``metadata`` current for the block (spans started inside become
    children of the producer's span)."""
    ctx = extract_trace_context(metadata)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)
