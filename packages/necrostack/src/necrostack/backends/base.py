"""The :class:`Backend` protocol: every queueing decision lives in a backend, none in the Spine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from necrostack.event import Event

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "Backend", "DeadLetter", "DeadLetterHook", "NackOutcome"]

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
"""The publish size limit of the built-in backends: an event's JSON form, in bytes."""

NackOutcome: TypeAlias = Literal["retry", "dead_letter"]
"""What a backend did with a nacked event."""


@dataclass(frozen=True)
class DeadLetter:
    """An event given up on after its last failed delivery.

    Attributes:
        event: The event.
        error: ``repr`` of the last exception, or why the deliveries ended without one (a
            consumer that crashed or stalled each time).
        deliveries: How many times it was delivered.
    """

    event: Event
    error: str
    deliveries: int


DeadLetterHook = Callable[[DeadLetter], Awaitable[None]]
"""A backend's ``on_dead_letter`` callback: awaited with each event the backend gives up on,
once it is dead-lettered, so the application can record the failure where users look (a job's
status, an alert). An exception it raises is logged, never propagated into the worker."""


@runtime_checkable
class Backend(Protocol):
    """Stores events and hands them out one at a time, with acknowledgement.

    The :class:`~necrostack.Spine` pulls an event, runs its handlers, enqueues what they
    returned, then calls :meth:`ack`; when a handler raises it calls :meth:`nack` instead and
    the backend applies its retry policy (retry later, or dead-letter). The built-in backends
    take an ``on_dead_letter`` :data:`DeadLetterHook` that hears of every event given up on.

    Optional shortcuts the Spine uses when a backend has them (both built-in backends do):
    ``pull_nowait()`` returns an event already in hand, or ``None``, without a coroutine;
    ``ack_nowait(event)`` records an ack without a coroutine, or returns ``False`` when the
    awaited :meth:`ack` is needed. A backend whose ack only clears bookkeeping may expose
    that bookkeeping as ``ack_work`` (a sized collection): while it is empty, the Spine
    skips acking a handled event (the in-memory backend's failure counts).
    """

    async def enqueue(self, event: Event) -> None:
        """Store ``event`` for a later :meth:`pull`."""
        ...

    async def pull(self, timeout: float = 1.0) -> Event | None:  # noqa: ASYNC109 - protocol API
        """Return the next event, or ``None`` when none arrived within ``timeout`` seconds."""
        ...

    async def ack(self, event: Event) -> None:
        """Mark ``event`` (returned by :meth:`pull`) as fully handled."""
        ...

    async def nack(self, event: Event, error: BaseException) -> NackOutcome | None:
        """Report that handling ``event`` failed with ``error``; retry or dead-letter it.

        Returns:
            ``"retry"`` or ``"dead_letter"`` (the built-in backends), or ``None`` when the
            backend does not say; the Spine's statistics count it accordingly.
        """
        ...

    async def close(self) -> None:
        """Flush outstanding work and release connections. Idempotent."""
        ...
