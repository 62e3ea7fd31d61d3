"""The Spine's guarded handling path: timeouts, plain handlers on threads, tracing and
metrics, failures, the forced-shutdown nack and unknown event types.

:class:`Handling` is a mixin of :class:`~necrostack.Spine`, whose hot loop handles the plain
case (async handlers, no timeout, no providers) inline and comes here for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Literal

from necrostack import _metrics, _tracing
from necrostack._guard import Plan, call, produced
from necrostack._threads import HandlerThreads
from necrostack.backends.base import Backend
from necrostack.errors import HandlerTimeoutError, ShutdownTimeoutError
from necrostack.event import Event
from necrostack.organ import Organ
from necrostack.stats import Counters
from platform_core.logging import get_logger

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["Handling", "UnknownPolicy", "log_handled"]

_log = get_logger("necrostack.spine")
# Checked before each "event handled" line: building a structured event that a level filter
# then drops costs more than the whole dispatch of a no-op handler.
_stdlib_log = logging.getLogger("necrostack.spine")
_INFO = logging.INFO
_clock = time.monotonic
_NACK_BUDGET = 5.0  # seconds a nack at forced shutdown may take before the entry is left

UnknownPolicy = Literal["ack", "dead_letter"]


class Handling:
    """Mixin holding the Spine's guarded path; the state lives on the Spine."""

    backend: Backend
    shutdown_timeout: float
    unknown_events: UnknownPolicy
    _threads: HandlerThreads
    _counters: Counters
    _current: Plan | None

    async def _handle(
        self,
        event: Event,
        plans: tuple[Plan, ...],
        tracer: Tracer | None,
        meter: _metrics.Metrics | None,
    ) -> list[Event] | None:
        """Handle one event through the guarded path; ``None`` when it was nacked."""
        started = _clock()
        with contextlib.ExitStack() as stack:
            span = (
                stack.enter_context(_tracing.handling(tracer, event, tuple(p.organ for p in plans)))
                if tracer is not None
                else None
            )
            log_each = _stdlib_log.isEnabledFor(_INFO)
            emitted: list[Event] = []
            failed = False
            for plan in plans:
                self._current = plan
                try:
                    result = await call(plan, event, self._threads)
                    out = (
                        None
                        if result is None
                        else await produced(result, plan.organ, event, traced=tracer is not None)
                    )
                except Exception as exc:
                    await self._failed(event, plan, exc, span, first=not failed)
                    failed = True
                    if plan.keep_going:
                        continue
                    break
                if log_each:
                    log_handled(event, plan.organ, out)
                if out:
                    emitted.extend(out)
            self._current = None
            if failed:
                if meter is not None:
                    meter.handled(event.event_type, "failed", _clock() - started)
                return None
            if tracer is not None:
                enqueue = self.backend.enqueue
                emitted = [await _tracing.enqueue_traced(tracer, enqueue, e) for e in emitted]
            else:
                for new in emitted:
                    await self.backend.enqueue(new)
            await self.backend.ack(event)
        self._counters.row(event.event_type)[0] += 1
        if meter is not None:
            meter.handled(event.event_type, "handled", _clock() - started)
        return emitted

    async def _failed(
        self, event: Event, plan: Plan, exc: Exception, span: Span | None, *, first: bool
    ) -> None:
        """Log a handler's failure; the first failure of an event nacks it."""
        counters = self._counters
        if isinstance(exc, HandlerTimeoutError):
            counters.timed_out += 1
            if not plan.is_async:
                counters.abandoned += 1
                _log.error(
                    "handler abandoned after its timeout; its thread runs on",
                    event_id=event.id,
                    organ=plan.organ.name,
                    timeout_s=exc.seconds,
                    threads_busy=self._threads.busy,
                )
        _log.exception(
            "handler failed",
            event_id=event.id,
            event_type=event.event_type,
            organ=plan.organ.name,
            error=repr(exc),
        )
        if span is not None:
            _tracing.record_failure(span, plan.organ, exc)
        if first:
            outcome = await self.backend.nack(event, exc)
            counters.nacked(event.event_type, outcome)
            if outcome is not None and (meter := _metrics.active_metrics()) is not None:
                meter.outcome(event.event_type, "retried" if outcome == "retry" else outcome)

    async def _interrupted(self, event: Event) -> None:
        """The grace period ran out with ``event`` in hand: nack it, within a bound."""
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        plan = self._current
        name = plan.organ.name if plan is not None else "?"
        if plan is not None and not plan.is_async:
            self._counters.abandoned += 1
        error = ShutdownTimeoutError(name, self.shutdown_timeout)
        _log.error("shutdown grace period ran out", event_id=event.id, organ=name)
        try:
            async with asyncio.timeout(_NACK_BUDGET):
                outcome = await self.backend.nack(event, error)
            self._counters.nacked(event.event_type, outcome)
        except Exception as exc:  # the entry stays pending and is reclaimed later
            _log.error("nack at shutdown failed", event_id=event.id, error=repr(exc))

    async def _unknown(self, event: Event) -> None:
        counters = self._counters
        counters.unknown += 1
        seen = counters.unknown_types.get(event.event_type, 0)
        counters.unknown_types[event.event_type] = seen + 1
        if not seen:
            _log.warning(
                "no organ listens to this event type",
                event_type=event.event_type,
                event_id=event.id,
                action=self.unknown_events,
            )
        if self.unknown_events == "dead_letter":
            await self.backend.dead_letter(  # type: ignore[attr-defined]
                event, f"no organ listens to event type {event.event_type!r}"
            )
            counters.dead_lettered += 1
            counters.row(event.event_type)[3] += 1
        else:
            await self.backend.ack(event)


def log_handled(event: Event, organ: Organ, out: list[Event] | None) -> None:
    """Log one ``event handled`` line (callers check the INFO level first)."""
    _log.info(
        "event handled",
        event_id=event.id,
        event_type=event.event_type,
        organ=organ.name,
        emitted=len(out) if out else 0,
    )
