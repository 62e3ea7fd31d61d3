"""Calling one handler under its guards: a thread for plain handlers, a timeout for any."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from necrostack._threads import HandlerThreads
from necrostack.errors import HandlerTimeoutError, OrganValidationError
from necrostack.event import CAUSATION_ID, TRACEPARENT, TRACESTATE, Event
from necrostack.organ import Organ

__all__ = ["Plan", "as_events", "call", "plan_for", "produced", "validate_organ"]

_INHERITED = (TRACEPARENT, TRACESTATE)
_PLAIN_RESULTS = (Event, list, tuple)


@dataclass(frozen=True, slots=True)
class Plan:
    """How the Spine calls one organ."""

    organ: Organ
    handle: Callable[[Event], Any]
    is_async: bool
    timeout: float | None
    keep_going: bool

    @property
    def fast(self) -> bool:
        """An ``async`` handler without a timeout: awaited directly on the loop."""
        return self.is_async and self.timeout is None


def validate_organ(organ: object) -> Organ:
    """Check that ``organ`` is an :class:`Organ` with a well-formed configuration."""
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
    if organ.on_failure not in ("stop", "continue"):
        raise OrganValidationError(
            organ.name, f"on_failure must be 'stop' or 'continue', got {organ.on_failure!r}"
        )
    timeout = organ.timeout
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise OrganValidationError(
            organ.name, f"timeout must be a positive number of seconds, got {timeout!r}"
        )
    return organ


def plan_for(organ: Organ, default_timeout: float | None) -> Plan:
    """The :class:`Plan` of ``organ`` given the Spine's default handler timeout."""
    handle = organ.handle
    return Plan(
        organ=organ,
        handle=handle,
        is_async=inspect.iscoroutinefunction(handle),
        timeout=organ.timeout if organ.timeout is not None else default_timeout,
        keep_going=organ.on_failure == "continue",
    )


async def call(plan: Plan, event: Event, threads: HandlerThreads) -> Any:
    """Run the organ's handler on ``event`` and return what it returned (awaited).

    A plain handler runs on ``threads``; cancelling this coroutine abandons it there.

    Raises:
        HandlerTimeoutError: the handler ran past the plan's timeout.
    """
    timeout = plan.timeout
    if timeout is None:
        if plan.is_async:
            return await plan.handle(event)
        return await _awaited(await threads.submit(plan.handle, event))
    try:
        async with asyncio.timeout(timeout) as scope:
            if plan.is_async:
                return await plan.handle(event)
            return await _awaited(await threads.submit(plan.handle, event))
    except TimeoutError as exc:
        if scope.expired():
            raise HandlerTimeoutError(plan.organ.name, timeout) from exc
        raise


async def _awaited(result: Any) -> Any:
    if not isinstance(result, _PLAIN_RESULTS) and inspect.isawaitable(result):
        return await result
    return result


def as_events(result: object, organ: Organ) -> list[Event]:
    """The events in a handler's result; anything else is the handler's error."""
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


def with_lineage(child: Event, parent: Event, *, traced: bool = False) -> Event:
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
    copy = child.model_copy(update={"metadata": {**child.metadata, **missing}})
    private = copy.__pydantic_private__
    if private and private.get("_size_bound") is not None:  # keep the size bound true
        private["_size_bound"] += sum(6 * (len(k) + len(v)) + 6 for k, v in missing.items())
    return copy


async def produced(
    result: object, organ: Organ, parent: Event, *, traced: bool = False
) -> list[Event] | None:
    """What a handler's non-``None`` result means: its events, with lineage filled in."""
    if not isinstance(result, _PLAIN_RESULTS) and inspect.isawaitable(result):
        result = await result
        if result is None:
            return None
    events = as_events(result, organ)
    return [with_lineage(e, parent, traced=traced) for e in events] if events else None
