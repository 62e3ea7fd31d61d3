"""The :class:`Organ`: a handler that listens to event types and may emit new events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sequence
from typing import ClassVar, Literal, TypeAlias

from necrostack.event import Event

__all__ = ["FailurePolicy", "HandlerResult", "Organ"]

HandlerResult: TypeAlias = Event | Sequence[Event] | None
"""What a handler returns: one event, several, or none (also as an awaitable)."""

FailurePolicy: TypeAlias = Literal["stop", "continue"]
"""What a handler's failure does to the other handlers of the same event."""


class Organ(ABC):
    """Base class of handlers.

    Subclasses set ``listens_to`` to the event types they handle and implement
    :meth:`handle`, either as a plain or an ``async`` method. ``listens_to`` is checked by
    the :class:`~necrostack.Spine` when the organ is registered. A plain ``def handle`` runs
    in the Spine's bounded thread pool, never on the event loop, so it may block.

    Attributes:
        timeout: Seconds one call of :meth:`handle` may take (``None``: the Spine's
            ``handler_timeout``). An ``async`` handler past it is cancelled; a plain one is
            abandoned in its thread and reported. Either way the event is nacked with a
            :class:`~necrostack.HandlerTimeoutError`.
        on_failure: ``"stop"`` (default): when this handler fails, the organs after it do
            not run for this event. ``"continue"``: they still run. In both cases the event
            is nacked and nothing the handlers returned is enqueued.

    Args:
        name: How logs name this organ; the class name when omitted.

    Example:
        >>> class Greeter(Organ):
        ...     listens_to = ["HELLO"]
        ...     def handle(self, event: Event) -> Event:
        ...         return Event(event_type="GREETED", payload={"to": event.payload["name"]})
    """

    listens_to: ClassVar[list[str]] = []
    timeout: float | None = None
    on_failure: FailurePolicy = "stop"

    def __init__(self, name: str | None = None) -> None:
        self.name: str = name if name is not None else type(self).__name__

    @abstractmethod
    def handle(self, event: Event) -> HandlerResult | Awaitable[HandlerResult]:
        """Handle ``event`` and return the events it causes.

        Args:
            event: An event whose type is in ``listens_to``.

        Returns:
            An event, a sequence of events, ``None``, or an awaitable of one of these.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, listens_to={self.listens_to!r})"
