"""Optional OpenTelemetry metrics: event counters, a handling-latency histogram, and pending
and lag gauges per stream and consumer group.

Metrics are on when ``opentelemetry-api`` is importable (extra ``necrostack[otel]``) and a
real meter provider is installed (``metrics.set_meter_provider``); the Spine checks once per
run, so without one nothing is recorded per event.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, Protocol

_otel_metrics: Any
try:
    from opentelemetry import metrics as _otel_metrics
except ImportError:  # the necrostack[otel] extra is not installed: metrics stay off
    _otel_metrics = None

__all__ = ["Metrics", "StreamGauges", "active_metrics", "watch_streams"]


class StreamGauges(Protocol):
    """Something that knows the pending count and lag of its streams (a Redis backend)."""

    def gauge_values(self) -> Iterable[tuple[str, str, int, int | None]]:
        """``(stream, group, pending, lag)`` per stream, as last read."""
        ...


_watched: weakref.WeakSet[Any] = weakref.WeakSet()
_metrics: Metrics | None = None


class Metrics:
    """The instruments, created once per process on the installed meter provider."""

    def __init__(self, meter: Any) -> None:
        self.events = meter.create_counter(
            "necrostack.events", unit="{event}", description="Events by outcome and type"
        )
        self.duration = meter.create_histogram(
            "necrostack.handling.duration",
            unit="s",
            description="Time from pull to ack or nack of one event",
        )
        meter.create_observable_gauge(
            "necrostack.stream.pending",
            callbacks=[self._observe(2)],
            unit="{entry}",
            description="Entries delivered to the group and not yet acked",
        )
        meter.create_observable_gauge(
            "necrostack.stream.lag",
            callbacks=[self._observe(3)],
            unit="{entry}",
            description="Entries not yet delivered to the group",
        )

    @staticmethod
    def _observe(index: int) -> Any:
        from opentelemetry.metrics import Observation

        def callback(_options: Any) -> list[Any]:
            found = []
            for backend in list(_watched):
                for row in backend.gauge_values():
                    if row[index] is not None:
                        found.append(Observation(row[index], {"stream": row[0], "group": row[1]}))
            return found

        return callback

    def handled(self, event_type: str, outcome: str, seconds: float) -> None:
        """Record one event's outcome (``handled`` or ``failed``) and its handling time."""
        attributes = {"event_type": event_type, "outcome": outcome}
        self.events.add(1, attributes)
        self.duration.record(seconds, {"event_type": event_type})

    def outcome(self, event_type: str, outcome: str) -> None:
        """Count an outcome without a duration (``retried``, ``dead_lettered``, ``unknown``)."""
        self.events.add(1, {"event_type": event_type, "outcome": outcome})


def active_metrics() -> Metrics | None:
    """The instruments once a real meter provider is installed; ``None`` until then."""
    global _metrics
    if _metrics is not None:
        return _metrics
    if _otel_metrics is None:
        return None
    provider = _otel_metrics.get_meter_provider()
    if isinstance(provider, _otel_metrics.NoOpMeterProvider) or type(provider).__name__ == (
        "_ProxyMeterProvider"
    ):
        return None
    from importlib.metadata import version

    _metrics = Metrics(provider.get_meter("necrostack", version("necrostack")))
    return _metrics


def watch_streams(backend: StreamGauges) -> None:
    """Report ``backend``'s pending and lag through the gauges while it lives."""
    _watched.add(backend)
