"""The :class:`Spine`: pulls events from a backend and dispatches them to organs."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from necrostack import _tracing
from necrostack.backends.base import Backend
from necrostack.errors import OrganValidationError
from necrostack.event import CAUSATION_ID, TRACEPARENT, TRACESTATE, Event
from necrostack.organ import Organ
from platform_core.logging import get_logger

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["Spine"]

_log = get_logger("necrostack.spine")
# Checked before each "event handled" line: building a structured event that a level filter
# then drops costs more than the whole dispatch of a no-op handler.
_stdlib_log = logging.getLogger("necrostack.spine")
_INFO = logging.INFO
_clock = time.monotonic
_INHERITED = (TRACEPARENT, TRACESTATE)
_PLAIN_RESULTS = (Event, list, tuple)


def _validate(organ: object) -> Organ:
    if not isinstance(organ, Organ):
        raise OrganValidationError(
            repr(organ), f"expected an Organ instance, got {type(organ).__name__}"
        )
    listens = organ.listens_to
    if not isinstance(listens, list | tuple):
        raise OrganValidationError(
            organ.name, f"listens_to must be a list of event-type strings, got {listens!r}"
        )
    bad = [item for item in listens if not isinstance(item, str)]
    if bad:
        raise OrganValidationError(
            organ.name, f"listens_to must hold only strings; not strings: {bad!r}"
        )
    return organ


def _as_events(result: object, organ: Organ) -> list[Event]:
    # handlers are user code: check what really came back
    if result is None:
        return []
    if isinstance(result, Event):
        return [result]
    if isinstance(result, Sequence) and not isinstance(result, str | bytes):
        events = list(result)
        if all(isinstance(item, Event) for item in events):
            return events
    raise TypeError(
        f"organ {organ.name!r} returned {type(result).__name__}; "
        "handle() must return an Event, a sequence of Events or None"
    )


def _with_lineage(child: Event, parent: Event, *, traced: bool = False) -> Event:
    """Fill the causation id and trace context from ``parent`` where ``child`` has none.

    When ``traced``, the trace context is left out: the child is stamped when it is enqueued,
    inside the handle span, so its trace continues from that span (parent and child).
    """
    missing = {CAUSATION_ID: parent.id} if CAUSATION_ID not in child.metadata else {}
    if not traced:
        missing.update(
            {
                k: parent.metadata[k]
                for k in _INHERITED
                if k in parent.metadata and k not in child.metadata
            }
        )
    if not missing:
        return child
    return child.model_copy(update={"metadata": {**child.metadata, **missing}})


class Spine:
    """Dispatches each pulled event to every organ listening to its type, in order.

    The Spine keeps no queue: every event waits in the backend. After all handlers of an
    event ran, the events they returned are enqueued and the event is acked. If a handler
    raises, the error is logged with the event and organ, nothing it or its siblings returned
    is enqueued, and the event is nacked so the backend's retry policy decides what follows.

    With a tracer provider installed (and ``opentelemetry-api`` importable), each event is
    handled inside a CONSUMER span ``necrostack handle <event_type>`` that continues the trace
    in the event's metadata, and the events the handlers return are published from inside it.

    Args:
        organs: The handlers, validated here (``listens_to`` must hold only strings).
        backend: Where events come from and go to.
        max_steps: Most events one :meth:`run` handles; one more raises
            ``RuntimeError("Max steps exceeded")``.
        poll_timeout: Seconds each ``pull`` waits; bounds how fast :meth:`stop` is noticed.

    Raises:
        OrganValidationError: an organ is not an :class:`Organ` or has a bad ``listens_to``.
    """

    def __init__(
        self,
        organs: Iterable[Organ],
        backend: Backend,
        max_steps: int = 10_000,
        *,
        poll_timeout: float = 0.5,
    ) -> None:
        self.organs: tuple[Organ, ...] = tuple(_validate(o) for o in organs)
        table = {
            t: tuple(o for o in self.organs if t in o.listens_to)
            for t in {t for o in self.organs for t in o.listens_to}
        }
        self._routes: Mapping[str, tuple[Organ, ...]] = MappingProxyType(table)
        # A mappingproxy's get() looks the dict's get() up and calls it on every call; the
        # dispatch path uses the dict's own (read-only by convention: nothing mutates it).
        self._route = table.get
        self.backend = backend
        self.max_steps = max_steps
        self.poll_timeout = poll_timeout
        self.steps = 0
        self._stopping = False

    def routes(self, event_type: str) -> tuple[Organ, ...]:
        """The organs that handle ``event_type``, in registration order."""
        return self._routes.get(event_type, ())

    def stop(self) -> None:
        """Ask :meth:`run` to return once the event in hand is handled and acked.

        A stop asked before :meth:`run` begins makes that run return at once; the request is
        cleared when a run returns, so the spine can be run again.
        """
        self._stopping = True

    async def run(
        self, start_event: Event | None = None, *, until_idle: float | None = None
    ) -> int:
        """Enqueue ``start_event`` (if given) and dispatch until stopped.

        Args:
            start_event: An event to enqueue first.
            until_idle: Return when the backend yields nothing for this many seconds; run
                until :meth:`stop` when ``None``.

        Returns:
            How many events this call handled.

        Raises:
            RuntimeError: ``"Max steps exceeded"`` when more than ``max_steps`` events arrive.
        """
        try:
            return await self._run(start_event, until_idle)
        finally:
            self._stopping = False

    async def _run(self, start_event: Event | None, until_idle: float | None) -> int:
        self.steps = 0
        backend = self.backend
        if start_event is not None:
            await backend.enqueue(start_event)
        pull, enqueue, ack = backend.pull, backend.enqueue, backend.ack
        route, logs_info = self._route, _stdlib_log.isEnabledFor
        # Checked once per run: without a tracer provider no span work happens per event.
        tracer = _tracing.active_tracer()
        poll, clock = self.poll_timeout, _clock
        # The first pull of an empty spell may wait the whole spell (capped by poll_timeout);
        # only later pulls of the same spell need the clock arithmetic.
        first_wait = poll if until_idle is None else max(0.0, min(poll, until_idle))
        idle_since = 0.0  # with until_idle: when the current empty spell began
        in_spell = False
        # The body of dispatch(), inlined: the coroutine it costs per event is a large share of
        # the whole dispatch of a cheap handler. Keep the two in step (tests cover both).
        while not self._stopping:
            if until_idle is None:
                event = await pull(poll)
            elif not in_spell:
                in_spell, idle_since = True, clock()
                event = await pull(first_wait)
            else:
                event = await pull(max(0.0, min(poll, until_idle - (clock() - idle_since))))
            if event is None:
                if until_idle is not None and clock() - idle_since >= until_idle:
                    break
                continue
            if self.steps >= self.max_steps:
                raise RuntimeError("Max steps exceeded")
            self.steps += 1
            in_spell = False
            organs = route(event.event_type, ())
            if not organs:
                await ack(event)
                continue
            if tracer is not None:
                await self._dispatch_traced(tracer, event, organs)
                continue
            log_each = logs_info(_INFO)
            emitted: list[Event] | None = None
            for organ in organs:
                try:
                    result = organ.handle(event)
                    produced = None if result is None else await _produced(result, organ, event)
                except Exception as exc:
                    await self._failed(event, organ, exc)
                    break
                if log_each:
                    _log_handled(event, organ, produced)
                if produced:
                    emitted = produced if emitted is None else [*emitted, *produced]
            else:
                if emitted:
                    for new in emitted:
                        await enqueue(new)
                await ack(event)
        return self.steps

    async def dispatch(self, event: Event) -> list[Event]:
        """Run every listening organ on ``event``, then enqueue their events and ack.

        :meth:`run` does the same for each event it pulls, with this body inlined (so
        overriding this method does not change what :meth:`run` does).

        Returns:
            The events enqueued (empty when a handler raised and the event was nacked).
        """
        tracer = _tracing.active_tracer()
        if tracer is not None:
            organs = self._route(event.event_type, ())
            if organs:
                return await self._dispatch_traced(tracer, event, organs)
        log_each = _stdlib_log.isEnabledFor(_INFO)
        emitted: list[Event] = []
        for organ in self._route(event.event_type, ()):
            try:
                result = organ.handle(event)
                produced = None if result is None else await _produced(result, organ, event)
            except Exception as exc:
                await self._failed(event, organ, exc)
                return []
            if log_each:
                _log_handled(event, organ, produced)
            if produced:
                emitted.extend(produced)
        for new in emitted:
            await self.backend.enqueue(new)
        await self.backend.ack(event)
        return emitted

    async def _dispatch_traced(
        self, tracer: Tracer, event: Event, organs: tuple[Organ, ...]
    ) -> list[Event]:
        """:meth:`dispatch` inside a CONSUMER span continuing the event's trace; the events
        the handlers return are published (PRODUCER spans) from inside it."""
        log_each = _stdlib_log.isEnabledFor(_INFO)
        emitted: list[Event] = []
        with _tracing.handling(tracer, event, organs) as span:
            for organ in organs:
                try:
                    result = organ.handle(event)
                    produced = (
                        None
                        if result is None
                        else await _produced(result, organ, event, traced=True)
                    )
                except Exception as exc:
                    _tracing.record_failure(span, organ, exc)
                    await self._failed(event, organ, exc)
                    return []
                if log_each:
                    _log_handled(event, organ, produced)
                if produced:
                    emitted.extend(produced)
            enqueue = self.backend.enqueue
            sent = [await _tracing.enqueue_traced(tracer, enqueue, new) for new in emitted]
            await self.backend.ack(event)
        return sent

    async def _failed(self, event: Event, organ: Organ, exc: Exception) -> None:
        _log.exception(
            "handler failed",
            event_id=event.id,
            event_type=event.event_type,
            organ=organ.name,
            error=repr(exc),
        )
        await self.backend.nack(event, exc)


async def _produced(
    result: object, organ: Organ, parent: Event, *, traced: bool = False
) -> list[Event] | None:
    """What a handler's non-``None`` result means: its events, with lineage filled in."""
    if not isinstance(result, _PLAIN_RESULTS) and inspect.isawaitable(result):
        result = await result
        if result is None:
            return None
    events = _as_events(result, organ)
    return [_with_lineage(e, parent, traced=traced) for e in events] if events else None


def _log_handled(event: Event, organ: Organ, produced: list[Event] | None) -> None:
    _log.info(
        "event handled",
        event_id=event.id,
        event_type=event.event_type,
        organ=organ.name,
        emitted=len(produced) if produced else 0,
    )
